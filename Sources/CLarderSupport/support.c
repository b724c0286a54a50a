#define _GNU_SOURCE
#include <sched.h>
#include <pthread.h>
#include <sys/resource.h>
#include <malloc.h>
#include "larder_support.h"

int larder_pin_current_thread(int core) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

long long larder_process_cpu_micros(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int larder_malloc_trim(void) { return malloc_trim(0); }

size_t larder_malloc_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

static _Thread_local void *thread_mailbox = NULL;
static _Thread_local int thread_mailbox_index = -1;
void larder_set_thread_mailbox(void *mailbox, int index) { thread_mailbox = mailbox; thread_mailbox_index = index; }
void *larder_thread_mailbox(void) { return thread_mailbox; }
int larder_thread_mailbox_index(void) { return thread_mailbox_index; }

#ifdef __linux__
#include <sys/socket.h>
int larder_accept_nonblocking(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
#endif
