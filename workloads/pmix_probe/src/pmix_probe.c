/*
 * pmix_probe: exercises a PMIx client against whatever PMIx server launched
 * it (PRRTE in a REC), without MPI, so a REC x APP matrix can tell a PMIx
 * problem from an MPI one.
 *
 * One record per step, in this order (records.yaml lists the keys):
 *   PMIX_PROBE step=<init|job_info|put|commit|fence_data|get|fence|finalize>
 *              status=OK|FAIL rank=R detail="..."
 * then one summary:
 *   PMIX_PROBE_SUMMARY rank=R size=S nspace=N host=H local_peers="..."
 *              client_version="..." server_version="..." peer_value="..." status=OK|FAIL
 * rank=-1, size=0 and "unknown" mean the value was never learnt. The
 * wording of PMIx_Error_string in details differs between versions
 * ("SUCCESS" in 4.2, "PMIX_SUCCESS" from 5.0): parse status=, not detail.
 * Exit code 0 when every step passed, 1 otherwise.
 *
 * A failed init, size lookup, put, commit or fence ends the probe (the later
 * steps depend on it) and goes straight to finalize. A missing optional job
 * attribute or a wrong peer value is recorded and the probe goes on, so one
 * run shows every broken step.
 *
 * Server version: a PMIx client has no attribute for its server's version.
 * The server library puts it in the child's environment as PMIX_VERSION
 * (PMIx_server_setup_fork), next to the PMIX_SERVER_URI<n> variable whose
 * name gives the wire level; the client library reads the same variables
 * when it connects. Both are read before PMIx_Init, so a value set by our
 * own library cannot be mistaken for the server's.
 */
#define _POSIX_C_SOURCE 200809L

/* Before pmix.h: PMIx 4.2's pmix_common.h calls strncasecmp without
 * including <strings.h>, which strict POSIX mode then leaves undeclared. */
#include <strings.h>

#include <pmix.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_KEY "recapp.probe"
/* Seconds before a fence or a remote get gives up, so a broken exchange
 * ends as a FAIL record rather than a job killed by an outer timeout. */
#define PROBE_TIMEOUT_S 60

#define TEXT 1024
#define HOST 256

static int my_rank = -1;
static bool all_ok = true;

/* Free text goes inside double quotes on one line. */
static void clean(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"') {
            *s = '\'';
        } else if (*s == '\n' || *s == '\r' || *s == '\t') {
            *s = ' ';
        }
    }
}

/* Unquoted values must not contain spaces. */
static void clean_token(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == ' ' || *s == '"' || *s == '=' || *s == '\n' || *s == '\t') {
            *s = '_';
        }
    }
}

