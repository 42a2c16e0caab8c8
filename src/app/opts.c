/* Shared options of serve and connect, sysctl assignments, config files. */
#include "app/opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/control.h"

void net_opts_init(struct net_opts *o)
{
    memset(o, 0, sizeof *o);
    rt_config_default(&o->rt);
}

bool opts_parse_int(const char *text, long long min, long long max, long long *out)
{
    if (!text || !*text || isspace((unsigned char)*text))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int opts_sysctl_apply(struct tcp_config *c, const char *name_value, char *err, size_t errlen)
{
    const char *eq = strchr(name_value, '=');
    char name[96];
    if (!eq || eq == name_value || (size_t)(eq - name_value) >= sizeof name) {
        snprintf(err, errlen, "'%s' is not name=value", name_value);
        return -1;
    }
    memcpy(name, name_value, (size_t)(eq - name_value));
    name[eq - name_value] = '\0';
    long long v;
    if (!opts_parse_int(eq + 1, 0, INT64_MAX, &v)) {
        snprintf(err, errlen, "%s: '%s' is not a whole number >= 0", name, eq + 1);
        return -1;
    }
    struct tcp_config probe;
    memset(&probe, 0, sizeof probe);
    if (tcp_config_set(&probe, name, 1) < 0) {
        snprintf(err, errlen, "unknown knob '%s' (see synack serve --help-knobs)", name);
        return -1;
    }
    /* The range the knob's unit allows (tcp_types.h), and the few knobs
     * whose small values would not make a working TCP. */
    int index = 0;
    while (index < tcp_config_count() && tcp_config_get(&probe, index) != 1)
        index++;
    const char *knob = tcp_config_name(index), *unit = tcp_config_unit(index);
    long long lo = 0, hi = INT32_MAX;
    if (!strcmp(unit, "bool"))
        hi = 1;
    else if (!strcmp(unit, "0/1/2"))
        hi = 2;
    else if (!strcmp(knob, "tcp_mss"))
        lo = 88, hi = 65495; /* RFC 9293 §3.7.1 bounds, less headers */
    else if (!strcmp(knob, "tcp_rmem") || !strcmp(knob, "tcp_wmem"))
        lo = 4096, hi = 1 << 30;
    if (v < lo || v > hi) {
        snprintf(err, errlen, "%s: %lld is outside %lld..%lld (%s)", knob, v, lo, hi, unit);
        return -1;
    }
    tcp_config_set(c, name, v);
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int opts_config_load(struct tcp_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *hash = strpbrk(line, "#;");
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected name = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        char joined[600];
        snprintf(joined, sizeof joined, "%s=%s", name, value);
        char why[200];
        if (opts_sysctl_apply(c, joined, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static int add_addr(struct rt_addr *list, size_t *n, const char *text, const char *flag, char *err, size_t errlen)
{
    if (*n == RT_MAX_ADDRS) {
        snprintf(err, errlen, "%s: at most %d addresses", flag, RT_MAX_ADDRS);
        return -1;
    }
    if (!rt_addr_parse(text, &list[*n])) {
        snprintf(err, errlen, "%s: '%s' is not an address like 10.77.0.1/24 or fd77::1/64", flag, text);
        return -1;
    }
    (*n)++;
    return 1;
}

static bool is_name_value(const char *s)
{
    return s[0] != '-' && strchr(s, '=') != NULL;
}

int net_opts_parse(struct net_opts *o, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    static const char *const with_value[] = {"--tun", "--addr", "--kernel-addr", "--mtu", "--pcap",
                                             "--sysctl", "--config", "--control", "--events"};
    bool needs = false;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
        needs |= !strcmp(a, with_value[k]);
    if (needs && !v) {
        snprintf(err, errlen, "%s needs a value", a);
        return -1;
    }
    if (!strcmp(a, "--tun")) {
        if (!*v || strlen(v) >= TUN_NAME_MAX || strchr(v, '/') || strchr(v, ' ')) {
            snprintf(err, errlen, "--tun: '%s' is not an interface name (1 to %d characters)", v, TUN_NAME_MAX - 1);
            return -1;
        }
        strcpy(o->rt.tun_name, v);
    } else if (!strcmp(a, "--addr")) {
        if (add_addr(o->rt.addrs, &o->rt.naddrs, v, a, err, errlen) < 0)
            return -1;
    } else if (!strcmp(a, "--kernel-addr")) {
        if (add_addr(o->rt.kernel_addrs, &o->rt.nkernel_addrs, v, a, err, errlen) < 0)
            return -1;
    } else if (!strcmp(a, "--mtu")) {
        long long m;
        if (!opts_parse_int(v, TUN_MTU_MIN, TUN_MTU_MAX, &m)) {
            snprintf(err, errlen, "--mtu: '%s' is not a number in %d..%d", v, TUN_MTU_MIN, TUN_MTU_MAX);
            return -1;
        }
        o->rt.mtu = (int)m;
    } else if (!strcmp(a, "--pcap")) {
        o->rt.pcap_path = v;
    } else if (!strcmp(a, "--config")) {
        o->config_path = v;
    } else if (!strcmp(a, "--control")) {
        if (!*v || strlen(v) >= sizeof o->control_path) {
            snprintf(err, errlen, "--control: path empty or longer than %zu bytes", sizeof o->control_path - 1);
            return -1;
        }
        strcpy(o->control_path, v);
    } else if (!strcmp(a, "--events")) {
        o->events_path = v;
    } else if (!strcmp(a, "--sysctl")) {
        /* --sysctl a=1 [b=2 ...] */
        if (!is_name_value(v)) {
            snprintf(err, errlen, "--sysctl: '%s' is not name=value", v);
            return -1;
        }
        while (*i + 1 < argc && is_name_value(argv[*i + 1])) {
            if (o->nsysctl == OPTS_MAX_SYSCTL) {
                snprintf(err, errlen, "--sysctl: at most %d settings", OPTS_MAX_SYSCTL);
                return -1;
            }
            o->sysctl[o->nsysctl++] = argv[++*i];
        }
        return 1;
    } else if (!strcmp(a, "--no-control")) {
        o->no_control = true;
        return 1;
    } else if (!strcmp(a, "--keepalive")) {
        o->keepalive = true;
        return 1;
    } else if (!strcmp(a, "--offload")) {
        o->rt.offload = true;
        return 1;
    } else {
        return 0;
    }
    ++*i;
    return 1;
}

int net_opts_finish(struct net_opts *o, char *err, size_t errlen)
{
    if (!o->rt.tun_name[0])
        strcpy(o->rt.tun_name, OPTS_DEFAULT_TUN);
    if (o->rt.naddrs == 0)
        add_addr(o->rt.addrs, &o->rt.naddrs, OPTS_DEFAULT_ADDR, "--addr", err, errlen);
    struct tcp_config *c = &o->rt.stack.tcp;
    int64_t mss_default = c->tcp_mss;
    c->tcp_mss = -1; /* knobs are >= 0: -1 afterwards means nobody set it */
    if (o->config_path && opts_config_load(c, o->config_path, err, errlen) < 0)
        return -1;
    for (size_t k = 0; k < o->nsysctl; k++)
        if (opts_sysctl_apply(c, o->sysctl[k], err, errlen) < 0)
            return -1;
    /* Without a word from the user, the MSS follows the MTU; a value set by
     * hand is kept if it fits (rt clamps it to the MTU either way). */
    o->tcp_mss_set = c->tcp_mss >= 0;
    if (!o->tcp_mss_set)
        c->tcp_mss = o->rt.mtu ? o->rt.mtu - 40 : mss_default;
    if (!o->no_control) {
        if (!o->control_path[0])
            ctl_default_path(o->rt.tun_name, o->control_path, sizeof o->control_path);
        o->rt.control_path = o->control_path;
    }
    if (o->events_path) {
        o->rt.events = !strcmp(o->events_path, "-") ? stderr : fopen(o->events_path, "w");
        if (!o->rt.events) {
            snprintf(err, errlen, "--events %s: %s", o->events_path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

void net_opts_free(struct net_opts *o)
{
    if (o->rt.events && o->rt.events != stderr)
        fclose(o->rt.events);
    o->rt.events = NULL;
}

void net_opts_help(FILE *out)
{
    fprintf(out,
            "  --tun NAME            TUN device to create (default " OPTS_DEFAULT_TUN ")\n"
            "  --addr CIDR           synack's own address, repeatable (default " OPTS_DEFAULT_ADDR ")\n"
            "  --kernel-addr CIDR    address for the kernel's end of the device (one IPv4, IPv6 repeatable)\n"
            "                        (else: ip addr add 10.77.0.2/24 dev NAME)\n"
            "  --mtu N               device MTU (default 1500); the MSS follows it\n"
            "  --pcap FILE           record every segment sent and received\n"
            "  --sysctl NAME=VALUE.. knobs by their Linux sysctl names (e.g. tcp_fin_timeout=30)\n"
            "  --config FILE         knobs from a sysctl.conf-style file (applied before --sysctl)\n"
            "  --control PATH        control socket for synack ss / nstat\n"
            "                        (default $XDG_RUNTIME_DIR/synack-NAME.sock or /tmp/synack-UID-NAME.sock)\n"
            "  --no-control          no control socket\n"
            "  --keepalive           SO_KEEPALIVE on connections (tcp_keepalive_time/intvl/probes)\n"
            "  --offload             device offloads: the kernel hands over and takes segments of up\n"
            "                        to 64 KiB (TSO/GRO), several times the throughput\n"
            "  --events FILE         state changes and app events as JSON lines (- for stderr)\n");
}
