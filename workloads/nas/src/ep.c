/*
 * ep: the NPB EP kernel ("embarrassingly parallel"), recapp's own
 * implementation from the NPB 3.x specification.
 *
 * Generate 2^(M+1) uniform numbers with NPB's randlc generator (seed
 * 271828183, multiplier 5^13), pair them up, keep the pairs inside the unit
 * circle and turn each into two Gaussian deviates (Marsaglia polar method);
 * sum the deviates and count them in square annuli q(l), l = floor(max(|X|,|Y|)).
 *
 * The sequence is cut into 2^(M-16) batches of 2^17 numbers (mk = 16); each
 * rank takes a contiguous run of batches, as NPB-MPI EP/ep.f does, and finds
 * the seed of batch k as s * an^k with an = a^(2^17): the result does not depend
 * on the number of ranks.
 *
 * Verification (both must hold):
 *   NPB 3.3: the signed sums sx, sy (NPB3.3-MPI EP/ep.f, program EMBAR);
 *   NPB 3.4: the sums of |X|, |Y| and the number of Gaussian pairs
 *            (NPB3.4-MPI EP/verify.f90, subroutine verify),
 * each to a relative error of 1e-8, NPB's epsilon.
 */
#include <math.h>

#include "npb.h"

#define MK 16          /* log2 of the batch size in pairs (EP/ep.f: mk = 16) */
#define NK (1L << MK)  /* pairs per batch */
#define NQ 10          /* annuli counted */
#define EPSILON 1.0e-8 /* EP/ep.f, EP/verify.f90: epsilon = 1.d-8 */
#define SEED UINT64_C(271828183) /* EP/ep.f: s = 271828183.d0 */

#if NPB_CLASS_ID == NPB_CLASS_S
#define M 24
/* NPB3.3-MPI EP/ep.f, program EMBAR, verification block "if (m.eq.24)" */
#define SX_VERIFY_33 (-3.247834652034740e+3)
#define SY_VERIFY_33 (-6.958407078382297e+3)
/* NPB3.4-MPI EP/verify.f90, subroutine verify, "if (m .eq. 24)" (class S) */
#define SX_VERIFY_34 1.051299420395306e+07
#define SY_VERIFY_34 1.051517131857535e+07
#define GC_VERIFY_34 13176389.0
#elif NPB_CLASS_ID == NPB_CLASS_W
#define M 25
/* NPB3.3-MPI EP/ep.f, program EMBAR, verification block "elseif (m.eq.25)" */
#define SX_VERIFY_33 (-2.863319731645753e+3)
#define SY_VERIFY_33 (-6.320053679109499e+3)
/* NPB3.4-MPI EP/verify.f90, subroutine verify, "elseif (m .eq. 25)" (class W) */
#define SX_VERIFY_34 2.102505525182392e+07
#define SY_VERIFY_34 2.103162209578822e+07
#define GC_VERIFY_34 26354769.0
#else /* A */
#define M 28
/* NPB3.3-MPI EP/ep.f, program EMBAR, verification block "elseif (m.eq.28)" */
#define SX_VERIFY_33 (-4.295875165629892e+3)
#define SY_VERIFY_33 (-1.580732573678431e+4)
/* NPB3.4-MPI EP/verify.f90, subroutine verify, "elseif (m .eq. 28)" (class A) */
#define SX_VERIFY_34 1.682235632304711e+08
#define SY_VERIFY_34 1.682195123368299e+08
#define GC_VERIFY_34 210832767.0
#endif

/* sums[]: sx, sy, sum |X|, sum |Y|, then q[0..NQ-1] */
enum { SX, SY, SAX, SAY, Q0, NSUMS = Q0 + NQ };

/* One batch: 2*NK uniforms starting from `seed`, tallied into sums[]. */
static void batch(uint64_t seed, double *x, double sums[NSUMS])
{
    npb_vranlc(2 * NK, &seed, NPB_MULT, x);
    for (long i = 0; i < NK; i++) {
        const double x1 = 2.0 * x[2 * i] - 1.0;
        const double x2 = 2.0 * x[2 * i + 1] - 1.0;
        const double t1 = x1 * x1 + x2 * x2;
        if (t1 <= 1.0) {
            const double t2 = sqrt(-2.0 * log(t1) / t1);
            const double t3 = x1 * t2;
            const double t4 = x2 * t2;
            const int l = (int) fmax(fabs(t3), fabs(t4));
            if (l < NQ) { /* guard only: no deviate of the S/W/A sequences reaches 6 */
                sums[Q0 + l] += 1.0;
            }
            sums[SX] += t3;
            sums[SY] += t4;
            sums[SAX] += fabs(t3);
            sums[SAY] += fabs(t4);
        }
    }
}

