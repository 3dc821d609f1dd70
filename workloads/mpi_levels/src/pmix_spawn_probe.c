/* L5 beside MPI_Comm_spawn: PMIx_Spawn called directly, as a runtime or tool does, no MPI. Rank 0 of
 * the launched job spawns CHILDREN copies of this program; each child puts where it runs (host,
 * whether its root filesystem is the APP's, the root's identity) under a key and commits. Rank 0
 * reads each child's key across the two namespaces with PMIx_Get (the servers' direct modex), prints
 * a SPAWN_CHILD record, then commits a key of its own that the children wait for (PMIx_Get) before
 * they finalize: their data lives only as long as their job. Rank 0 itself stays until the children's
 * job has ended (PMIX_NOTIFY_COMPLETION, a PMIX_EVENT_JOB_END event; at most WAIT_S), so that its
 * key outlives their reading it. No PMIx_Connect: with it, PRRTE 3.0.8's
 * prterun failed the connect of parent rank 0 with the children ("PRTE ERROR: Not found" in
 * grpcomm_base_stubs.c create_dmns) and the job hung. A child started by the REC's daemons outside
 * the APP cannot start at all: this program exists only in the APP.
 * Verdict (rank 0): OK when every child answered and every child runs nested in the APP. */
#include "level_probe.h"

#include <pmix.h>
#include <stdlib.h>

#define CHILDREN 2
#define KEY "org.recapp.l5.where"
#define DONE "org.recapp.l5.done"
#define WAIT_S 60

static volatile int children_ended = 0;

