/*
 * hello: each rank prints
 *   HELLO rank=R size=S host=H pid=P mpi_version="<first line of MPI_Get_library_version>"
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <unistd.h>

#include "recapp_mpi.h"

int main(int argc, char **argv)
{
    int rank, size, len = 0;
    char host[MPI_MAX_PROCESSOR_NAME];
    char version[MPI_MAX_LIBRARY_VERSION_STRING];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    recapp_host(host);

    MPI_Get_library_version(version, &len);
    version[strcspn(version, "\r\n")] = '\0'; /* first line only */
    for (char *c = version; *c != '\0'; c++) {
        if (*c == '"') {
            *c = '\''; /* the value is double-quoted */
        }
    }

    printf("HELLO rank=%d size=%d host=%s pid=%ld mpi_version=\"%s\"\n", rank, size, host,
           (long) getpid(), version);
    fflush(stdout);

    MPI_Finalize();
    return 0;
}
