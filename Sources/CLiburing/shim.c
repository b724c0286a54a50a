// liburing (Debian liburing-dev 2.3) for the io_uring I/O engine (Sources/LarderServer/Engine/Uring*).
// liburing's helpers are functions and macros over the shared rings (barriers,
// io_uring_for_each_cqe); these wrappers give Swift plain functions with the engine's calls:
// one SQE prepared with its user_data, completions copied out in a batch, the provided buffer
// ring, and a probe that tries what the engine needs rather than trusting the kernel version.
#ifdef __linux__
#include "larder_uring.h"
#include <liburing.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct larder_uring {
    struct io_uring ring;
};

/// Sets up a ring: single issuer and cooperative task running (completions are posted at the
/// next io_uring_enter, which the loop makes every turn anyway, instead of interrupting the
/// thread, and flagged in the SQ ring so a turn that submits nothing still enters when some
/// are pending), without them on kernels that refuse the flags. Returns 0 or -errno.
static int larder_uring_init(struct io_uring *ring, unsigned entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == -EINVAL) {
        memset(&p, 0, sizeof p);
        rc = io_uring_queue_init_params(entries, ring, &p);
    }
    return rc;
}

struct larder_uring *larder_uring_create(unsigned entries, int *err) {
    struct larder_uring *r = calloc(1, sizeof *r);
    if (!r) { *err = -ENOMEM; return NULL; }
    int rc = larder_uring_init(&r->ring, entries);
    if (rc < 0) { free(r); *err = rc; return NULL; }
    *err = 0;
    return r;
}

void larder_uring_destroy(struct larder_uring *r) {
    io_uring_queue_exit(&r->ring);
    free(r);
}

/// A free SQE; when the submission ring is full, what it holds is submitted first.
static struct io_uring_sqe *larder_uring_sqe(struct io_uring *ring) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    while (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

void larder_uring_prep_multishot_accept(struct larder_uring *lr, int fd, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud);
}

/// A multishot recv into buffers picked from provided buffer group `bgid`.
void larder_uring_prep_recv_multishot(struct larder_uring *lr, int fd, uint16_t bgid, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = bgid;
    io_uring_sqe_set_data64(sqe, ud);
}

void larder_uring_prep_send(struct larder_uring *lr, int fd, const void *buf, size_t len, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud);
}

void larder_uring_prep_sendmsg(struct larder_uring *lr, int fd, const void *msg, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud);
}

void larder_uring_prep_read(struct larder_uring *lr, int fd, void *buf, unsigned len, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_read(sqe, fd, buf, len, 0);
    io_uring_sqe_set_data64(sqe, ud);
}

/// Posts a completion with user_data `data` on the ring whose descriptor is `ring_fd`
/// (IORING_OP_MSG_RING), waking its thread if it waits there. Its own completion comes only on
/// failure (IOSQE_CQE_SKIP_SUCCESS), carrying `ud`.
void larder_uring_prep_msg_ring(struct larder_uring *lr, int ring_fd, uint64_t data, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_msg_ring(sqe, ring_fd, 0, data, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, ud);
}

int larder_uring_fd(struct larder_uring *lr) { return lr->ring.ring_fd; }

/// 1 if the kernel has IORING_OP_MSG_RING (5.18), else 0: the loops then wake each other
/// through the eventfd only.
int larder_uring_has_msg_ring(struct larder_uring *lr) {
    struct io_uring_probe *probe = io_uring_get_probe_ring(&lr->ring);
    if (!probe) return 0;
    int ok = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    io_uring_free_probe(probe);
    return ok ? 1 : 0;
}

/// Cancels every request carrying `target` as its user_data; the cancel's own completion has `ud`.
void larder_uring_prep_cancel(struct larder_uring *lr, uint64_t target, uint64_t ud) {
    struct io_uring *ring = &lr->ring;
    struct io_uring_sqe *sqe = larder_uring_sqe(ring);
    io_uring_prep_cancel64(sqe, target, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, ud);
}