static void on_job_end(size_t id, pmix_status_t status, const pmix_proc_t *source, pmix_info_t info[],
                       size_t ninfo, pmix_info_t results[], size_t nresults,
                       pmix_event_notification_cbfunc_fn_t cbfunc, void *cbdata)
{
    (void)id, (void)status, (void)source, (void)info, (void)ninfo, (void)results, (void)nresults;
    children_ended = 1;
    if (NULL != cbfunc)
        cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

static void timeout_info(pmix_info_t *info)
{
    int seconds = WAIT_S;
    PMIX_INFO_LOAD(info, PMIX_TIMEOUT, &seconds, PMIX_INT);
}

static int child(const pmix_proc_t *me, const char *parent_ns)
{
    char host[256], root[64], where[512];
    int nested = 0;
    pmix_value_t value, *done = NULL;
    pmix_proc_t parent;
    pmix_info_t info;
    pmix_status_t rc;

    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    root_identity(root, sizeof root, &nested);
    snprintf(where, sizeof where, "%s %s %s", host, nested ? "yes" : "no", root);
    PMIX_VALUE_CONSTRUCT(&value);
    PMIX_VALUE_LOAD(&value, where, PMIX_STRING);
    rc = PMIx_Put(PMIX_GLOBAL, KEY, &value);
    PMIX_VALUE_DESTRUCT(&value);
    if (PMIX_SUCCESS == rc)
        rc = PMIx_Commit();
    /* Wait until the parent has read us. */
    PMIX_LOAD_PROCID(&parent, parent_ns, 0);
    timeout_info(&info);
    if (PMIX_SUCCESS == rc)
        rc = PMIx_Get(&parent, DONE, &info, 1, &done);
    PMIX_INFO_DESTRUCT(&info);
    if (NULL != done)
        PMIX_VALUE_RELEASE(done);
    if (PMIX_SUCCESS != rc)
        fprintf(stderr, "pmix_spawn_probe child %u: %s\n", me->rank, PMIx_Error_string(rc));
    PMIx_Finalize(NULL, 0);
    return PMIX_SUCCESS == rc ? 0 : 1;
}

static int spawn_children(const pmix_proc_t *me, const char *program, const char *parent_root)
{
    char cwd[1024], child_ns[PMIX_MAX_NSLEN + 1];
    pmix_app_t app;
    pmix_value_t value;
    pmix_info_t info, notify;
    pmix_status_t rc, job_end = PMIX_EVENT_JOB_END;
    int answered = 0, all_nested = 1;
    bool yes = true;

    PMIX_APP_CONSTRUCT(&app);
    app.cmd = strdup(program);
    app.argv = calloc(4, sizeof(char *));
    app.argv[0] = strdup(program);
    app.argv[1] = strdup("child");
    app.argv[2] = strdup(me->nspace);
    /* As Open MPI's MPI_Comm_spawn does: the children start in the parent's working directory. */
    if (getcwd(cwd, sizeof cwd) != NULL)
        app.cwd = strdup(cwd);
    app.maxprocs = CHILDREN;
    memset(child_ns, 0, sizeof child_ns);
    /* Told when the children's job ends; registered before the spawn so the event cannot be missed. */
    PMIx_Register_event_handler(&job_end, 1, NULL, 0, on_job_end, NULL, NULL);
    PMIX_INFO_LOAD(&notify, PMIX_NOTIFY_COMPLETION, &yes, PMIX_BOOL);
    rc = PMIx_Spawn(&notify, 1, &app, 1, child_ns);
    PMIX_INFO_DESTRUCT(&notify);
    PMIX_APP_DESTRUCT(&app);
    if (PMIX_SUCCESS != rc) {
        level_verdict("L5", 0, me->rank, "PMIx_Spawn of %d x %s: %s", CHILDREN, program, PMIx_Error_string(rc));
        return 1;
    }
    timeout_info(&info);
    for (int c = 0; c < CHILDREN; c++) {
        pmix_proc_t proc;
        pmix_value_t *val = NULL;
        char chost[256], cnested[8], croot[64];
        PMIX_LOAD_PROCID(&proc, child_ns, c);
        rc = PMIx_Get(&proc, KEY, &info, 1, &val);
        if (PMIX_SUCCESS != rc || NULL == val || PMIX_STRING != val->type ||
            sscanf(val->data.string, "%255s %7s %63s", chost, cnested, croot) != 3) {
            level_verdict("L5", 0, me->rank, "PMIx_Get %s of child %d of %s: %s", KEY, c, child_ns,
                          PMIX_SUCCESS != rc ? PMIx_Error_string(rc) : "not a 'host nested root' string");
            if (NULL != val)
                PMIX_VALUE_RELEASE(val);
            all_nested = 0;
            continue;
        }
        PMIX_VALUE_RELEASE(val);
        answered++;
        all_nested &= strcmp(cnested, "yes") == 0;
        spawn_child_record(c, chost, cnested, croot, parent_root);
    }
    fflush(stdout);
    PMIX_INFO_DESTRUCT(&info);
    /* Release the children (they wait for this key before they finalize). */
    PMIX_VALUE_CONSTRUCT(&value);
    PMIX_VALUE_LOAD(&value, "1", PMIX_STRING);
    rc = PMIx_Put(PMIX_GLOBAL, DONE, &value);
    PMIX_VALUE_DESTRUCT(&value);
    if (PMIX_SUCCESS == rc)
        rc = PMIx_Commit();
    for (int tick = 0; tick < 10 * WAIT_S && !children_ended; tick++)
        usleep(100000);
    if (answered < CHILDREN)
        return 1;
    if (!all_nested) {
        level_verdict("L5", 0, me->rank, "%d PMIx-spawned children answered, but not every child runs in the APP",
                      answered);
        return 1;
    }
    if (PMIX_SUCCESS != rc) {
        level_verdict("L5", 0, me->rank, "PMIx_Put/PMIx_Commit of %s: %s", DONE, PMIx_Error_string(rc));
        return 1;
    }
    level_verdict("L5", 1, me->rank, "%d children started with PMIx_Spawn, answered and run nested in the APP",
                  answered);
    return 0;
}

int main(int argc, char **argv)
{
    pmix_proc_t me, wildcard;
    pmix_value_t *val = NULL;
    pmix_status_t rc;
    char host[256], root[64];
    int nested = 0, ok = 0;
    unsigned size = 0;

    rc = PMIx_Init(&me, NULL, 0);
    if (PMIX_SUCCESS != rc) {
        level_verdict("L5", 0, -1, "PMIx_Init: %s", PMIx_Error_string(rc));
        return 1;
    }
    if (argc > 2 && strcmp(argv[1], "child") == 0)
        return child(&me, argv[2]);
    PMIX_LOAD_PROCID(&wildcard, me.nspace, PMIX_RANK_WILDCARD);
    if (PMIx_Get(&wildcard, PMIX_JOB_SIZE, NULL, 0, &val) == PMIX_SUCCESS && NULL != val) {
        size = val->data.uint32;
        PMIX_VALUE_RELEASE(val);
    }
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    root_identity(root, sizeof root, &nested);
    rank_record((int)me.rank, (int)size, host);
    if (0 == me.rank) {
        ok = spawn_children(&me, argv[0], root) == 0;
    } else {
        level_verdict("L5", 1, (int)me.rank, "rank 0 spawns; this parent only runs");
        ok = 1;
    }
    PMIx_Finalize(NULL, 0);
    return ok ? 0 : 1;
}
