/*
 * ring: pass an integer token around the ranks for LAPS laps (argv[1],
 * default 10); each rank adds its rank on every pass.
 *
 * Every rank prints   RANK rank=R size=S host=H
 * Rank 0 prints       RING size=S laps=L token=T expected=E status=OK|FAIL
 * Exit code: 0 OK, 1 FAIL (on every rank), 2 bad argument.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>

#include "recapp_mpi.h"

/* Keeps laps * size * (size - 1) / 2 far inside a long long. */
#define MAX_LAPS 1000000L

static long parse_laps(int argc, char **argv)
{
    if (argc < 2) {
        return 10;
    }
    char *end = NULL;
    errno = 0;
    long laps = strtol(argv[1], &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0' || laps < 1 || laps > MAX_LAPS) {
        return -1;
    }
    return laps;
}

int main(int argc, char **argv)
{
    int rank, size;
    char host[MPI_MAX_PROCESSOR_NAME];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* Every rank parses the same argv, so all of them stop together. */
    const long laps = parse_laps(argc, argv);
    if (laps < 0) {
        if (rank == 0) {
            fprintf(stderr, "ring: laps must be an integer in 1..%ld, got '%s'\n", MAX_LAPS, argv[1]);
        }
        MPI_Finalize();
        return 2;
    }

    recapp_host(host);
    recapp_print_rank(rank, size, host);

    const int right = (rank + 1) % size;
    const int left = (rank + size - 1) % size;
    long long token = 0;
    for (long lap = 0; lap < laps; lap++) {
        if (rank == 0) {
            /* Non-blocking send: with one rank, 0 sends to itself. */
            MPI_Request req;
            token += rank;
            MPI_Isend(&token, 1, MPI_LONG_LONG, right, 0, MPI_COMM_WORLD, &req);
            long long incoming = 0;
            MPI_Recv(&incoming, 1, MPI_LONG_LONG, left, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Wait(&req, MPI_STATUS_IGNORE);
            token = incoming;
        } else {
            MPI_Recv(&token, 1, MPI_LONG_LONG, left, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            token += rank;
            MPI_Send(&token, 1, MPI_LONG_LONG, right, 0, MPI_COMM_WORLD);
        }
    }

    int ok = 1;
    if (rank == 0) {
        const long long expected = (long long) laps * size * (size - 1) / 2;
        ok = token == expected;
        printf("RING size=%d laps=%ld token=%lld expected=%lld status=%s\n", size, laps, token, expected,
               ok ? "OK" : "FAIL");
        fflush(stdout);
    }
    /* Every rank exits with the verdict, whichever rank the launcher reports. */
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);

    MPI_Finalize();
    return ok ? 0 : 1;
}