static void step(const char *name, bool ok, const char *fmt, ...)
{
    char detail[TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    clean(detail);
    printf("PMIX_PROBE step=%s status=%s rank=%d detail=\"%s\"\n", name, ok ? "OK" : "FAIL", my_rank, detail);
    fflush(stdout);
    if (!ok) {
        all_ok = false;
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Servers differ in the integer type they use for sizes and ranks. */
static bool value_to_ulong(const pmix_value_t *v, unsigned long *out)
{
    switch (v->type) {
    case PMIX_UINT8:
        *out = v->data.uint8;
        return true;
    case PMIX_UINT16:
        *out = v->data.uint16;
        return true;
    case PMIX_UINT32:
        *out = v->data.uint32;
        return true;
    case PMIX_UINT64:
        *out = (unsigned long) v->data.uint64;
        return true;
    case PMIX_SIZE:
        *out = (unsigned long) v->data.size;
        return true;
    case PMIX_PROC_RANK:
        *out = v->data.rank;
        return true;
    case PMIX_INT:
        *out = (unsigned long) v->data.integer;
        return v->data.integer >= 0;
    case PMIX_INT32:
        *out = (unsigned long) v->data.int32;
        return v->data.int32 >= 0;
    default:
        return false;
    }
}

/* PMIx_Get of a string or number into text; returns the PMIx status. */
static pmix_status_t get_text(const pmix_proc_t *proc, const char *key, pmix_info_t *info, size_t ninfo,
                              char *out, size_t outlen)
{
    pmix_value_t *val = NULL;
    pmix_status_t rc = PMIx_Get(proc, key, info, ninfo, &val);
    if (rc != PMIX_SUCCESS) {
        return rc;
    }
    unsigned long number;
    if (val->type == PMIX_STRING && val->data.string != NULL) {
        snprintf(out, outlen, "%s", val->data.string);
    } else if (value_to_ulong(val, &number)) {
        snprintf(out, outlen, "%lu", number);
    } else {
        rc = PMIX_ERR_TYPE_MISMATCH;
    }
    PMIX_VALUE_RELEASE(val);
    return rc;
}

/* The PMIX_SERVER_URI<n> variable present names the wire level the server
 * speaks; newest first, as the client library checks them. */
static const char *server_uri_variable(void)
{
    static const char *const names[] = {"PMIX_SERVER_URI41", "PMIX_SERVER_URI4", "PMIX_SERVER_URI3",
                                        "PMIX_SERVER_URI21", "PMIX_SERVER_URI2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (getenv(names[i]) != NULL) {
            return names[i];
        }
    }
    return "none";
}

struct probe {
    pmix_proc_t me;
    bool initialized;
    unsigned long size;
    char host[HOST];
    char local_peers[TEXT];
    char peer_value[TEXT];
};

/* Gets one job attribute for the job_info record. A missing required
 * attribute is noted in `missing`; a missing optional one reads "unknown". */
static void job_attr(const pmix_proc_t *proc, const char *key, const char *label, bool required, char *out,
                     size_t outlen, char *missing, size_t missinglen)
{
    pmix_status_t rc = get_text(proc, key, NULL, 0, out, outlen);
    if (rc != PMIX_SUCCESS) {
        snprintf(out, outlen, "unknown");
        if (required) {
            size_t used = strlen(missing);
            snprintf(missing + used, missinglen - used, " %s(%s)", label, PMIx_Error_string(rc));
        }
    }
}

/* Runs the steps up to the second fence; returns early when a later step
 * cannot work without the failed one. */
static void run(struct probe *p)
{
    pmix_status_t rc;
    const char *uri_var = server_uri_variable();

    rc = PMIx_Init(&p->me, NULL, 0);
    if (rc != PMIX_SUCCESS) {
        step("init", false, "PMIx_Init: %s (server uri variable %s)", PMIx_Error_string(rc), uri_var);
        return;
    }
    p->initialized = true;
    my_rank = (int) p->me.rank;
    step("init", true, "nspace=%s rank=%d server_uri_variable=%s", p->me.nspace, my_rank, uri_var);

    /* Job-level data lives on the wildcard rank; host and local rank are
     * per process. */
    pmix_proc_t job;
    PMIX_LOAD_PROCID(&job, p->me.nspace, PMIX_RANK_WILDCARD);
    char size_text[64], local_rank[64], node_list[TEXT];
    char missing[TEXT] = "";
    job_attr(&job, PMIX_JOB_SIZE, "PMIX_JOB_SIZE", true, size_text, sizeof size_text, missing,
             sizeof missing);
    job_attr(&job, PMIX_LOCAL_PEERS, "PMIX_LOCAL_PEERS", true, p->local_peers, sizeof p->local_peers, missing,
             sizeof missing);
    job_attr(&p->me, PMIX_HOSTNAME, "PMIX_HOSTNAME", true, p->host, sizeof p->host, missing, sizeof missing);
    job_attr(&p->me, PMIX_LOCAL_RANK, "PMIX_LOCAL_RANK", true, local_rank, sizeof local_rank, missing,
             sizeof missing);
    /* Optional: not every server provides it, and the name is guarded in
     * case a header lacks it. */
    snprintf(node_list, sizeof node_list, "unknown");
#ifdef PMIX_NODE_LIST
    job_attr(&job, PMIX_NODE_LIST, "PMIX_NODE_LIST", false, node_list, sizeof node_list, missing,
             sizeof missing);
#endif
    if (strcmp(p->host, "unknown") == 0) {
        /* Still name a host in the records; job_info already says FAIL. */
        gethostname(p->host, sizeof p->host - 1);
        p->host[sizeof p->host - 1] = '\0';
    }
    clean_token(p->host);
    clean(p->local_peers);
    char *end = NULL;
    p->size = strtoul(size_text, &end, 10);
    if (end == size_text || *end != '\0' || p->size == 0) {
        p->size = 0;
    }
    step("job_info", missing[0] == '\0' && p->size > 0,
         "size=%s local_rank=%s local_peers=%s hostname=%s node_list=%s%s%s", size_text, local_rank,
         p->local_peers, p->host, node_list, missing[0] != '\0' ? " missing:" : "", missing);
    if (p->size == 0) {
        return; /* no peer to read from */
    }

    char mine[TEXT];
    snprintf(mine, sizeof mine, "rank-%d@%s", my_rank, p->host);
    pmix_value_t value;
    memset(&value, 0, sizeof value);
    value.type = PMIX_STRING;
    value.data.string = mine;
    rc = PMIx_Put(PMIX_GLOBAL, PROBE_KEY, &value); /* copies the value */
    step("put", rc == PMIX_SUCCESS, "key=%s value=%s: %s", PROBE_KEY, mine, PMIx_Error_string(rc));
    if (rc != PMIX_SUCCESS) {
        return;
    }

    rc = PMIx_Commit();
    step("commit", rc == PMIX_SUCCESS, "%s", PMIx_Error_string(rc));
    if (rc != PMIX_SUCCESS) {
        return;
    }

    bool collect = true;
    int timeout = PROBE_TIMEOUT_S;
    pmix_info_t info[2];
    memset(info, 0, sizeof info);
    PMIx_Info_load(&info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    PMIx_Info_load(&info[1], PMIX_TIMEOUT, &timeout, PMIX_INT);
    double t0 = now();
    rc = PMIx_Fence(NULL, 0, info, 2); /* NULL procs: all of my namespace */
    step("fence_data", rc == PMIX_SUCCESS, "collect_data=true elapsed_s=%.6f: %s", now() - t0,
         PMIx_Error_string(rc));
    if (rc != PMIX_SUCCESS) {
        PMIX_INFO_DESTRUCT(&info[0]);
        PMIX_INFO_DESTRUCT(&info[1]);
        return;
    }

    /* The next rank's value, and its host as the server sees it, so the
     * check covers both what the peer published and where it ran. */
    pmix_proc_t peer;
    const unsigned long peer_rank = ((unsigned long) my_rank + 1) % p->size;
    PMIX_LOAD_PROCID(&peer, p->me.nspace, (pmix_rank_t) peer_rank);
    rc = get_text(&peer, PROBE_KEY, &info[1], 1, p->peer_value, sizeof p->peer_value);
    if (rc != PMIX_SUCCESS) {
        snprintf(p->peer_value, sizeof p->peer_value, "unknown");
        step("get", false, "PMIx_Get %s from rank %lu: %s", PROBE_KEY, peer_rank, PMIx_Error_string(rc));
    } else {
        char peer_host[HOST], expected[HOST + 32];
        bool ok;
        clean(p->peer_value);
        if (get_text(&peer, PMIX_HOSTNAME, NULL, 0, peer_host, sizeof peer_host) == PMIX_SUCCESS) {
            clean_token(peer_host);
            snprintf(expected, sizeof expected, "rank-%lu@%s", peer_rank, peer_host);
            ok = strcmp(p->peer_value, expected) == 0;
        } else {
            /* The peer's host is unknown to us: check the rank part only. */
            snprintf(expected, sizeof expected, "rank-%lu@", peer_rank);
            ok = strncmp(p->peer_value, expected, strlen(expected)) == 0 &&
                 strlen(p->peer_value) > strlen(expected);
        }
        step("get", ok, "peer=%lu value=%s expected=%s", peer_rank, p->peer_value, expected);
    }

    t0 = now();
    rc = PMIx_Fence(NULL, 0, &info[1], 1);
    step("fence", rc == PMIX_SUCCESS, "collect_data=false elapsed_s=%.6f: %s", now() - t0,
         PMIx_Error_string(rc));
    PMIX_INFO_DESTRUCT(&info[0]);
    PMIX_INFO_DESTRUCT(&info[1]);
}

int main(void)
{
    /* Read before PMIx_Init: see the header comment. */
    const char *server_env = getenv("PMIX_VERSION");
    /* The launcher's rank, so even a failed PMIx_Init names its rank. */
    const char *rank_env = getenv("PMIX_RANK");
    if (rank_env != NULL) {
        my_rank = atoi(rank_env);
    }
    char server_version[TEXT];
    snprintf(server_version, sizeof server_version, "%s", server_env != NULL ? server_env : "unknown");
    clean(server_version);

    struct probe p;
    memset(&p, 0, sizeof p);
    snprintf(p.host, sizeof p.host, "unknown");
    snprintf(p.local_peers, sizeof p.local_peers, "unknown");
    snprintf(p.peer_value, sizeof p.peer_value, "unknown");

    run(&p);

    if (p.initialized) {
        pmix_status_t rc = PMIx_Finalize(NULL, 0);
        step("finalize", rc == PMIX_SUCCESS, "%s", PMIx_Error_string(rc));
    }

    char client_version[TEXT];
    snprintf(client_version, sizeof client_version, "%s", PMIx_Get_version());
    clean(client_version);
    char nspace[PMIX_MAX_NSLEN + 1];
    snprintf(nspace, sizeof nspace, "%s", p.initialized ? p.me.nspace : "unknown");
    clean_token(nspace);
    printf("PMIX_PROBE_SUMMARY rank=%d size=%lu nspace=%s host=%s local_peers=\"%s\" client_version=\"%s\" "
           "server_version=\"%s\" peer_value=\"%s\" status=%s\n",
           my_rank, p.size, nspace, p.host, p.local_peers,
           client_version, server_version, p.peer_value, all_ok ? "OK" : "FAIL");
    fflush(stdout);
    return all_ok ? 0 : 1;
}
