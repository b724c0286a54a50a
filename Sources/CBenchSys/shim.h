// Linux headers that Swift's Glibc module does not import; larder-bench uses them directly.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>

// prctl is variadic, which Swift cannot call: the open loop's timer wake-ups should not be
// rounded up by the default 50 us timer slack.
static inline int bench_set_timer_slack_ns(unsigned long ns) {
    return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0);
}