/// Submits what is prepared and waits for at least `wait_nr` completions, at most `timeout_ns`
/// (< 0: no limit): one io_uring_enter on kernels with IORING_FEAT_EXT_ARG.
int larder_uring_submit_and_wait(struct larder_uring *lr, unsigned wait_nr, int64_t timeout_ns) {
    struct io_uring *ring = &lr->ring;
    if (wait_nr == 0) return io_uring_submit(ring);
    if (timeout_ns < 0) return io_uring_submit_and_wait(ring, wait_nr);
    struct __kernel_timespec ts;
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    struct io_uring_cqe *cqe = NULL;
    return io_uring_submit_and_wait_timeout(ring, &cqe, wait_nr, &ts, NULL);
}

/// The same wait as larder_uring_submit_and_wait, in two system calls: submit, then poll(2) on the
/// ring's descriptor. Only for runs under valgrind 3.19 (LARDER_URING_WAIT_POLL), which does not
/// know io_uring_enter can block and keeps its big lock through it, stalling every other thread.
int larder_uring_submit_then_poll(struct larder_uring *lr, unsigned wait_nr, int64_t timeout_ns) {
    struct io_uring *ring = &lr->ring;
    int rc = io_uring_submit(ring);
    if (wait_nr == 0 || io_uring_cq_ready(ring) > 0) return rc;
    struct pollfd pfd = { .fd = ring->ring_fd, .events = POLLIN, .revents = 0 };
    poll(&pfd, 1, timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000));
    return io_uring_get_events(ring);
}

/// Copies up to `max` completions into `out` and releases their slots; returns how many.
unsigned larder_uring_reap(struct larder_uring *lr, struct larder_cqe *out, unsigned max) {
    struct io_uring *ring = &lr->ring;
    unsigned head, n = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == max) break;
        out[n].user_data = cqe->user_data;
        out[n].res = cqe->res;
        out[n].flags = cqe->flags;
        n++;
    }
    io_uring_cq_advance(ring, n);
    return n;
}

/// A provided buffer ring of `count` (a power of two) buffers of `size` bytes each, carved from
/// `base`, registered as group `bgid`. Returns the ring (free with larder_uring_buf_ring_free) or
/// NULL with -errno in *err.
void *larder_uring_buf_ring_setup(struct larder_uring *lr, unsigned count,
                                                                   uint16_t bgid, unsigned char *base,
                                                                   unsigned size, int *err) {
    struct io_uring *ring = &lr->ring;
    size_t bytes = (size_t)count * sizeof(struct io_uring_buf);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) { *err = -errno; return NULL; }
    struct io_uring_buf_ring *br = (struct io_uring_buf_ring *)mem;
    io_uring_buf_ring_init(br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)br;
    reg.ring_entries = count;
    reg.bgid = bgid;
    int rc = io_uring_register_buf_ring(ring, &reg, 0);
    if (rc != 0) { munmap(mem, bytes); *err = rc; return NULL; }
    int mask = io_uring_buf_ring_mask(count);
    for (unsigned i = 0; i < count; i++)
        io_uring_buf_ring_add(br, base + (size_t)i * size, size, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(br, (int)count);
    *err = 0;
    return br;
}

void larder_uring_buf_ring_free(struct larder_uring *lr, void *br, unsigned count, uint16_t bgid) {
    struct io_uring *ring = &lr->ring;
    io_uring_unregister_buf_ring(ring, bgid);
    munmap(br, (size_t)count * sizeof(struct io_uring_buf));
}

