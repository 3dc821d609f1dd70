/* L8: events. After a PMIx fence (met while MPI keeps progressing) the last rank exits with status
 * VICTIM_EXIT without MPI_Finalize (a rank that dies); every other rank has registered a PMIx event
 * handler and must be told which rank ended, by its runtime (PRRTE sends the notification only for
 * a job started with `--runtime-options recoverable,notifyerrors`; otherwise it tears the job
 * down). The survivors then leave through PMIx_Finalize, so the runtime sees them end in order and
 * the job ends by itself. Verdict (each survivor): OK when it was told, within WAIT_S, that the
 * victim ended. */
#include "level_probe.h"

#include <pmix.h>
#include <stdlib.h>
#include <time.h>

#define VICTIM_EXIT 7
#define WAIT_S 60

static volatile int told = 0;
static volatile pmix_rank_t told_rank = PMIX_RANK_UNDEF;
static volatile pmix_status_t told_code = PMIX_SUCCESS;

static void on_event(size_t id, pmix_status_t status, const pmix_proc_t *source, pmix_info_t info[],
                     size_t ninfo, pmix_info_t results[], size_t nresults,
                     pmix_event_notification_cbfunc_fn_t cbfunc, void *cbdata)
{
    (void)id, (void)results, (void)nresults;
    pmix_rank_t who = source ? source->rank : PMIX_RANK_UNDEF;
    /* The proc the event is about, when the runtime names it apart from the source. */
    for (size_t i = 0; i < ninfo; i++)
        if (PMIX_CHECK_KEY(&info[i], PMIX_EVENT_AFFECTED_PROC) && info[i].value.type == PMIX_PROC)
            who = info[i].value.data.proc->rank;
    if (!told) {
        told_rank = who;
        told_code = status;
        told = 1;
    }
    /* Handled here: Open MPI's own default handler would abort this rank. */
    if (cbfunc)
        cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

/* PMIx_Fence_nb's callback (PMIx's progress thread): the probe's main thread polls `done`. */
struct fence_wait {
    volatile int *done;
    pmix_status_t *status;
};

static void fence_done(pmix_status_t status, void *cbdata)
{
    struct fence_wait *wait = cbdata;
    *wait->status = status;
    *wait->done = 1;
}

int main(int argc, char **argv)
{
    int rank = -1, size = 0, len = 0;
    char host[MPI_MAX_PROCESSOR_NAME];
    pmix_proc_t me;
    /* What PRRTE sends about a proc that ended (errmgr_dvm.c), each where this PMIx names it. */
    pmix_status_t codes[] = {
#ifdef PMIX_ERR_PROC_ABORTED
        PMIX_ERR_PROC_ABORTED,
#endif
#ifdef PMIX_ERR_PROC_TERM_WO_SYNC
        PMIX_ERR_PROC_TERM_WO_SYNC,
#endif
#ifdef PMIX_ERR_EXIT_NONZERO_TERM
        PMIX_ERR_EXIT_NONZERO_TERM,
#endif
#ifdef PMIX_ERR_PROC_ABORTED_BY_SIG
        PMIX_ERR_PROC_ABORTED_BY_SIG,
#endif
#ifdef PMIX_ERR_PROC_REQUESTED_ABORT
        PMIX_ERR_PROC_REQUESTED_ABORT,
#endif
#ifdef PMIX_ERR_PROC_KILLED_BY_CMD
        PMIX_ERR_PROC_KILLED_BY_CMD,
#endif
#ifdef PMIX_EVENT_PROC_TERMINATED
        PMIX_EVENT_PROC_TERMINATED,
#endif
    };

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    rank_record(rank, size, host);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    /* A second PMIx_Init in an MPI process only counts a reference: the same connection as MPI's. */
    pmix_status_t rc = PMIx_Init(&me, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        level_verdict("L8", 0, rank, "PMIx_Init: %s", PMIx_Error_string(rc));
        MPI_Finalize();
        return 1;
    }
    /* First in line: Open MPI's own handler, which otherwise runs first, aborts the process
     * ("mpi_errors_are_fatal unknown handle"). Blocking registration (no callback): the handler is
     * in place before the barrier. */
    pmix_info_t first;
    bool yes = true;
    PMIX_INFO_LOAD(&first, PMIX_EVENT_HDLR_FIRST, &yes, PMIX_BOOL);
    rc = PMIx_Register_event_handler(codes, sizeof codes / sizeof codes[0], &first, 1, on_event, NULL, NULL);
    PMIX_INFO_DESTRUCT(&first);
    if (rc < 0) {
        level_verdict("L8", 0, rank, "PMIx_Register_event_handler: %s", PMIx_Error_string(rc));
        MPI_Finalize();
        return 1;
    }
    int victim = size - 1;
    /* Every handler is in place before the victim ends: all ranks meet at a PMIx fence while
     * driving MPI's progress. MPI promises progress only inside MPI calls, and MPICH 4.0.2 (ch4:ofi
     * over libfabric's tcp provider) relies on it: a rank that leaves MPI_Init or MPI_Barrier first
     * can hold back what its node's other rank still waits for. A blocking MPI_Barrier left ranks 1 and 3 in the barrier, a
     * blocking PMIx_Fence left rank 3 in MPI_Init (its peer sat in the fence, outside MPI). */
    volatile int fenced = 0;
    pmix_status_t fence_rc = PMIX_SUCCESS;
    struct fence_wait wait = {&fenced, &fence_rc};
    rc = PMIx_Fence_nb(NULL, 0, NULL, 0, fence_done, &wait);
    if (rc == PMIX_OPERATION_SUCCEEDED) {
        fenced = 1;
    } else if (rc != PMIX_SUCCESS) {
        fence_rc = rc;
        fenced = 1;
    }
    while (!fenced) {
        int flag;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    if (fence_rc != PMIX_SUCCESS) {
        level_verdict("L8", 0, rank, "PMIx_Fence_nb: %s", PMIx_Error_string(fence_rc));
        MPI_Finalize();
        return 1;
    }
    if (rank == victim) {
        printf("EVENT_VICTIM rank=%d exit=%d\n", rank, VICTIM_EXIT);
        fflush(stdout);
        _exit(VICTIM_EXIT);
    }
    time_t until = time(NULL) + WAIT_S;
    while (!told && time(NULL) < until) {
        struct timespec tenth = {0, 100000000L};
        nanosleep(&tenth, NULL);
    }
    int ok = told && told_rank == (pmix_rank_t)victim;
    if (!told)
        level_verdict("L8", 0, rank, "not told within %d s that rank %d ended", WAIT_S, victim);
    else
        level_verdict("L8", ok, rank, "told that rank %u ended (%s); expected rank %d", (unsigned)told_rank,
                      PMIx_Error_string(told_code), victim);
    /* The survivors meet once more, after every verdict is printed, before any of them ends: PRRTE
     * below 4.1.0 counts a recoverable job's non-zero exit twice (errmgr_dvm and track_procs; fixed
     * by 0ae1627454), so it ends the job when all but one survivor have ended, and that last one's
     * verdict, printed just before, could be lost with its daemon. */
    pmix_proc_t *alive = calloc((size_t)size, sizeof *alive);
    size_t nalive = 0;
    for (int r = 0; alive && r < size; r++)
        if (r != victim)
            PMIX_LOAD_PROCID(&alive[nalive++], me.nspace, (pmix_rank_t)r);
    if (alive)
        (void)PMIx_Fence(alive, nalive, NULL, 0); /* the verdict stands whatever this returns */
    free(alive);
    /* Leave in order without MPI_Finalize, whose fence would wait for the dead rank: both PMIx
     * references (this probe's and MPI's) go, so the runtime sees a finalized process. */
    PMIx_Finalize(NULL, 0);
    PMIx_Finalize(NULL, 0);
    _exit(ok ? 0 : 1);
}
