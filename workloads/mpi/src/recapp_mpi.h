/*
 * Helpers shared by the MPI examples.
 *
 * recapp parses what these programs print, so every record is one line:
 * a TAG, then `key=value` pairs separated by single spaces. Values never
 * contain spaces or double quotes unless the value is double-quoted.
 */
#ifndef RECAPP_MPI_H
#define RECAPP_MPI_H

#include <ctype.h>
#include <mpi.h>
#include <stdio.h>
#include <time.h>

/* Replace characters that would break a `key=value` record. */
static inline void recapp_sanitize(char *s, char replacement)
{
    for (; *s != '\0'; s++) {
        if (isspace((unsigned char) *s) || *s == '"' || *s == '=') {
            *s = replacement;
        }
    }
}

/* The host as MPI sees it; recapp checks it against the expected node. */
static inline void recapp_host(char host[MPI_MAX_PROCESSOR_NAME])
{
    int len = 0;
    if (MPI_Get_processor_name(host, &len) != MPI_SUCCESS || len <= 0) {
        snprintf(host, MPI_MAX_PROCESSOR_NAME, "unknown");
    }
    recapp_sanitize(host, '_');
}

/* Every rank prints one RANK record, so a run that silently lands on one
 * node (mpi-operator #842) is caught by counting ranks per host. */
static inline void recapp_print_rank(int rank, int size, const char *host)
{
    printf("RANK rank=%d size=%d host=%s\n", rank, size, host);
    fflush(stdout);
}

/* Wall clock that works before MPI_Init and after MPI_Finalize
 * (MPI_Wtime does not). */
static inline double recapp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

#endif /* RECAPP_MPI_H */