/// Gives buffer `bid` back to the kernel.
void larder_uring_buf_return(void *vbr, unsigned count, unsigned char *base, unsigned size, uint16_t bid) {
    struct io_uring_buf_ring *br = vbr;
    io_uring_buf_ring_add(br, base + (size_t)bid * size, size, bid, io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(br, 1);
}

_Static_assert(LARDER_CQE_F_BUFFER == IORING_CQE_F_BUFFER, "IORING_CQE_F_BUFFER changed");
_Static_assert(LARDER_CQE_F_MORE == IORING_CQE_F_MORE, "IORING_CQE_F_MORE changed");
_Static_assert(LARDER_CQE_BUFFER_SHIFT == IORING_CQE_BUFFER_SHIFT, "IORING_CQE_BUFFER_SHIFT changed");

/// Whether this kernel runs what the engine needs, tried rather than inferred from a version:
/// a ring, the opcodes, a provided buffer ring, and a multishot recv over a socket pair that
/// delivers a byte and stays armed. Returns 0, or -1 with the reason in `why`.
int larder_uring_probe(char *why, size_t len) {
    struct larder_uring lrr;
    int rc = larder_uring_init(&lrr.ring, 8);
    if (rc < 0) { snprintf(why, len, "io_uring_queue_init failed: %s", strerror(-rc)); return -1; }
    int result = -1;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&lrr.ring);
    int ops[] = { IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_SENDMSG, IORING_OP_READ, IORING_OP_ASYNC_CANCEL };
    const char *names[] = { "ACCEPT", "RECV", "SEND", "SENDMSG", "READ", "ASYNC_CANCEL" };
    if (!probe) { snprintf(why, len, "io_uring opcode probe failed"); goto out_ring; }
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!io_uring_opcode_supported(probe, ops[i])) {
            snprintf(why, len, "io_uring lacks IORING_OP_%s", names[i]);
            io_uring_free_probe(probe);
            goto out_ring;
        }
    }
    io_uring_free_probe(probe);
    if (!(lrr.ring.features & IORING_FEAT_EXT_ARG)) { snprintf(why, len, "io_uring lacks IORING_FEAT_EXT_ARG (a timed wait in one io_uring_enter)"); goto out_ring; }
    {
        static unsigned char buf[2 * 64];
        int err = 0;
        void *br = larder_uring_buf_ring_setup(&lrr, 2, 1, buf, 64, &err);
        if (!br) { snprintf(why, len, "io_uring provided buffer ring refused: %s", strerror(-err)); goto out_ring; }
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            snprintf(why, len, "socketpair for the io_uring probe failed: %s", strerror(errno));
            larder_uring_buf_ring_free(&lrr, br, 2, 1);
            goto out_ring;
        }
        larder_uring_prep_recv_multishot(&lrr, sv[0], 1, 42);
        if (write(sv[1], "x", 1) != 1) { /* reported as a missing completion below */ }
        struct larder_cqe c;
        c.res = -ETIME;
        c.flags = 0;
        unsigned n = 0;
        for (int tries = 0; tries < 20 && n == 0; tries++) {
            larder_uring_submit_and_wait(&lrr, 1, 50 * 1000000LL);
            n = larder_uring_reap(&lrr, &c, 1);
        }
        if (n == 0) snprintf(why, len, "io_uring multishot recv gave no completion");
        else if (c.res < 0) snprintf(why, len, "io_uring multishot recv failed: %s", strerror(-c.res));
        else if (!larder_uring_cqe_has_buffer(c.flags) || !larder_uring_cqe_more(c.flags))
            snprintf(why, len, "io_uring multishot recv with provided buffers unsupported (no buffer or not kept armed)");
        else result = 0;
        close(sv[1]);
        close(sv[0]);
        // The recv ends (EOF) with the socket; drain its completion before the ring goes.
        larder_uring_submit_and_wait(&lrr, 1, 50 * 1000000LL);
        larder_uring_reap(&lrr, &c, 1);
        larder_uring_buf_ring_free(&lrr, br, 2, 1);
    }
out_ring:
    io_uring_queue_exit(&lrr.ring);
    return result;
}
#endif  // __linux__
