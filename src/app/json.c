/* A strict RFC 8259 parser (recursive descent, bounded depth) and the
 * output buffer. */
#include "app/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *p, *end;
    char *err;
    size_t errlen;
    bool failed;
};

static void perr(struct parser *ps, const char *what)
{
    if (ps->failed)
        return;
    ps->failed = true;
    snprintf(ps->err, ps->errlen, "%s", what);
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct json *node(struct parser *ps, enum json_type type)
{
    struct json *j = calloc(1, sizeof *j);
    if (!j)
        perr(ps, "out of memory");
    else
        j->type = type;
    return j;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string literal at ps->p (the opening quote); returns a malloc'd copy. */
static char *parse_string(struct parser *ps)
{
    ps->p++; /* '"' */
    /* The decoded form is never longer than the source. */
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\')
            ps->p++;
        ps->p++;
    }
    if (ps->p >= ps->end) {
        perr(ps, "unterminated string");
        return NULL;
    }
    size_t srclen = (size_t)(ps->p - start);
    ps->p++; /* closing quote */
    char *out = malloc(srclen + 1);
    if (!out) {
        perr(ps, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < srclen; i++) {
        unsigned char c = (unsigned char)start[i];
        if (c < 0x20) {
            perr(ps, "control character in string");
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (++i >= srclen)
            break;
        switch (start[i]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            int cp = i + 4 < srclen ? hex4(start + i + 1) : -1;
            if (cp < 0) {
                perr(ps, "bad \\u escape");
                free(out);
                return NULL;
            }
            i += 4;
            unsigned code = (unsigned)cp;
            if (code >= 0xd800 && code < 0xdc00 && i + 6 < srclen && start[i + 1] == '\\' &&
                start[i + 2] == 'u') {
                int lo = hex4(start + i + 3);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    code = 0x10000 + ((code - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
                    i += 6;
                }
            }
            if (code == 0) {
                perr(ps, "NUL in string");
                free(out);
                return NULL;
            }
            /* A lone surrogate becomes U+FFFD. */
            if (code >= 0xd800 && code < 0xe000)
                code = 0xfffd;
            o += put_utf8(out + o, code); /* at most 4 bytes for 6 source bytes */
            break;
        }
        default:
            perr(ps, "bad escape in string");
            free(out);
            return NULL;
        }
    }
    out[o] = '\0';
    return out;
}

static struct json *parse_value(struct parser *ps, int depth);

static struct json *parse_number(struct parser *ps)
{
    const char *s = ps->p;
    const char *q = s;
    bool integral = true;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
        perr(ps, "bad number");
        return NULL;
    }
    if (*q == '0' && q + 1 < ps->end && q[1] >= '0' && q[1] <= '9') {
        perr(ps, "leading zero in number");
        return NULL;
    }
    while (q < ps->end && *q >= '0' && *q <= '9')
        q++;
    if (q < ps->end && *q == '.') {
        integral = false;
        q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
            perr(ps, "bad number");
            return NULL;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
            perr(ps, "bad number");
            return NULL;
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof tmp) {
        perr(ps, "number too long");
        return NULL;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    struct json *j = node(ps, JSON_NUMBER);
    if (!j)
        return NULL;
    j->number = strtod(tmp, NULL);
    if (integral) {
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            j->integral = true;
            j->integer = v;
        }
    }
    ps->p = q;
    return j;
}

static struct json *parse_container(struct parser *ps, int depth, bool object)
{
    struct json *j = node(ps, object ? JSON_OBJECT : JSON_ARRAY);
    if (!j)
        return NULL;
    ps->p++; /* '{' or '[' */
    struct json **tail = &j->child;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
        ps->p++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                perr(ps, "expected a member name");
                break;
            }
            key = parse_string(ps);
            if (!key)
                break;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                perr(ps, "expected ':'");
                break;
            }
            ps->p++;
        }
        struct json *v = parse_value(ps, depth + 1);
        if (!v) {
            free(key);
            break;
        }
        v->key = key;
        *tail = v;
        tail = &v->next;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
            ps->p++;
            return j;
        }
        perr(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    json_free(j);
    return NULL;
}

