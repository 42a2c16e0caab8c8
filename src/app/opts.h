/* app/opts — the options `synack serve` and `synack connect` share: the
 * TUN device and addresses, the capture, the control socket, and the knobs
 * (DESIGN.md §2) from --sysctl flags and a config file.
 *
 * A config file is sysctl.conf-style: one `name = value` a line, names as
 * in tcp_types.h (with or without "net.ipv4."), '#' or ';' start a comment:
 *
 *     # short TIME-WAIT for a lab
 *     net.ipv4.tcp_timewait_len = 5
 *     tcp_syn_retries = 3
 *
 * The file is applied first, then every --sysctl in order. */
#ifndef SYNACK_APP_OPTS_H
#define SYNACK_APP_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "app/rt.h"

#define OPTS_MAX_SYSCTL 64
#define OPTS_DEFAULT_TUN "synack0"
#define OPTS_DEFAULT_ADDR "10.77.0.1/24"

struct net_opts {
    struct rt_config rt;
    const char *config_path;
    const char *sysctl[OPTS_MAX_SYSCTL]; /* "name=value", pointing into argv */
    size_t nsysctl;
    const char *events_path;
    bool no_control;
    bool keepalive;        /* SO_KEEPALIVE on our connections */
    bool tcp_mss_set;      /* tcp_mss came from the user: do not derive it from the MTU */
    char control_path[108];
};

void net_opts_init(struct net_opts *o);
/* If argv[*i] is a shared option, consumes it with its values (advancing
 * *i to the last one used) and returns 1; returns 0 if it is not one;
 * -1 with a one-line reason in err if its value is bad. */
int net_opts_parse(struct net_opts *o, int argc, char **argv, int *i, char *err, size_t errlen);
/* Defaults (device, address, control path), the config file and the
 * --sysctl values, in that order; opens the events file. 0 or -1 (err). */
int net_opts_finish(struct net_opts *o, char *err, size_t errlen);
/* Closes the events file. */
void net_opts_free(struct net_opts *o);
/* The --help lines of the shared options. */
void net_opts_help(FILE *out);

/* "name=value" (value an integer >= 0) into c. 0 or -1 (err). */
int opts_sysctl_apply(struct tcp_config *c, const char *name_value, char *err, size_t errlen);
/* Applies a config file. 0 or -1 (err names the line). */
int opts_config_load(struct tcp_config *c, const char *path, char *err, size_t errlen);
/* A whole number in [min, max], nothing else. */
bool opts_parse_int(const char *text, long long min, long long max, long long *out);

#endif
