/* echo (RFC 862) and discard (RFC 863). Echo holds at most one buffer of
 * unsent bytes and stops reading while it is full, so a peer that does not
 * read what comes back is slowed down by TCP's flow control, not by memory. */
#include <errno.h>

#include "app/app_internal.h"

void app_echo_event(struct app_conn *c, unsigned events)
{
    (void)events;
    struct stack *st = rt_stack(c->srv->rt);
    for (;;) {
        while (c->off < c->len) {
            ssize_t n = stack_send(st, c->sd, c->buf + c->off, c->len - c->off, rt_now());
            if (n == -EAGAIN)
                return; /* POLLOUT will call again */
            if (n < 0) {
                app_conn_fail(c, "send", n);
                return;
            }
            c->off += (size_t)n;
        }
        c->off = c->len = 0;
        if (c->peer_eof) {
            /* Everything echoed: our FIN follows the peer's (half-close kept). */
            app_conn_close(c);
            return;
        }
        ssize_t n = stack_recv(st, c->sd, c->buf, APP_BUF, rt_now());
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            app_conn_fail(c, "recv", n);
            return;
        }
        if (n == 0)
            c->peer_eof = true;
        c->len = (size_t)n;
    }
}

void app_discard_event(struct app_conn *c, unsigned events)
{
    (void)events;
    static char scratch[APP_BUF];
    struct stack *st = rt_stack(c->srv->rt);
    for (;;) {
        ssize_t n = stack_recv(st, c->sd, scratch, sizeof scratch, rt_now());
        if (n > 0)
            continue;
        if (n == -EAGAIN)
            return;
        if (n == 0)
            app_conn_close(c);
        else
            app_conn_fail(c, "recv", n);
        return;
    }
}