static struct json *parse_value(struct parser *ps, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        perr(ps, "nested too deeply");
        return NULL;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        perr(ps, "unexpected end of input");
        return NULL;
    }
    struct json *j;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true);
    case '[':
        return parse_container(ps, depth, false);
    case '"': {
        char *s = parse_string(ps);
        if (!s)
            return NULL;
        j = node(ps, JSON_STRING);
        if (!j) {
            free(s);
            return NULL;
        }
        j->string = s;
        return j;
    }
    case 't':
    case 'f':
        if (literal(ps, "true") || literal(ps, "false")) {
            j = node(ps, JSON_BOOL);
            if (j)
                j->boolean = ps->p[-1] == 'e' && ps->p[-4] == 't';
            return j;
        }
        break;
    case 'n':
        if (literal(ps, "null"))
            return node(ps, JSON_NULL);
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        break;
    }
    perr(ps, "unexpected character");
    return NULL;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {text, text + len, err, errlen, false};
    if (!text) {
        snprintf(err, errlen, "no input");
        return NULL;
    }
    struct json *j = parse_value(&ps, 0);
    if (!j)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        json_free(j);
        snprintf(err, errlen, "trailing characters after the value");
        return NULL;
    }
    return j;
}

void json_free(struct json *j)
{
    while (j) {
        struct json *next = j->next;
        json_free(j->child);
        free(j->string);
        free(j->key);
        free(j);
        j = next;
    }
}

const struct json *json_get(const struct json *j, const char *key)
{
    if (!j || j->type != JSON_OBJECT)
        return NULL;
    for (const struct json *c = j->child; c; c = c->next)
        if (c->key && !strcmp(c->key, key))
            return c;
    return NULL;
}

const char *json_get_str(const struct json *j, const char *key, const char *def)
{
    const struct json *v = json_get(j, key);
    return v && v->type == JSON_STRING ? v->string : def;
}

int64_t json_get_int(const struct json *j, const char *key, int64_t def)
{
    const struct json *v = json_get(j, key);
    if (!v || v->type != JSON_NUMBER)
        return def;
    if (v->integral)
        return v->integer;
    if (!isfinite(v->number) || v->number > 9.2e18 || v->number < -9.2e18)
        return def;
    return (int64_t)v->number;
}

bool json_get_bool(const struct json *j, const char *key, bool def)
{
    const struct json *v = json_get(j, key);
    return v && v->type == JSON_BOOL ? v->boolean : def;
}

size_t json_count(const struct json *j)
{
    size_t n = 0;
    if (j && (j->type == JSON_ARRAY || j->type == JSON_OBJECT))
        for (const struct json *c = j->child; c; c = c->next)
            n++;
    return n;
}

/* ---- output ---- */
void jbuf_init(struct jbuf *b)
{
    memset(b, 0, sizeof *b);
}

void jbuf_free(struct jbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void jbuf_reset(struct jbuf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

static bool reserve(struct jbuf *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void jbuf_add(struct jbuf *b, const char *data, size_t len)
{
    if (!reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void jbuf_puts(struct jbuf *b, const char *s)
{
    jbuf_add(b, s, strlen(s));
}

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        jbuf_add(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void jbuf_str(struct jbuf *b, const char *s)
{
    jbuf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': jbuf_add(b, "\\\"", 2); break;
        case '\\': jbuf_add(b, "\\\\", 2); break;
        case '\n': jbuf_add(b, "\\n", 2); break;
        case '\r': jbuf_add(b, "\\r", 2); break;
        case '\t': jbuf_add(b, "\\t", 2); break;
        default:
            if (*p < 0x20)
                jbuf_printf(b, "\\u%04x", *p);
            else
                jbuf_add(b, (const char *)p, 1);
        }
    }
    jbuf_add(b, "\"", 1);
}

void jbuf_consume(struct jbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}
