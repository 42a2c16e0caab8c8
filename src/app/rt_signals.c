/* Signals that end a runtime's loop cleanly (the device and the control
 * socket are removed on the way out). */
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "app/rt.h"

static struct rt *volatile signal_rt;
static struct sigaction saved[4];
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
static bool installed;

static void on_signal(int sig)
{
    (void)sig;
    struct rt *rt = signal_rt;
    if (rt)
        rt_stop(rt);
}

void rt_stop_on_signals(struct rt *rt)
{
    if (!rt) {
        if (installed) {
            for (size_t i = 0; i < 3; i++)
                sigaction(stop_signals[i], &saved[i], NULL);
            sigaction(SIGPIPE, &saved[3], NULL);
        }
        installed = false;
        signal_rt = NULL;
        return;
    }
    signal_rt = rt;
    if (installed)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < 3; i++)
        sigaction(stop_signals[i], &sa, &saved[i]);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &saved[3]);
    installed = true;
}
