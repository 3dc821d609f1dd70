/* infopad: keeps a PRRTE 3.0.x daemon (prted) from writing past an info array on every PMIx_Connect.
 *
 * Built into the same library as killguard.c (libkillguard.so), which recapp-agent preloads into
 * prted and which removes itself from the environment before main().
 *
 * Why (issue 19, docs/compat-levels.md finding 15): PRRTE 3.0.x's connect_release()
 * (src/prted/pmix/pmix_server_dyn.c) creates its info array with PMIX_INFO_CREATE(info, ninfo) where
 * ninfo is 1 unless the connect carried a group context id, then always ends with
 * PMIX_INFO_DESTRUCT(&info[1]) (and hands cnt = 2 entries to PMIx_server_register_nspace). With one
 * entry, info[1] lies past the allocation: PMIx 5's destruct frees whatever the bytes there look
 * like and zeroes the 32 bytes of its value, in another object. Every MPI_Comm_connect/accept and
 * MPI_Comm_spawn does it on each daemon of the connected jobs; the heap then fails one of glibc's
 * checks later, in unrelated code (free/realloc from the IOF read handler or libpmix), prted aborts
 * (status 134) and the DVM reports a lost daemon. Upstream replaced that code in v4.0.0 (openpmix/prrte
 * bc3c11e76a, "Refactor the grpcomm support"); v3.0.14, the last 3.0.x, still has it.
 *
 * What it does: PMIx_Info_create(n) for n > 0 asks the real one for n + 1 entries. The extra entry is
 * constructed empty (no key, PMIX_UNDEF), so destructing it frees nothing, and PMIx_Info_free(info, n)
 * frees the whole block. Harmless to a PRRTE without the defect: one more empty entry per array.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef void *(*info_create_fn)(size_t);

/* pmix_info_t *PMIx_Info_create(size_t n), as PMIx 4 and later export it (pmix.h is not needed: the
 * array is only passed through). */
void *PMIx_Info_create(size_t n);

void *PMIx_Info_create(size_t n)
{
    static info_create_fn real;
    info_create_fn fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE);

    if (fn == NULL) {
        fn = (info_create_fn) dlsym(RTLD_NEXT, "PMIx_Info_create");
        if (fn == NULL) {
            return NULL; /* no PMIx below us: nothing could have called this but a confused program */
        }
        __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
    }
    return fn(n > 0 ? n + 1 : n);
}
