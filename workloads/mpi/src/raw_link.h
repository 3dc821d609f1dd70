/*
 * raw_link.h: the physical limit beside MPI. The same ping-pong as pingpong.c's, between the
 * same two ranks and with the same sizes, warm-up and iteration counts, but over
 *
 *   tcp  a plain TCP socket (TCP_NODELAY, the kernel's default buffers): rank 1 listens on an
 *        ephemeral port of every IPv4 address it has, rank 0 connects to the first that answers;
 *   shm  (ranks on one node only) a POSIX shared-memory segment in /dev/shm with one buffer per
 *        direction: the sender copies its message in, publishes a sequence number, and the
 *        receiver, having polled (yielding between rounds) for up to 200 us and then slept on a
 *        futex, copies it out. Two copies per message, as a copy-in/copy-out MPI transport makes
 *        without single-copy (CMA).
 *
 * MPI only exchanges the addresses and the segment name; the timed loops make no MPI call.
 * Rank 1 echoes what it received and rank 0 compares the echo with what it sent, outside the
 * timed window: a payload corrupted either way counts as an error of that size.
 *
 * Rank 0 prints   RAWPING transport=tcp|shm bytes=B iterations=N latency_us=L bandwidth_mbs=W errors=E
 *                 RAWPING_SKIP transport=tcp|shm reason="R"   (a transport that could not be measured)
 * A raw transport that fails is reported and skipped: the MPI ping-pong that follows still runs.
 */
#ifndef RAW_LINK_H
#define RAW_LINK_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/futex.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "recapp_mpi.h"

#define RAW_MAX_ADDRS 16
#define RAW_CONNECT_TIMEOUT_MS 2000
#define RAW_ACCEPT_TIMEOUT_MS 10000
#define RAW_SHM_SPIN_POLLS 256
#define RAW_SHM_SPIN_S 200e-6
#define RAW_SHM_GIVE_UP_S 30.0

/* What rank 1 tells rank 0: where it listens, or why it cannot. */
struct raw_listen_info {
    int port; /* 0: not listening */
    int n_addrs;
    uint32_t addrs[RAW_MAX_ADDRS]; /* IPv4, network byte order */
    char reason[96];
};

static inline void raw_print(const char *transport, long bytes, int iterations, double elapsed,
                             long errors)
{
    const double latency_us = elapsed / iterations / 2.0 * 1e6;
    const double bandwidth_mbs = (double) bytes / (latency_us * 1e-6) / 1e6;
    printf("RAWPING transport=%s bytes=%ld iterations=%d latency_us=%.3f bandwidth_mbs=%.6f errors=%ld\n",
           transport, bytes, iterations, latency_us, bandwidth_mbs, errors);
    fflush(stdout);
}

static inline void raw_skip(const char *transport, const char *why)
{
    char reason[160];
    snprintf(reason, sizeof reason, "%s", why);
    for (char *c = reason; *c != '\0'; c++) {
        if (*c == '"' || *c == '\n') {
            *c = '\'';
        }
    }
    printf("RAWPING_SKIP transport=%s reason=\"%s\"\n", transport, reason);
    fflush(stdout);
}

/* ---- TCP ------------------------------------------------------------------------------------ */

static inline int raw_write_all(int fd, const void *buf, long size)
{
    const char *p = buf;
    while (size > 0) {
        const ssize_t n = send(fd, p, (size_t) size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        size -= n;
    }
    return 0;
}

static inline int raw_read_all(int fd, void *buf, long size)
{
    char *p = buf;
    while (size > 0) {
        const ssize_t n = recv(fd, p, (size_t) size, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        size -= n;
    }
    return 0;
}

/* Rank 1: listen on an ephemeral port of every address; fills info (port 0 and a reason on failure). */
static inline int raw_tcp_listen(struct raw_listen_info *info)
{
    memset(info, 0, sizeof *info);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY), .sin_port = 0};
    socklen_t len = sizeof any;
    if (fd < 0 || bind(fd, (struct sockaddr *) &any, sizeof any) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *) &any, &len) != 0) {
        snprintf(info->reason, sizeof info->reason, "rank 1 cannot listen: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    struct ifaddrs *ifs = NULL, *loopback = NULL;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i != NULL && info->n_addrs < RAW_MAX_ADDRS; i = i->ifa_next) {
            if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) {
                continue;
            }
            if (i->ifa_flags & IFF_LOOPBACK) {
                loopback = i; /* last resort only: MPI's TCP transport skips loopback too */
                continue;
            }
            info->addrs[info->n_addrs++] = ((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr;
        }
        if (info->n_addrs == 0 && loopback != NULL) {
            info->addrs[info->n_addrs++] = ((struct sockaddr_in *) loopback->ifa_addr)->sin_addr.s_addr;
        }
        freeifaddrs(ifs);
    }
    if (info->n_addrs == 0) {
        snprintf(info->reason, sizeof info->reason, "rank 1 has no IPv4 address");
        close(fd);
        return -1;
    }
    info->port = ntohs(any.sin_port);
    return fd;
}

