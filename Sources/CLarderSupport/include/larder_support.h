#ifndef LARDER_SUPPORT_H
#define LARDER_SUPPORT_H
/// Pins the calling thread to one CPU core. Returns 0 on success, an errno value otherwise.
int larder_pin_current_thread(int core);
/// CPU time (user+system) of the calling process in microseconds.
long long larder_process_cpu_micros(void);
/// Bytes the C allocator (glibc malloc) has handed out and not freed: mallinfo2's in-use
/// chunks of every arena plus mmapped chunks. Walks the arenas' free lists: not for hot paths.
#include <stddef.h>
size_t larder_malloc_in_use(void);
/// glibc's malloc_trim(0): gives whole free pages inside the heaps back to the kernel. 1 when
/// some memory was released. Locks each arena in turn: not for hot paths.
int larder_malloc_trim(void);
#ifdef __linux__
/// The epoll engine's system interface (Sources/LarderServer/Engine): Swift's Glibc module
/// does not include these headers.
#include <sys/epoll.h>
#include <sys/eventfd.h>
/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC): a GNU extension Glibc does not export.
int larder_accept_nonblocking(int fd);
#endif
#endif
