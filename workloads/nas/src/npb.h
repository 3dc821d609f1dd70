/*
 * Shared by recapp's NAS Parallel Benchmark kernels (ep.c, is.c, cg.c).
 *
 * These are recapp's own implementations, written from the published NPB 3.x
 * specification (NAS technical reports RNR-94-007 / NAS-95-020) and verified
 * against the official NPB verification values; they are not the NPB sources
 * and say so in their banner. Each binary is built for one problem class,
 * chosen at compile time with -DCLASS=S, -DCLASS=W or -DCLASS=A.
 *
 * Output: first one RANK record per rank (as the MPI examples print it, so a
 * job runner can check where every rank ran), then an NPB-style report on
 * rank 0, ending with the standard
 * "<KERNEL> Benchmark Completed." block, then one machine-parsed record
 * (see records.yaml):
 *   NPB_RESULT kernel=EP class=S np=4 time_s=T mops=M verification=SUCCESSFUL
 * Like NPB, a run that fails verification still exits 0; the record and the
 * block say UNSUCCESSFUL. Exit code 2: the job cannot run (bad rank count,
 * out of memory).
 *
 * RECAPP_NPB_PERTURB=1 in the environment of rank 0 changes the kernel's
 * random seed, so the result is wrong on purpose and verification must fail:
 * tests use it to show that verification catches a wrong answer.
 */
#ifndef RECAPP_NPB_H
#define RECAPP_NPB_H

#include <ctype.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- problem class, fixed at compile time ---------------------------- */

#ifndef CLASS
#error "compile with -DCLASS=S, -DCLASS=W or -DCLASS=A"
#endif
#define NPB_CLASS_S 1
#define NPB_CLASS_W 2
#define NPB_CLASS_A 3
#define NPB_CAT_(a, b) a##b
#define NPB_CAT(a, b) NPB_CAT_(a, b)
#define NPB_STR_(x) #x
#define NPB_STR(x) NPB_STR_(x)
/* -DCLASS=S makes NPB_CLASS_ID expand to NPB_CLASS_S; an unknown class is 0. */
#define NPB_CLASS_ID NPB_CAT(NPB_CLASS_, CLASS)
#define NPB_CLASS_NAME NPB_STR(CLASS)
#if NPB_CLASS_ID != NPB_CLASS_S && NPB_CLASS_ID != NPB_CLASS_W && NPB_CLASS_ID != NPB_CLASS_A
#error "CLASS must be S, W or A"
#endif

#define NPB_BANNER_PREFIX " NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - "
#define NPB_IMPLEMENTATION "recapp (NPB 3.x spec)"

/* ---- the NPB pseudorandom number generator --------------------------- */
/*
 * NPB's linear congruential generator (NPB 3.x common/randdp.f `randlc`,
 * `vranlc`; the same routine is in IS/is.c):
 *     x_{k+1} = a * x_k  (mod 2^46),   returned value  2^-46 * x_{k+1}
 * with odd 0 < x_0, a < 2^46 (a = 5^13 = 1220703125 in every kernel).
 * NPB evaluates it in double precision, splitting both factors into 23-bit
 * halves so that every intermediate is an exact integer below 2^53. The same
 * split in 64-bit integers gives the identical sequence, bit for bit.
 */
#define NPB_MULT UINT64_C(1220703125) /* 5^13 */
#define NPB_MASK23 ((UINT64_C(1) << 23) - 1)
#define NPB_MASK46 ((UINT64_C(1) << 46) - 1)
#define NPB_R46 (1.0 / 70368744177664.0) /* 2^-46, exact */

/* (a * x) mod 2^46 for a, x < 2^46. */
static inline uint64_t npb_mulmod46(uint64_t a, uint64_t x)
{
    const uint64_t a1 = a >> 23, a2 = a & NPB_MASK23;
    const uint64_t x1 = x >> 23, x2 = x & NPB_MASK23;
    const uint64_t z = (a1 * x2 + a2 * x1) & NPB_MASK23;
    return ((z << 23) + a2 * x2) & NPB_MASK46;
}

/* NPB randlc: advance the seed once, return the new value scaled to (0, 1). */
static inline double npb_randlc(uint64_t *seed, uint64_t a)
{
    *seed = npb_mulmod46(a, *seed);
    return (double) *seed * NPB_R46;
}

/* NPB vranlc: n successive values of the sequence into y[0..n-1]. */
static inline void npb_vranlc(long n, uint64_t *seed, uint64_t a, double *y)
{
    uint64_t x = *seed;
    for (long i = 0; i < n; i++) {
        x = npb_mulmod46(a, x);
        y[i] = (double) x * NPB_R46;
    }
    *seed = x;
}

