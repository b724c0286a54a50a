#ifndef LARDER_SUPPORT_H
#define LARDER_SUPPORT_H
/// Pins the calling thread to one CPU core. Returns 0 on success, an errno value otherwise.
int larder_pin_current_thread(int core);
/// CPU time (user+system) of the calling process in microseconds.
long long larder_process_cpu_micros(void);
#endif