/* Rank 0: connect to the first of rank 1's addresses that answers within the timeout. */
static inline int raw_tcp_connect(const struct raw_listen_info *info)
{
    for (int k = 0; k < info->n_addrs; k++) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            return -1;
        }
        struct sockaddr_in to = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t) info->port),
                                 .sin_addr.s_addr = info->addrs[k]};
        int err = 0;
        socklen_t len = sizeof err;
        if (connect(fd, (struct sockaddr *) &to, sizeof to) != 0) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (errno != EINPROGRESS || poll(&p, 1, RAW_CONNECT_TIMEOUT_MS) != 1 ||
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                close(fd);
                continue;
            }
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return fd;
    }
    return -1;
}

/* Rank 1, once rank 0 says it connected: the connection, or -1 when none came (rank 0 reached some
 * other listener on one of these addresses) rather than waiting forever. */
static inline int raw_tcp_accept(int listener)
{
    struct pollfd p = {.fd = listener, .events = POLLIN};
    if (poll(&p, 1, RAW_ACCEPT_TIMEOUT_MS) != 1) {
        return -1;
    }
    return accept(listener, NULL, NULL);
}

static inline void raw_nodelay(int fd)
{
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- shared memory -------------------------------------------------------------------------- */

struct raw_shm {
    _Atomic uint32_t seq[2];     /* [0]: rank 0 -> 1, [1]: rank 1 -> 0; the last message published */
    _Atomic uint32_t waiting[2]; /* the receiver sleeps on seq[d] */
    char pad[48];
    char data[]; /* 2 x max_size: one buffer per direction */
};

static inline long raw_futex(_Atomic uint32_t *addr, int op, uint32_t value, const struct timespec *timeout)
{
    /* Not FUTEX_PRIVATE: the two ranks are separate processes sharing the mapping. */
    return syscall(SYS_futex, (uint32_t *) addr, op, value, timeout, NULL, 0);
}

static inline void raw_shm_post(struct raw_shm *shm, int d, uint32_t seq)
{
    atomic_store(&shm->seq[d], seq);
    if (atomic_load(&shm->waiting[d])) {
        raw_futex(&shm->seq[d], FUTEX_WAKE, 1, NULL);
    }
}

/* Wait until direction d has published seq: poll for up to RAW_SHM_SPIN_S, yielding between
 * rounds of polls (the peer may share this core), then sleep on the futex (the machine may have
 * fewer cores than busy processes). -1 after RAW_SHM_GIVE_UP_S without it. */
static inline int raw_shm_wait(struct raw_shm *shm, int d, uint32_t seq)
{
    const double spin_until = recapp_now() + RAW_SHM_SPIN_S;
    do {
        for (int k = 0; k < RAW_SHM_SPIN_POLLS; k++) {
            if (atomic_load_explicit(&shm->seq[d], memory_order_acquire) == seq) {
                return 0;
            }
        }
        sched_yield();
    } while (recapp_now() < spin_until);
    const double give_up = recapp_now() + RAW_SHM_GIVE_UP_S;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 100000000};
    for (;;) {
        atomic_store(&shm->waiting[d], 1);
        const uint32_t now = atomic_load(&shm->seq[d]);
        if (now == seq) {
            atomic_store(&shm->waiting[d], 0);
            return 0;
        }
        raw_futex(&shm->seq[d], FUTEX_WAIT, now, &tick);
        atomic_store(&shm->waiting[d], 0);
        if (atomic_load(&shm->seq[d]) == seq) {
            return 0;
        }
        if (recapp_now() > give_up) {
            return -1;
        }
    }
}

#endif /* RAW_LINK_H */
