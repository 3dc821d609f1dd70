/* Shared by the level probes: the verdict record and where this process runs. */
#ifndef LEVEL_PROBE_H
#define LEVEL_PROBE_H

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A process runs in the REC when it sees the REC's own wrap-container (recipes/rec.yaml installs it;
 * no APP carries it) or prted. No APP-side marker file: the Open MPI APP's ompi-config.txt is not in
 * an MPICH APP (its nested children were reported "not nested") nor in a user's APP. */
#define REC_MARKER "/usr/local/bin/wrap-container"
#define REC_DAEMON "/usr/bin/prted"

static inline void level_verdict(const char *level, int ok, int rank, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* Quoted values hold no '"': replace any an MPI error string might carry. */
    for (char *p = detail; *p; p++)
        if (*p == '"' || *p == '\n')
            *p = '\'';
    printf("LEVEL_PROBE level=%s status=%s rank=%d detail=\"%s\"\n", level, ok ? "OK" : "FAIL", rank, detail);
    fflush(stdout);
}

/* The RANK record the job runner checks placement with (rank and size in the probe's communicator). */
static inline void rank_record(int rank, int size, const char *host)
{
    printf("RANK rank=%d size=%d host=%s\n", rank, size, host);
    fflush(stdout);
}

/* Where one spawned child runs, as rank 0 of its parents heard it (MPI_Comm_spawn or PMIx_Spawn). */
static inline void spawn_child_record(int child, const char *host, const char *nested, const char *root,
                                      const char *parent_root)
{
    printf("SPAWN_CHILD child=%d host=%s nested=%s root=%s parent_root=%s\n", child, host, nested, root, parent_root);
    fflush(stdout);
}

static inline void mpi_error_text(int rc, char *out, size_t len)
{
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    snprintf(out, len, "%s", text);
}

/* "dev:ino" of this process's "/" (its mount namespace's root) and whether it is the APP's. */
static inline void root_identity(char *root, size_t len, int *nested)
{
    struct stat st;
    if (stat("/", &st) == 0)
        snprintf(root, len, "%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    else
        snprintf(root, len, "unknown");
    *nested = access(REC_MARKER, F_OK) != 0 && access(REC_DAEMON, F_OK) != 0;
}

#endif
