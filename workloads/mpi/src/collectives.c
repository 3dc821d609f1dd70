/*
 * collectives: checks the results of the collectives every MPI program leans on.
 *
 * Allreduce (sum of ranks), Bcast (a value from the last rank), Allgather
 * (every rank's id) and Reduce (max to rank 0), each compared with the value
 * computed locally. Rank 0 prints one COLLECTIVES record; every rank prints
 * its RANK record. Exit 1 on every rank when any check fails.
 */
#include <stdlib.h>

#include "recapp_mpi.h"

int main(int argc, char **argv)
{
    int rank = 0, size = 0, failures = 0;
    char host[MPI_MAX_PROCESSOR_NAME];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    recapp_host(host);
    recapp_print_rank(rank, size, host);

    long sum = 0, expected_sum = (long) size * (size - 1) / 2, mine = rank;
    MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (sum != expected_sum) {
        failures++;
    }

    int token = (rank == size - 1) ? 4242 + size : -1;
    MPI_Bcast(&token, 1, MPI_INT, size - 1, MPI_COMM_WORLD);
    if (token != 4242 + size) {
        failures++;
    }

    int *all = malloc(sizeof(int) * (size_t) size);
    if (all == NULL) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int id = rank * 7 + 1;
    MPI_Allgather(&id, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < size; i++) {
        if (all[i] != i * 7 + 1) {
            failures++;
            break;
        }
    }
    free(all);

    int max = 0;
    MPI_Reduce(&rank, &max, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0 && max != size - 1) {
        failures++;
    }

    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("COLLECTIVES size=%d allreduce=%ld expected=%ld failures=%d status=%s\n", size, sum,
               expected_sum, total, total == 0 ? "OK" : "FAIL");
        fflush(stdout);
    }
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