/* seed * mult^k (mod 2^46) by binary powering: the seed of the k-th block of
 * a sequence whose blocks are `mult` apart (NPB's "find starting seed" loops
 * in EP/ep.f and IS/is.c find_my_seed do exactly this). */
static inline uint64_t npb_skip(uint64_t seed, uint64_t mult, uint64_t k)
{
    while (k != 0) {
        if (k & 1) {
            seed = npb_mulmod46(mult, seed);
        }
        mult = npb_mulmod46(mult, mult);
        k >>= 1;
    }
    return seed;
}

/* ---- run-time helpers ------------------------------------------------- */

/* Every rank prints one RANK record, the same record as the MPI examples
 * (../../mpi/src/records.yaml), so a job that silently lands on one node
 * (mpi-operator #842) is caught; then all ranks wait for each other. */
static inline void npb_print_rank(int rank, int nprocs)
{
    char host[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (MPI_Get_processor_name(host, &len) != MPI_SUCCESS || len <= 0) {
        snprintf(host, sizeof host, "unknown");
    }
    for (char *c = host; *c != '\0'; c++) {
        if (isspace((unsigned char) *c) || *c == '"' || *c == '=') {
            *c = '_';
        }
    }
    printf("RANK rank=%d size=%d host=%s\n", rank, nprocs, host);
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
}

/* Rank 0's RECAPP_NPB_PERTURB decides for every rank (launchers differ in
 * which environment they forward). */
static inline int npb_perturbed(int rank)
{
    int perturb = 0;
    if (rank == 0) {
        const char *value = getenv("RECAPP_NPB_PERTURB");
        perturb = value != NULL && strcmp(value, "1") == 0;
    }
    MPI_Bcast(&perturb, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return perturb;
}

static inline void npb_banner(const char *kernel, int perturb)
{
    printf("\n\n" NPB_BANNER_PREFIX "%s Benchmark\n\n", kernel);
    if (perturb) {
        printf(" RECAPP_NPB_PERTURB=1: the random seed is changed on purpose;"
               " verification must fail.\n\n");
    }
}

/* Exit every rank with a usage error (exit code 2) after a message from rank 0. */
static inline int npb_refuse(int rank, const char *message)
{
    if (rank == 0) {
        fprintf(stderr, "%s\n", message);
        fflush(stderr);
    }
    MPI_Finalize();
    return 2;
}

/* Allocation that stops the whole job on failure. */
static inline void *npb_alloc(size_t count, size_t size)
{
    void *p = calloc(count == 0 ? 1 : count, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory allocating %zu x %zu bytes\n", count, size);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

/* |value - reference| / |reference| <= epsilon, NPB's relative test; false for NaN. */
static inline int npb_within(double value, double reference, double epsilon)
{
    const double err = (value - reference) / reference;
    return err <= epsilon && -err <= epsilon; /* false for NaN */
}

struct npb_result {
    const char *kernel; /* "EP", "IS", "CG" */
    long long size;
    int iterations;
    int nprocs;
    double time_s;
    double mops;
    const char *optype;
    int verified;
};

/* NPB's standard result block (NPB 3.x common/print_results.f layout:
 * label, "= ", a 24-character right-aligned value), then the NPB_RESULT record. */
static inline void npb_print_results(const struct npb_result *r)
{
    const char *verdict = r->verified ? "SUCCESSFUL" : "UNSUCCESSFUL";
    printf("\n\n %s Benchmark Completed.\n", r->kernel);
    printf(" Class           = %24s\n", NPB_CLASS_NAME);
    printf(" Size            = %24lld\n", r->size);
    printf(" Iterations      = %24d\n", r->iterations);
    printf(" Time in seconds = %24.2f\n", r->time_s);
    printf(" Total processes = %24d\n", r->nprocs);
    printf(" Mop/s total     = %24.2f\n", r->mops);
    printf(" Mop/s/process   = %24.2f\n", r->mops / r->nprocs);
    printf(" Operation type  = %24s\n", r->optype);
    printf(" Verification    = %24s\n", verdict);
    printf(" Implementation  = %24s\n", NPB_IMPLEMENTATION);
    printf("\n");
    printf("NPB_RESULT kernel=%s class=%s np=%d time_s=%.6f mops=%.2f verification=%s\n", r->kernel,
           NPB_CLASS_NAME, r->nprocs, r->time_s, r->mops, verdict);
    fflush(stdout);
}

#endif /* RECAPP_NPB_H */
