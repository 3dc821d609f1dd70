/* L6: name publishing and connect/accept between two separate jobs of one PRRTE DVM. The level runs
 * this program twice at once: `pubsub_probe server` opens a port, publishes it under SERVICE
 * (MPI_Publish_name, kept by the DVM's PMIx data server) and accepts; `pubsub_probe client` looks
 * the name up (MPI_Lookup_name, retried while the server starts) and connects. Both sides then
 * merge the intercommunicator and check an allreduce over every rank of both jobs.
 * Verdict (every rank): OK when the name was found, the jobs connected with the expected sizes
 * and the allreduce over both jobs gave the expected sum. */
#include "level_probe.h"

#include <stdlib.h>
#include <time.h>

#define SERVICE "org.recapp.L6"
#define LOOKUP_TRIES 120 /* × 0.5 s: the server job may start well after the client on a busy host */

static void nap(void)
{
    struct timespec half = {0, 500000000L};
    nanosleep(&half, NULL);
}

int main(int argc, char **argv)
{
    char port[MPI_MAX_PORT_NAME] = "", why[MPI_MAX_ERROR_STRING], host[MPI_MAX_PROCESSOR_NAME];
    int rank = -1, size = 0, len = 0, rc = MPI_SUCCESS, found = 0, tries = 0;
    MPI_Comm inter = MPI_COMM_NULL, merged = MPI_COMM_NULL;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    rank_record(rank, size, host);
    if (argc != 2 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0)) {
        level_verdict("L6", 0, rank, "usage: pubsub_probe server|client");
        MPI_Finalize();
        return 2;
    }
    int server = strcmp(argv[1], "server") == 0;
    /* Errors are the verdict here, not a reason to abort the job. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);

    if (rank == 0) {
        if (server) {
            rc = MPI_Open_port(MPI_INFO_NULL, port);
            if (rc == MPI_SUCCESS)
                rc = MPI_Publish_name(SERVICE, MPI_INFO_NULL, port);
            found = rc == MPI_SUCCESS;
        } else {
            for (tries = 1; tries <= LOOKUP_TRIES; tries++) {
                rc = MPI_Lookup_name(SERVICE, MPI_INFO_NULL, port);
                if (rc == MPI_SUCCESS) {
                    found = 1;
                    break;
                }
                nap();
            }
        }
    }
    /* Every rank learns whether there is a port: none must wait in accept/connect for nothing. */
    MPI_Bcast(&found, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!found) {
        mpi_error_text(rc, why, sizeof why);
        level_verdict("L6", 0, rank, "%s %s: %s", server ? "MPI_Publish_name of" : "MPI_Lookup_name of", SERVICE,
                      why);
        MPI_Finalize();
        return 1;
    }
    if (server)
        rc = MPI_Comm_accept(port, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter);
    else
        rc = MPI_Comm_connect(port, MPI_INFO_NULL, 0, MPI_COMM_WORLD, &inter);
    if (rc != MPI_SUCCESS) {
        mpi_error_text(rc, why, sizeof why);
        level_verdict("L6", 0, rank, "%s: %s", server ? "MPI_Comm_accept" : "MPI_Comm_connect", why);
        MPI_Finalize();
        return 1;
    }
    int remote = 0, total = 0;
    long mine, sum = 0, want;
    MPI_Comm_remote_size(inter, &remote);
    rc = MPI_Intercomm_merge(inter, server ? 0 : 1, &merged);
    if (rc == MPI_SUCCESS) {
        int mrank = -1;
        MPI_Comm_rank(merged, &mrank);
        MPI_Comm_size(merged, &total);
        mine = mrank + 1;
        want = (long)total * (total + 1) / 2;
        rc = MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, merged);
    } else {
        want = -1;
    }
    int ok = rc == MPI_SUCCESS && total == size + remote && sum == want;
    level_verdict("L6", ok, rank, "%s: %s %s%s, connected to a job of %d rank(s); allreduce over %d ranks gave %ld, expected %ld",
                  argv[1], server ? "published" : "looked up", SERVICE,
                  server ? "" : (tries > 1 ? " (after retries)" : ""), remote, total, sum, want);
    if (server && rank == 0) {
        MPI_Unpublish_name(SERVICE, MPI_INFO_NULL, port);
        MPI_Close_port(port);
    }
    if (merged != MPI_COMM_NULL)
        MPI_Comm_free(&merged);
    MPI_Comm_disconnect(&inter);
    MPI_Finalize();
    return ok ? 0 : 1;
}
