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
/// The shard mailbox the calling thread is an endpoint of, and its index there
/// (Sources/LarderServer/Engine/ShardMailbox.swift): set once by each shard loop's thread, so
/// `execute` can tell a hop from another shard thread (its own SPSC ring) from work of any
/// other thread (the locked queue). NULL / -1 on every other thread. A C thread-local: Swift
/// has none cheaper than pthread_getspecific.
void larder_set_thread_mailbox(void *mailbox, int index);
void *larder_thread_mailbox(void);
int larder_thread_mailbox_index(void);
#ifdef __linux__
/// The epoll engine's system interface (Sources/LarderServer/Engine): Swift's Glibc module
/// does not include these headers.
#include <sys/epoll.h>
#include <sys/eventfd.h>
/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC): a GNU extension Glibc does not export.
int larder_accept_nonblocking(int fd);
#endif
#endif
