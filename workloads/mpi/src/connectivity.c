/*
 * connectivity: every pair of ranks exchanges a message in both directions
 * and checks its content.
 *
 * Every rank prints   RANK rank=R size=S host=H
 * Rank 0 prints       CONNECTIVITY size=S pairs=P status=OK|FAIL
 * Exit code: 0 OK, 1 FAIL (on every rank). Each bad message is named on stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include "recapp_mpi.h"

/* 1 KiB: above the size of a header-only message, still eager everywhere. */
#define MSG_INTS 256

/* A pattern that differs for every (sender, receiver, word), so a message
 * delivered to the wrong rank or mixed up with another one is caught. */
static unsigned pattern(int sender, int receiver, int i)
{
    return (unsigned) sender * 2654435761u ^ (unsigned) receiver * 40503u ^ (unsigned) i;
}

int main(int argc, char **argv)
{
    int rank, size;
    char host[MPI_MAX_PROCESSOR_NAME];
    unsigned out[MSG_INTS], in[MSG_INTS];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    recapp_host(host);
    recapp_print_rank(rank, size, host);

    /* Round k: send to rank+k, receive from rank-k. Over k = 1..size-1 this
     * covers every ordered pair, i.e. each pair in both directions, and the
     * paired Sendrecv cannot deadlock. */
    int bad = 0;
    for (int k = 1; k < size; k++) {
        const int to = (rank + k) % size;
        const int from = (rank + size - k) % size;
        for (int i = 0; i < MSG_INTS; i++) {
            out[i] = pattern(rank, to, i);
            in[i] = 0;
        }
        MPI_Status status;
        int count = 0;
        MPI_Sendrecv(out, MSG_INTS, MPI_UNSIGNED, to, k, in, MSG_INTS, MPI_UNSIGNED, from, k, MPI_COMM_WORLD,
                     &status);
        MPI_Get_count(&status, MPI_UNSIGNED, &count);
        int wrong = count != MSG_INTS;
        for (int i = 0; i < MSG_INTS && !wrong; i++) {
            wrong = in[i] != pattern(from, rank, i);
        }
        if (wrong) {
            fprintf(stderr, "connectivity: rank %d on %s got a bad message from rank %d (%d words)\n", rank,
                    host, from, count);
            bad++;
        }
    }

    int total_bad = 0;
    MPI_Allreduce(&bad, &total_bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("CONNECTIVITY size=%d pairs=%ld status=%s\n", size, (long) size * (size - 1) / 2,
               total_bad == 0 ? "OK" : "FAIL");
        fflush(stdout);
    }

    MPI_Finalize();
    return total_bad == 0 ? 0 : 1;
}
