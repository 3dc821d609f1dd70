/*
 * init_finalize: the talk's launch/teardown timing test.
 *
 * Every rank prints   RANK rank=R size=S host=H          (before MPI_Finalize)
 * Rank 0 prints       INIT_FINALIZE size=S init_s=… barrier_s=… finalize_s=…
 *                                   init_finalize_s=… total_s=…   (seconds, %.6f)
 *
 * init_s and barrier_s are the maximum over all ranks (the slowest rank is
 * what a job waits for). finalize_s is rank 0's own MPI_Finalize: once MPI is
 * gone the ranks can no longer send their times anywhere, so each can only
 * measure itself, and only rank 0 prints. init_finalize_s = init_s +
 * finalize_s as printed. total_s is rank 0's wall clock from the start of
 * main() to just before it returns; launch time before main() is the
 * launcher's to measure.
 */
#define _POSIX_C_SOURCE 200809L

#include "recapp_mpi.h"

int main(int argc, char **argv)
{
    const double t_main = recapp_now();
    int rank, size;
    char host[MPI_MAX_PROCESSOR_NAME];

    MPI_Init(&argc, &argv);
    const double t_init = recapp_now();
    MPI_Barrier(MPI_COMM_WORLD);
    const double t_barrier = recapp_now();

    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    double mine[2] = {t_init - t_main, t_barrier - t_init};
    double slowest[2] = {0.0, 0.0};
    MPI_Reduce(mine, slowest, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

    recapp_host(host);
    recapp_print_rank(rank, size, host);

    const double t_fin_start = recapp_now();
    MPI_Finalize();
    const double finalize_s = recapp_now() - t_fin_start;

    if (rank == 0) {
        const double total_s = recapp_now() - t_main;
        printf("INIT_FINALIZE size=%d init_s=%.6f barrier_s=%.6f finalize_s=%.6f init_finalize_s=%.6f "
               "total_s=%.6f\n",
               size, slowest[0], slowest[1], finalize_s, slowest[0] + finalize_s, total_s);
        fflush(stdout);
    }
    return 0;
}
