// io_uring (Debian liburing-dev 2.3) for the `--io uring` engine (Sources/LarderServer/Engine/Uring*).
// Swift sees only this header: the ring is opaque and liburing.h stays inside shim.c, because
// liburing.h defines _GNU_SOURCE / _XOPEN_SOURCE, and glibc types it pulls in (fd_set...) would then
// differ from Swift's Glibc module's (a module conflict in debug builds). The wrappers are the
// engine's calls: one SQE prepared with its user_data, completions copied out in a batch, the
// provided buffer ring, and a probe that tries what the engine needs.
#ifndef LARDER_URING_H
#define LARDER_URING_H
#include <stddef.h>
#include <stdint.h>

/// One completion, copied out of the CQ ring.
struct larder_cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
};

struct larder_uring;

/// A ring of `entries` (single issuer, cooperative task running where the kernel has them):
/// NULL with -errno in *err on failure. Made and used on one thread.
struct larder_uring *larder_uring_create(unsigned entries, int *err);
void larder_uring_destroy(struct larder_uring *r);

void larder_uring_prep_multishot_accept(struct larder_uring *r, int fd, uint64_t ud);
/// A multishot recv into buffers picked from provided buffer group `bgid`.
void larder_uring_prep_recv_multishot(struct larder_uring *r, int fd, uint16_t bgid, uint64_t ud);
void larder_uring_prep_send(struct larder_uring *r, int fd, const void *buf, size_t len, uint64_t ud);
/// `msg`: a struct msghdr that stays put until the completion.
void larder_uring_prep_sendmsg(struct larder_uring *r, int fd, const void *msg, uint64_t ud);
void larder_uring_prep_read(struct larder_uring *r, int fd, void *buf, unsigned len, uint64_t ud);
/// Posts a completion with user_data `data` on the ring whose descriptor is `ring_fd`
/// (IORING_OP_MSG_RING: wakes that ring's thread); its own completion, with `ud`, only on failure.
void larder_uring_prep_msg_ring(struct larder_uring *r, int ring_fd, uint64_t data, uint64_t ud);
/// The ring's descriptor (the target of another ring's larder_uring_prep_msg_ring).
int larder_uring_fd(struct larder_uring *r);
/// 1 if the kernel has IORING_OP_MSG_RING, else 0.
int larder_uring_has_msg_ring(struct larder_uring *r);
/// Cancels every request carrying `target` as its user_data; the cancel's own completion has `ud`.
void larder_uring_prep_cancel(struct larder_uring *r, uint64_t target, uint64_t ud);

/// Submits what is prepared and waits for `wait_nr` completions, at most `timeout_ns` (< 0: no
/// limit): one io_uring_enter on kernels with IORING_FEAT_EXT_ARG.
int larder_uring_submit_and_wait(struct larder_uring *r, unsigned wait_nr, int64_t timeout_ns);
/// The same in two calls (submit, then poll(2) on the ring): for valgrind 3.19 only
/// (LARDER_URING_WAIT_POLL), which keeps its big lock through io_uring_enter.
int larder_uring_submit_then_poll(struct larder_uring *r, unsigned wait_nr, int64_t timeout_ns);
/// Copies up to `max` completions into `out` and releases their slots; returns how many.
unsigned larder_uring_reap(struct larder_uring *r, struct larder_cqe *out, unsigned max);

/// A provided buffer ring of `count` (a power of two) buffers of `size` bytes carved from `base`,
/// registered as group `bgid`; NULL with -errno in *err.
void *larder_uring_buf_ring_setup(struct larder_uring *r, unsigned count, uint16_t bgid, unsigned char *base,
                                  unsigned size, int *err);
void larder_uring_buf_ring_free(struct larder_uring *r, void *br, unsigned count, uint16_t bgid);
/// Gives buffer `bid` back to the kernel.
void larder_uring_buf_return(void *br, unsigned count, unsigned char *base, unsigned size, uint16_t bid);

/// A completion's flags, read inline (three calls into the shim per receive were ~25 user
/// instructions per request under callgrind). The values are the kernel's ABI
/// (IORING_CQE_F_BUFFER, IORING_CQE_F_MORE, IORING_CQE_BUFFER_SHIFT); shim.c checks them
/// against liburing's headers at compile time.
#define LARDER_CQE_F_BUFFER 1u
#define LARDER_CQE_F_MORE 2u
#define LARDER_CQE_BUFFER_SHIFT 16
static inline uint16_t larder_uring_cqe_bid(uint32_t flags) { return (uint16_t)(flags >> LARDER_CQE_BUFFER_SHIFT); }
static inline int larder_uring_cqe_has_buffer(uint32_t flags) { return (flags & LARDER_CQE_F_BUFFER) != 0; }
static inline int larder_uring_cqe_more(uint32_t flags) { return (flags & LARDER_CQE_F_MORE) != 0; }

/// 0 if this kernel runs what the engine needs (tried, not inferred from a version), else -1
/// with the reason in `why`.
int larder_uring_probe(char *why, size_t len);
#endif
