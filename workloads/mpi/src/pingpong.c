/*
 * pingpong: latency and bandwidth between ranks 0 and 1, every payload checked.
 *
 * Exactly 2 ranks (anything else exits 2 with a message). For each message
 * size of PINGPONG_SIZES (8 B to 4 MiB, a factor of 8 apart) rank 0 sends a
 * message to rank 1, which sends one of the same size back; after
 * warm_up(size) untimed round trips, iterations(size) timed ones follow.
 *
 *   latency_us   = half the mean round-trip time, in microseconds
 *   bandwidth_mbs = bytes / latency, in MB/s (1 MB = 10^6 bytes)
 *
 * Payload validation: every message, warm-up included, is filled with a
 * pattern derived from (iteration, size, sender) and the receiver checks every
 * byte of it. Filling and checking are kept out of the timed window: before
 * each round trip rank 1 has filled its reply and posted its receive, and then
 * tells rank 0 so with an empty message; rank 0 starts the clock only after
 * that (OSU-style ping-pongs without validation need no such step).
 *
 * The physical limit first: before its MPI part the program runs the same ping-pong (sizes,
 * warm-up, iterations) between the same two ranks without MPI, over a plain TCP socket and, when
 * both ranks share a node, over POSIX shared memory (raw_link.h says what each is). Reports read
 * MPI's figures against these.
 *
 * RECAPP_PINGPONG_CORRUPT=1 in rank 0's environment makes rank 1 flip one bit
 * of the last byte of its last 4 MiB reply, so that validation must fail.
 *
 * Every rank prints   RANK rank=R size=S host=H
 * Rank 0 prints       PINGPONG_ENV size=2 peer=same_node|other_node host=H peer_host=H
 *                     RAWPING transport=tcp|shm bytes=B iterations=N latency_us=L bandwidth_mbs=W errors=E
 *                     RAWPING_SKIP transport=tcp|shm reason="R"   (a raw transport not measured)
 *                     PINGPONG bytes=B iterations=N latency_us=L bandwidth_mbs=W errors=E   (one per size)
 *                     PINGPONG_SUMMARY sizes=K messages=M errors=E validated=yes|no status=OK|FAIL
 * A rank that finds a bad payload prints (at most once per size)
 *                     PINGPONG_FAIL rank=R bytes=B iteration=I offset=O expected=X got=Y
 * Exit code: 0 OK, 1 a payload failed validation (on every rank), 2 bad usage.
 */
/* Linux sockets, getifaddrs and futex for the raw transports (raw_link.h). */
#define _GNU_SOURCE

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raw_link.h"
#include "recapp_mpi.h"

static const long PINGPONG_SIZES[] = {8, 64, 512, 4096, 32768, 262144, 1048576, 4194304};
#define N_SIZES ((int) (sizeof PINGPONG_SIZES / sizeof PINGPONG_SIZES[0]))
#define MAX_SIZE 4194304L

#define TAG_READY 1
#define TAG_PING 2
#define TAG_PONG 3

/* About 16 MiB of timed traffic per size each way, at least 20 and at most
 * 1000 round trips: small sizes need many samples, large ones few. */
static int iterations(long size)
{
    long n = (16L * 1024 * 1024) / size;
    return (int) (n < 20 ? 20 : n > 1000 ? 1000 : n);
}

static int warm_up(long size)
{
    return size <= 65536 ? 100 : 5;
}

/* splitmix64: a well-mixed word from (iteration, size, sender) and the word index. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t seed(long iteration, long size, int sender)
{
    return mix(((uint64_t) iteration << 32) ^ ((uint64_t) size << 2) ^ (uint64_t) sender);
}

/* Sizes are multiples of 8: the pattern is whole 64-bit words. Neighbouring
 * words differ by an odd multiplier, so a shifted or stale buffer fails too. */
static void fill(uint64_t *buf, long size, long iteration, int sender)
{
    const uint64_t s = seed(iteration, size, sender);
    for (long k = 0; k < size / 8; k++) {
        buf[k] = s ^ ((uint64_t) k * 0xff51afd7ed558ccdULL);
    }
}

