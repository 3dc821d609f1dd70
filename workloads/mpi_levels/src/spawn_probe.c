/* L5: dynamic processes. The parents (the launched job) spawn CHILDREN children of this same
 * program with MPI_Comm_spawn; each child tells rank 0 of the parents, over the intercommunicator,
 * where it runs: its host and whether its root filesystem is the APP's. A child started by the REC's
 * daemons outside the APP cannot even start: this program exists only in the APP.
 * Verdict (rank 0): OK when every child answered and every child is nested in the APP. */
#include "level_probe.h"

#include <stdlib.h>

#define CHILDREN 2
#define INFO_LEN 512

static int child(MPI_Comm parent)
{
    int rank = -1, token = 0, nested = 0, len = 0;
    char host[MPI_MAX_PROCESSOR_NAME], root[64], info[INFO_LEN];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Get_processor_name(host, &len);
    root_identity(root, sizeof root, &nested);
    MPI_Recv(&token, 1, MPI_INT, 0, 1, parent, MPI_STATUS_IGNORE);
    snprintf(info, sizeof info, "%d %s %s %s", token + rank, host, nested ? "yes" : "no", root);
    MPI_Send(info, INFO_LEN, MPI_CHAR, 0, 2, parent);
    MPI_Comm_disconnect(&parent);
    MPI_Finalize();
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Comm parent, children;
    int rank = -1, size = 0, len = 0, nested = 0, ok = 1;
    int codes[CHILDREN];
    char host[MPI_MAX_PROCESSOR_NAME], root[64], why[MPI_MAX_ERROR_STRING];
    char *child_argv[] = {"child", NULL};

    MPI_Init(&argc, &argv);
    MPI_Comm_get_parent(&parent);
    if (parent != MPI_COMM_NULL)
        return child(parent);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    root_identity(root, sizeof root, &nested);
    rank_record(rank, size, host);

    /* Errors are the verdict here, not a reason to abort the job. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rc = MPI_Comm_spawn(argv[0], child_argv, CHILDREN, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &children, codes);
    if (rc != MPI_SUCCESS) {
        mpi_error_text(rc, why, sizeof why);
        level_verdict("L5", 0, rank, "MPI_Comm_spawn of %d x %s: %s", CHILDREN, argv[0], why);
        MPI_Finalize();
        return 1;
    }
    if (rank == 0) {
        int answered = 0, all_nested = 1;
        for (int c = 0; c < CHILDREN; c++) {
            int token = 1000 * (c + 1);
            char info[INFO_LEN], chost[INFO_LEN], cnested[8], croot[64];
            int got = -1;
            MPI_Send(&token, 1, MPI_INT, c, 1, children);
            MPI_Recv(info, INFO_LEN, MPI_CHAR, c, 2, children, MPI_STATUS_IGNORE);
            info[INFO_LEN - 1] = '\0';
            if (sscanf(info, "%d %255s %7s %63s", &got, chost, cnested, croot) != 4 || got != token + c) {
                level_verdict("L5", 0, rank, "child %d answered %s, expected token %d", c, info, token + c);
                ok = 0;
                continue;
            }
            answered++;
            all_nested &= strcmp(cnested, "yes") == 0;
            spawn_child_record(c, chost, cnested, croot, root);
        }
        if (ok && !all_nested)
            level_verdict("L5", 0, rank, "%d children answered, but not every child runs in the APP", answered);
        else if (ok)
            level_verdict("L5", 1, rank, "%d children spawned, answered and run nested in the APP", answered);
        ok = ok && all_nested;
    } else {
        level_verdict("L5", 1, rank, "spawn returned on this parent");
    }
    fflush(stdout);
    MPI_Comm_disconnect(&children);
    MPI_Finalize();
    return ok ? 0 : 1;
}