int main(int argc, char **argv)
{
    int rank, nprocs;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    npb_print_rank(rank, nprocs);

    const long batches = 1L << (M - MK);
    if (nprocs > batches) {
        return npb_refuse(rank, "ep: more processes than batches of random numbers");
    }
    const int perturb = npb_perturbed(rank);
    const uint64_t seed = SEED + (perturb ? 2 : 0); /* stays odd */

    if (rank == 0) {
        npb_banner("EP", perturb);
        printf(" Number of random numbers generated: %15.0f  (class %s)\n", ldexp(1.0, M + 1),
               NPB_CLASS_NAME);
        printf(" Total number of processes:          %15d\n\n", nprocs);
        fflush(stdout);
    }

    /* Ranks below `extra` take one batch more, as in EP/ep.f. */
    const long base = batches / nprocs, extra = batches % nprocs;
    const long mine = base + (rank < extra ? 1 : 0);
    const long first = rank * base + (rank < extra ? rank : extra);

    double *x = npb_alloc(2 * NK, sizeof(double));
    double local[NSUMS] = {0}, sums[NSUMS];

    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();

    /* an = a^(2*NK) = a^(2^(MK+1)): MK+1 squarings (EP/ep.f "Compute AN"). */
    uint64_t an = NPB_MULT;
    for (int i = 0; i <= MK; i++) {
        an = npb_mulmod46(an, an);
    }
    for (long k = first; k < first + mine; k++) {
        batch(npb_skip(seed, an, (uint64_t) k), x, local);
    }
    MPI_Allreduce(local, sums, NSUMS, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);

    double elapsed = MPI_Wtime() - t0, tm;
    MPI_Allreduce(&elapsed, &tm, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    if (rank == 0) {
        double gc = 0.0;
        for (int l = 0; l < NQ; l++) {
            gc += sums[Q0 + l];
        }
        const int ok33 = npb_within(sums[SX], SX_VERIFY_33, EPSILON) &&
                         npb_within(sums[SY], SY_VERIFY_33, EPSILON);
        const int ok34 = npb_within(sums[SAX], SX_VERIFY_34, EPSILON) &&
                         npb_within(sums[SAY], SY_VERIFY_34, EPSILON) &&
                         npb_within(gc, GC_VERIFY_34, EPSILON);

        printf("EP Benchmark Results:\n\n");
        printf("CPU Time =%10.4f\n", tm);
        printf("N = 2^%5d\n", M);
        printf("No. Gaussian Pairs =%14.0f.\n", gc);
        printf("Sums = %25.15e%25.15e\n", sums[SX], sums[SY]);
        printf("Sums of |X|, |Y| = %25.15e%25.15e\n", sums[SAX], sums[SAY]);
        printf("Counts:\n");
        for (int l = 0; l < NQ; l++) {
            printf("%3d%14.0f.\n", l, sums[Q0 + l]);
        }
        printf("\n Verification (relative error <= %.0e):\n", EPSILON);
        printf("  NPB 3.3 signed sums      sx %23.15e  sy %23.15e  %s\n", SX_VERIFY_33, SY_VERIFY_33,
               ok33 ? "passed" : "FAILED");
        printf("  NPB 3.4 |X|, |Y|, pairs  sx %23.15e  sy %23.15e  pairs %.0f  %s\n", SX_VERIFY_34,
               SY_VERIFY_34, GC_VERIFY_34, ok34 ? "passed" : "FAILED");

        const struct npb_result result = {
            .kernel = "EP",
            .size = 1LL << (M + 1),
            .iterations = 0,
            .nprocs = nprocs,
            .time_s = tm,
            .mops = ldexp(1.0, M + 1) / tm / 1.0e6,
            .optype = "Random numbers generated",
            .verified = ok33 && ok34,
        };
        npb_print_results(&result);
    }

    free(x);
    MPI_Finalize();
    return 0;
}