/* Byte offset of the first bad word, or -1 when every byte is as sent. */
static long check(const uint64_t *buf, long size, long iteration, int sender, uint64_t *expected,
                  uint64_t *got)
{
    const uint64_t s = seed(iteration, size, sender);
    for (long k = 0; k < size / 8; k++) {
        const uint64_t want = s ^ ((uint64_t) k * 0xff51afd7ed558ccdULL);
        if (buf[k] != want) {
            *expected = want;
            *got = buf[k];
            return k * 8;
        }
    }
    return -1;
}

/* Values as 16 hex digits (records hold %s, %d, %ld, %f conversions only). */
static void report_fail(int rank, long size, long iteration, long offset, uint64_t expected, uint64_t got)
{
    char want[17], seen[17];
    snprintf(want, sizeof want, "%016" PRIx64, expected);
    snprintf(seen, sizeof seen, "%016" PRIx64, got);
    printf("PINGPONG_FAIL rank=%d bytes=%ld iteration=%ld offset=%ld expected=%s got=%s\n", rank, size,
           iteration, offset, want, seen);
    fflush(stdout);
}

/* Rank 0 fills, times the round trip, then compares the echo; rank 1 echoes. Raw transports
 * carry the same patterns as the MPI part (iteration, size, sender 0). */
typedef int (*raw_exchange_fn)(void *link, int rank, uint64_t *out, uint64_t *in, long bytes, uint32_t seq);

static void raw_pingpong(const char *transport, void *link, raw_exchange_fn exchange, int rank,
                         uint64_t *out, uint64_t *in)
{
    uint32_t seq = 0;
    for (int s = 0; s < N_SIZES; s++) {
        const long bytes = PINGPONG_SIZES[s];
        const int n_warm = warm_up(bytes), n_timed = iterations(bytes);
        long errors = 0;
        double elapsed = 0.0;
        for (long it = 0; it < n_warm + n_timed; it++) {
            if (rank == 0) {
                fill(out, bytes, it, 0);
            }
            const double t0 = recapp_now();
            if (exchange(link, rank, out, in, bytes, ++seq) != 0) {
                if (rank == 0) {
                    char why[96];
                    snprintf(why, sizeof why, "exchange of %ld bytes failed: %s", bytes, strerror(errno));
                    raw_skip(transport, why);
                }
                return;
            }
            if (rank == 0) {
                if (it >= n_warm) {
                    elapsed += recapp_now() - t0;
                }
                uint64_t expected, got;
                errors += check(in, bytes, it, 0, &expected, &got) >= 0;
            }
        }
        if (rank == 0) {
            raw_print(transport, bytes, n_timed, elapsed, errors);
        }
    }
}

static int tcp_exchange(void *link, int rank, uint64_t *out, uint64_t *in, long bytes, uint32_t seq)
{
    const int fd = *(int *) link;
    (void) seq;
    if (rank == 0) {
        return raw_write_all(fd, out, bytes) || raw_read_all(fd, in, bytes) ? -1 : 0;
    }
    return raw_read_all(fd, in, bytes) || raw_write_all(fd, in, bytes) ? -1 : 0;
}

