/* app/json — the little JSON the control socket speaks (JSON lines, one
 * object a line): a strict parser into a tree, and a growable text buffer
 * with a writer for the replies. Hostile input is a first-class case: depth
 * and size are bounded, every error is a message, never a crash. */
#ifndef SYNACK_APP_JSON_H
#define SYNACK_APP_JSON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    bool boolean;
    bool integral;  /* the number had no fraction or exponent and fits int64 */
    int64_t integer;
    double number;
    char *string;   /* STRING (NUL-terminated; embedded NULs are refused) */
    char *key;      /* member name when inside an object */
    struct json *child, *next; /* ARRAY / OBJECT members, in order */
};

#define JSON_MAX_DEPTH 32

/* Parses exactly one value (surrounding whitespace allowed). Returns NULL
 * with a one-line reason in err on any error. Free with json_free. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json *j);

/* Member of an object by name, or NULL (also when j is not an object). */
const struct json *json_get(const struct json *j, const char *key);
/* Typed member lookups: the member's value, or def if absent or mistyped. */
const char *json_get_str(const struct json *j, const char *key, const char *def);
int64_t json_get_int(const struct json *j, const char *key, int64_t def);
bool json_get_bool(const struct json *j, const char *key, bool def);
size_t json_count(const struct json *j); /* members of an array or object */

/* ---- Output ---- */
struct jbuf {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: everything after is dropped */
};

void jbuf_init(struct jbuf *b);
void jbuf_free(struct jbuf *b);
void jbuf_reset(struct jbuf *b);
void jbuf_add(struct jbuf *b, const char *data, size_t len);
void jbuf_puts(struct jbuf *b, const char *s);
void jbuf_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included, escaped per RFC 8259 §7. */
void jbuf_str(struct jbuf *b, const char *s);
/* Drops the first n bytes (consumed output). */
void jbuf_consume(struct jbuf *b, size_t n);

#endif
