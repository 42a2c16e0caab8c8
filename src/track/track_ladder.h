/* track/ladder — the ladder diagram of one connection from real traffic:
 * the originator on the left, the responder on the right, one arrow per
 * segment (tcpdump notation, relative sequence numbers), both sides'
 * inferred RFC 9293 states written beside the arrows where they change,
 * times relative to the first segment. Text, Mermaid or SVG. */
#ifndef SYNACK_TRACK_LADDER_H
#define SYNACK_TRACK_LADDER_H

#include <stdbool.h>
#include <stdio.h>

#include "track/track.h"

enum track_ladder_format {
    TRACK_LADDER_TEXT,
    TRACK_LADDER_MERMAID,
    TRACK_LADDER_SVG,
};

/* Parses "text", "mermaid", "svg"; -1 if unknown. */
int track_ladder_format_parse(const char *name);

struct track_ladder {
    struct track_segment_info *seg;
    size_t n, cap, max;  /* segments kept: at most max (0: 100000) */
    size_t dropped;      /* segments past max */
    bool have_conn;
    struct track_conn_info conn;
};

void track_ladder_init(struct track_ladder *l, size_t max);
void track_ladder_free(struct track_ladder *l);
/* Sink helpers: feed the tracker's segment and conn callbacks here. */
void track_ladder_add_segment(struct track_ladder *l, const struct track_segment_info *s);
void track_ladder_set_conn(struct track_ladder *l, const struct track_conn_info *c);

/* Draws it; returns 0, or -1 if no connection was recorded. */
int track_ladder_render(FILE *f, const struct track_ladder *l, enum track_ladder_format fmt);

#endif