static int shm_exchange(void *link, int rank, uint64_t *out, uint64_t *in, long bytes, uint32_t seq)
{
    struct raw_shm *shm = link;
    char *to_1 = shm->data, *to_0 = shm->data + MAX_SIZE;
    if (rank == 0) {
        memcpy(to_1, out, (size_t) bytes);
        raw_shm_post(shm, 0, seq);
        if (raw_shm_wait(shm, 1, seq) != 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        memcpy(in, to_0, (size_t) bytes);
        return 0;
    }
    if (raw_shm_wait(shm, 0, seq) != 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    memcpy(in, to_1, (size_t) bytes);
    memcpy(to_0, in, (size_t) bytes);
    raw_shm_post(shm, 1, seq);
    return 0;
}

/* A plain TCP connection between the two ranks, addresses exchanged through MPI. */
static void raw_tcp(int rank, uint64_t *out, uint64_t *in)
{
    struct raw_listen_info info;
    int listener = -1, fd = -1, connected = 0;
    if (rank == 1) {
        listener = raw_tcp_listen(&info);
    }
    MPI_Bcast(&info, (int) sizeof info, MPI_BYTE, 1, MPI_COMM_WORLD);
    if (rank == 0 && info.port != 0) {
        fd = raw_tcp_connect(&info);
        connected = fd >= 0;
    }
    MPI_Bcast(&connected, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 1 && connected) {
        fd = raw_tcp_accept(listener);
    }
    if (listener >= 0) {
        close(listener);
    }
    int ok = connected && fd >= 0, both = 0;
    MPI_Allreduce(&ok, &both, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (both) {
        raw_nodelay(fd);
        raw_pingpong("tcp", &fd, tcp_exchange, rank, out, in);
    } else if (rank == 0) {
        raw_skip("tcp", info.port == 0 ? info.reason : "rank 0 could not connect to any address of rank 1");
    }
    if (fd >= 0) {
        close(fd);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

/* A POSIX shared-memory segment that rank 0 creates and rank 1 maps (one node only). */
static void raw_shm(int rank, uint64_t *out, uint64_t *in)
{
    char name[64] = "";
    const size_t length = sizeof(struct raw_shm) + 2 * (size_t) MAX_SIZE;
    struct raw_shm *shm = MAP_FAILED;
    char why[96] = "";
    if (rank == 0) {
        snprintf(name, sizeof name, "/recapp-pingpong-%ld-%ld", (long) getpid(), (long) (recapp_now() * 1e6));
        const int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || ftruncate(fd, (off_t) length) != 0) {
            snprintf(why, sizeof why, "shm_open/ftruncate %s: %s", name, strerror(errno));
            name[0] = '\0';
        } else {
            shm = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        }
        if (fd >= 0) {
            close(fd);
        }
    }
    MPI_Bcast(name, (int) sizeof name, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank == 1 && name[0] != '\0') {
        const int fd = shm_open(name, O_RDWR, 0600);
        if (fd >= 0) {
            shm = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
        }
    }
    int ok = shm != MAP_FAILED, both = 0;
    MPI_Allreduce(&ok, &both, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0 && name[0] != '\0') {
        shm_unlink(name); /* both mapped it (or gave up): nothing left in /dev/shm */
    }
    if (both) {
        raw_pingpong("shm", shm, shm_exchange, rank, out, in);
    } else if (rank == 0) {
        raw_skip("shm", why[0] != '\0' ? why : "rank 1 could not map rank 0's segment");
    }
    if (shm != MAP_FAILED) {
        munmap(shm, length);
    }
    MPI_Barrier(MPI_COMM_WORLD);
}

int main(int argc, char **argv)
{
    int rank, size;
    char host[MPI_MAX_PROCESSOR_NAME];
    char peer_host[MPI_MAX_PROCESSOR_NAME];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) {
            fprintf(stderr, "pingpong: needs exactly 2 ranks (between rank 0 and rank 1), got %d\n", size);
        }
        MPI_Finalize();
        return 2;
    }
    recapp_host(host);
    recapp_print_rank(rank, size, host);

    /* Rank 0's environment decides for both (launchers differ in what they forward). */
    int corrupt = 0;
    if (rank == 0) {
        const char *value = getenv("RECAPP_PINGPONG_CORRUPT");
        corrupt = value != NULL && strcmp(value, "1") == 0;
    }
    MPI_Bcast(&corrupt, 1, MPI_INT, 0, MPI_COMM_WORLD);

    const int peer = 1 - rank;
    MPI_Sendrecv(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, peer, TAG_READY, peer_host, MPI_MAX_PROCESSOR_NAME,
                 MPI_CHAR, peer, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rank == 0) {
        printf("PINGPONG_ENV size=%d peer=%s host=%s peer_host=%s\n", size,
               strcmp(host, peer_host) == 0 ? "same_node" : "other_node", host, peer_host);
        if (corrupt) {
            printf("RECAPP_PINGPONG_CORRUPT=1: rank 1 corrupts one byte on purpose; validation must fail\n");
        }
        fflush(stdout);
    }

    uint64_t *out = malloc(MAX_SIZE);
    uint64_t *in = malloc(MAX_SIZE);
    if (out == NULL || in == NULL) {
        fprintf(stderr, "pingpong: rank %d: cannot allocate 2 x %ld bytes\n", rank, MAX_SIZE);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    /* The physical limit first, with the same placement: then MPI. */
    raw_tcp(rank, out, in);
    if (strcmp(host, peer_host) == 0) {
        raw_shm(rank, out, in);
    }

    long errors_total = 0, messages = 0;
    for (int s = 0; s < N_SIZES; s++) {
        const long bytes = PINGPONG_SIZES[s];
        const int n_warm = warm_up(bytes), n_timed = iterations(bytes);
        long errors = 0;
        double elapsed = 0.0;
        for (long it = 0; it < n_warm + n_timed; it++) {
            uint64_t expected = 0, got = 0;
            long offset;
            if (rank == 0) {
                fill(out, bytes, it, 0);
                MPI_Recv(NULL, 0, MPI_BYTE, 1, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                const double t0 = MPI_Wtime();
                MPI_Send(out, (int) bytes, MPI_BYTE, 1, TAG_PING, MPI_COMM_WORLD);
                MPI_Recv(in, (int) bytes, MPI_BYTE, 1, TAG_PONG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                if (it >= n_warm) {
                    elapsed += MPI_Wtime() - t0;
                }
                offset = check(in, bytes, it, 1, &expected, &got);
            } else {
                MPI_Request req;
                fill(out, bytes, it, 1);
                if (corrupt && bytes == MAX_SIZE && it == n_warm + n_timed - 1) {
                    ((unsigned char *) out)[bytes - 1] ^= 0x01;
                }
                MPI_Irecv(in, (int) bytes, MPI_BYTE, 0, TAG_PING, MPI_COMM_WORLD, &req);
                MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_READY, MPI_COMM_WORLD);
                MPI_Wait(&req, MPI_STATUS_IGNORE);
                MPI_Send(out, (int) bytes, MPI_BYTE, 0, TAG_PONG, MPI_COMM_WORLD);
                offset = check(in, bytes, it, 0, &expected, &got);
            }
            messages++;
            if (offset >= 0) {
                if (errors == 0) {
                    report_fail(rank, bytes, it, offset, expected, got);
                }
                errors++;
            }
        }
        /* Both ranks' errors for this size, on rank 0's line. */
        long all_errors = 0;
        MPI_Reduce(&errors, &all_errors, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        errors_total += errors;
        if (rank == 0) {
            const double latency_us = elapsed / n_timed / 2.0 * 1e6;
            const double bandwidth_mbs = (double) bytes / (latency_us * 1e-6) / 1e6;
            printf("PINGPONG bytes=%ld iterations=%d latency_us=%.3f bandwidth_mbs=%.6f errors=%ld\n", bytes,
                   n_timed, latency_us, bandwidth_mbs, all_errors);
            fflush(stdout);
        }
    }

    long all_errors = 0, all_messages = 0;
    MPI_Allreduce(&errors_total, &all_errors, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    MPI_Reduce(&messages, &all_messages, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("PINGPONG_SUMMARY sizes=%d messages=%ld errors=%ld validated=%s status=%s\n", N_SIZES,
               all_messages, all_errors, all_errors == 0 ? "yes" : "no", all_errors == 0 ? "OK" : "FAIL");
        fflush(stdout);
    }
    free(out);
    free(in);
    MPI_Finalize();
    return all_errors == 0 ? 0 : 1;
}
