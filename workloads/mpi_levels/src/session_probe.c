/* L7: MPI-4 sessions and process sets. Without MPI_Init: MPI_Session_init, the process sets the
 * runtime names (from PMIx), the group of mpi://WORLD, a communicator from that group, and an
 * allreduce on it whose result is checked. An MPI library older than MPI-4 has none of this: the
 * verdict says so (it compiles against it, so every APP image carries the probe). */
#include "level_probe.h"

#if MPI_VERSION >= 4 || defined(MPI_SESSION_NULL)
static int probe(void)
{
    MPI_Session session = MPI_SESSION_NULL;
    MPI_Group group = MPI_GROUP_NULL;
    MPI_Comm comm = MPI_COMM_NULL;
    char why[MPI_MAX_ERROR_STRING], psets[256] = "", name[128], host[MPI_MAX_PROCESSOR_NAME];
    int rc, npsets = 0, rank = -1, size = 0, len = 0, has_world = 0;

    rc = MPI_Session_init(MPI_INFO_NULL, MPI_ERRORS_RETURN, &session);
    if (rc != MPI_SUCCESS) {
        mpi_error_text(rc, why, sizeof why);
        level_verdict("L7", 0, -1, "MPI_Session_init: %s", why);
        return 1;
    }
    rc = MPI_Session_get_num_psets(session, MPI_INFO_NULL, &npsets);
    for (int i = 0; rc == MPI_SUCCESS && i < npsets; i++) {
        int n = sizeof name;
        if (MPI_Session_get_nth_pset(session, MPI_INFO_NULL, i, &n, name) != MPI_SUCCESS)
            continue;
        has_world |= strcmp(name, "mpi://WORLD") == 0;
        size_t used = strlen(psets);
        snprintf(psets + used, sizeof psets - used, "%s%s", used ? "," : "", name);
    }
    if (rc != MPI_SUCCESS || !has_world) {
        level_verdict("L7", 0, -1, "process sets: %s (%d), no mpi://WORLD", psets, npsets);
        MPI_Session_finalize(&session);
        return 1;
    }
    rc = MPI_Group_from_session_pset(session, "mpi://WORLD", &group);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_create_from_group(group, "org.recapp.L7", MPI_INFO_NULL, MPI_ERRORS_RETURN, &comm);
    if (rc != MPI_SUCCESS) {
        mpi_error_text(rc, why, sizeof why);
        level_verdict("L7", 0, -1, "communicator from mpi://WORLD: %s", why);
        MPI_Session_finalize(&session);
        return 1;
    }
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    MPI_Get_processor_name(host, &len);
    rank_record(rank, size, host);
    long mine = rank + 1, sum = 0, want = (long)size * (size + 1) / 2;
    rc = MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, comm);
    int ok = rc == MPI_SUCCESS && sum == want;
    level_verdict("L7", ok, rank, "psets %s; allreduce on mpi://WORLD communicator gave %ld, expected %ld", psets,
                  sum, want);
    MPI_Group_free(&group);
    MPI_Comm_free(&comm);
    MPI_Session_finalize(&session);
    return ok ? 0 : 1;
}
#endif

int main(void)
{
#if MPI_VERSION >= 4 || defined(MPI_SESSION_NULL)
    return probe();
#else
    level_verdict("L7", 0, -1, "not supported: the MPI library implements MPI-%d.%d, sessions are MPI-4", MPI_VERSION,
                  MPI_SUBVERSION);
    return 1;
#endif
}
