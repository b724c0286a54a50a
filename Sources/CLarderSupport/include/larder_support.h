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
#endif
