/*
 * librecapp-rank.so: an MPI profiling (PMPI) shim that makes any MPI program print recapp's
 *   RANK rank=R size=S host=H
 * record right after MPI_Init/MPI_Init_thread, from MPI itself (so singletons show size=1).
 * gmx-water preloads it into gmx_mpi (LD_PRELOAD): GROMACS prints nothing per rank, and the
 * launcher's environment does not carry the job size through wrap-container.
 *
 * The record goes to the file descriptor named by RECAPP_RANK_FD (gmx-water points it at its own
 * stdout while GROMACS's chatter goes to a file), or to stdout when that is unset.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_rank(void)
{
    int rank = -1, size = -1, len = 0;
    char host[MPI_MAX_PROCESSOR_NAME];
    char line[64 + MPI_MAX_PROCESSOR_NAME];

    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (MPI_Get_processor_name(host, &len) != MPI_SUCCESS || len <= 0) {
        snprintf(host, sizeof host, "unknown");
    }
    for (char *c = host; *c != '\0'; c++) {
        if (isspace((unsigned char) *c) || *c == '"' || *c == '=') {
            *c = '_';
        }
    }
    int n = snprintf(line, sizeof line, "RANK rank=%d size=%d host=%s\n", rank, size, host);
    const char *fd_text = getenv("RECAPP_RANK_FD");
    int fd = fd_text != NULL ? atoi(fd_text) : STDOUT_FILENO;
    if (n > 0 && write(fd, line, (size_t) n) != n) {
        fputs(line, stdout); /* the descriptor is gone: stdout rather than nothing */
        fflush(stdout);
    }
}

int MPI_Init(int *argc, char ***argv)
{
    int rc = PMPI_Init(argc, argv);
    if (rc == MPI_SUCCESS) {
        print_rank();
    }
    return rc;
}

int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    int rc = PMPI_Init_thread(argc, argv, required, provided);
    if (rc == MPI_SUCCESS) {
        print_rank();
    }
    return rc;
}
