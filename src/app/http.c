/* HTTP/1.1 request heads (RFC 9112 §2-§6, §9.3) and response heads. */
#include "app/http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Unknown";
    }
}

/* Where the head ends (index just past the blank line), or 0. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* The next line of [*p, end): its bounds without the line ending. */
static bool next_line(const char **p, const char *end, const char **ls, size_t *ll)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (!nl)
        return false;
    *ls = *p;
    *ll = (size_t)(nl - *p);
    if (*ll && (*ls)[*ll - 1] == '\r')
        (*ll)--;
    *p = nl + 1;
    return true;
}

static bool token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Does the comma-separated list contain token (case-insensitive)? */
static bool list_has(const char *v, size_t vl, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < vl) {
        while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < vl && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, token, tl))
            return true;
    }
    return false;
}

static enum http_parse parse_request_line(const char *l, size_t n, struct http_request *req)
{
    const char *sp1 = memchr(l, ' ', n);
    if (!sp1 || sp1 == l || (size_t)(sp1 - l) >= sizeof req->method)
        return HTTP_BAD;
    for (const char *c = l; c < sp1; c++)
        if (!token_char(*c))
            return HTTP_BAD;
    const char *rest = sp1 + 1;
    size_t rn = n - (size_t)(rest - l);
    const char *sp2 = memchr(rest, ' ', rn);
    if (!sp2 || sp2 == rest)
        return HTTP_BAD;
    size_t tl = (size_t)(sp2 - rest);
    if (tl >= sizeof req->target)
        return HTTP_TOO_LARGE;
    const char *ver = sp2 + 1;
    size_t vl = n - (size_t)(ver - l);
    if (vl != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)ver[7]))
        return HTTP_BAD;
    memcpy(req->method, l, (size_t)(sp1 - l));
    req->method[sp1 - l] = '\0';
    memcpy(req->target, rest, tl);
    req->target[tl] = '\0';
    for (size_t i = 0; i < tl; i++)
        if ((unsigned char)req->target[i] <= ' ' || req->target[i] == 0x7f)
            return HTTP_BAD;
    req->minor = ver[7] - '0';
    return HTTP_COMPLETE;
}

enum http_parse http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof *req);
    /* RFC 9112 §2.2: empty lines before the request line are skipped. */
    size_t skip = 0;
    while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
        skip++;
    size_t scan = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    size_t end = skip < scan ? head_end(buf + skip, scan - skip) : 0;
    if (!end)
        return len >= HTTP_MAX_HEAD ? HTTP_TOO_LARGE : HTTP_INCOMPLETE;
    end += skip;
    const char *p = buf + skip, *stop = buf + end;
    const char *l;
    size_t n;
    if (!next_line(&p, stop, &l, &n))
        return HTTP_BAD;
    enum http_parse r = parse_request_line(l, n, req);
    if (r != HTTP_COMPLETE)
        return r;
    bool saw_close = false, saw_keep_alive = false, saw_length = false;
    while (next_line(&p, stop, &l, &n) && n > 0) {
        if (l[0] == ' ' || l[0] == '\t')
            return HTTP_BAD; /* obsolete line folding, RFC 9112 §5.2 */
        const char *colon = memchr(l, ':', n);
        if (!colon || colon == l)
            return HTTP_BAD;
        for (const char *c = l; c < colon; c++)
            if (!token_char(*c))
                return HTTP_BAD; /* includes whitespace before the colon, RFC 9112 §5.1 */
        size_t nl = (size_t)(colon - l);
        const char *v = colon + 1;
        size_t vl = n - nl - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        if (nl == 10 && !strncasecmp(l, "connection", 10)) {
            saw_close |= list_has(v, vl, "close");
            saw_keep_alive |= list_has(v, vl, "keep-alive");
        } else if (nl == 14 && !strncasecmp(l, "content-length", 14)) {
            uint64_t value = 0;
            if (vl == 0 || vl > 15)
                return HTTP_BAD;
            for (size_t i = 0; i < vl; i++) {
                if (!isdigit((unsigned char)v[i]))
                    return HTTP_BAD;
                value = value * 10 + (uint64_t)(v[i] - '0');
            }
            if (saw_length && value != req->content_length)
                return HTTP_BAD; /* RFC 9112 §6.3 item 5 */
            saw_length = true;
            req->content_length = value;
        } else if (nl == 17 && !strncasecmp(l, "transfer-encoding", 17)) {
            return HTTP_UNSUPPORTED;
        }
    }
    req->keep_alive = req->minor >= 1 ? !saw_close : (saw_keep_alive && !saw_close);
    req->head_len = end;
    return HTTP_COMPLETE;
}

size_t http_response_head(char *buf, size_t cap, int status, uint64_t content_length, bool keep_alive,
                          unsigned keep_alive_timeout_s, unsigned requests_left)
{
    int n;
    if (keep_alive)
        n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\nServer: synack\r\nContent-Type: text/plain\r\nContent-Length: %llu\r\n"
                     "Connection: keep-alive\r\nKeep-Alive: timeout=%u, max=%u\r\n\r\n",
                     status, http_reason(status), (unsigned long long)content_length, keep_alive_timeout_s,
                     requests_left);
    else
        n = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\nServer: synack\r\nContent-Type: text/plain\r\nContent-Length: %llu\r\n"
                     "Connection: close\r\n\r\n",
                     status, http_reason(status), (unsigned long long)content_length);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
