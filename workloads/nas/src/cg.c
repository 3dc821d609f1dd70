/*
 * cg: the NPB CG kernel (conjugate gradient), recapp's own implementation
 * from the NPB 3.x specification.
 *
 * Estimate the smallest eigenvalue of a large sparse symmetric positive
 * definite matrix A by NITER steps of inverse power iteration; each step
 * solves A z = x with 25 iterations of unpreconditioned conjugate gradient,
 * then zeta = SHIFT + 1 / (x . z) and x = z / ||z||.
 *
 * A is NPB's makea matrix, generated as the spec prescribes (NPB3.3-SER
 * CG/cg.f makea, sprnvc, vecset, sparse): after one discarded randlc value
 * (seed 314159265, multiplier 1220703125), for each row i a sparse random
 * vector v_i with NONZER distinct nonzeros (sprnvc, positions drawn by
 * scaling a randlc value by the smallest power of two >= NA) with element i
 * set to 0.5 (vecset), and
 *     A = sum_i  RCOND^(i/NA) v_i v_i^T  +  (RCOND - SHIFT) I,
 * duplicates summed in the generation order, as in sparse.
 *
 * Distribution: a simple block of rows per rank (not NPB-MPI's 2-D process
 * grid). Every rank generates all v_i (cheap) and assembles only its rows;
 * the matrix-vector product gathers the full vector with MPI_Allgatherv and
 * dot products use MPI_Allreduce. Any number of ranks gives the same zeta to
 * far better than NPB's verification epsilon 1e-10 (relative).
 */
#include <math.h>

#include "npb.h"

#define SEED UINT64_C(314159265) /* CG/cg.f main: tran = 314159265.0D0 */
#define RCOND 0.1                /* CG/globals.h: rcond = 1.0d-1 (every class) */
#define CGITMAX 25               /* CG/cg.f conj_grad: cgitmax = 25 */
#define EPSILON 1.0e-10          /* CG/cg.f main: epsilon = 1.d-10 */

/* Class parameters (CG/globals.h, npbparams.h) and zeta_verify_value from the
 * class checks in the main program of NPB3.3-SER CG/cg.f (the same values in
 * NPB3.3-MPI CG/cg.f and NPB 3.4 CG/cg.f90). */
#if NPB_CLASS_ID == NPB_CLASS_S
#define NA 1400
#define NONZER 7
#define NITER 15
#define SHIFT 10.0
#define ZETA_VERIFY_VALUE 8.5971775078648 /* CG/cg.f: class 'S' zeta_verify_value */
#elif NPB_CLASS_ID == NPB_CLASS_W
#define NA 7000
#define NONZER 8
#define NITER 15
#define SHIFT 12.0
#define ZETA_VERIFY_VALUE 10.362595087124 /* CG/cg.f: class 'W' zeta_verify_value */
#else /* A */
#define NA 14000
#define NONZER 11
#define NITER 15
#define SHIFT 20.0
#define ZETA_VERIFY_VALUE 17.130235054029 /* CG/cg.f: class 'A' zeta_verify_value */
#endif

#define VLEN (NONZER + 1) /* entries of one generated vector, after vecset */

/* The generated vectors: vector i has nzv[i] entries at col[i][], val[i][]. */
struct vectors {
    int nzv[NA];
    int col[NA][VLEN];
    double val[NA][VLEN];
};

/* My rows of A in compressed sparse rows, global column indices. */
struct matrix {
    int row0, nrows;
    int *rowstart; /* nrows + 1 */
    int *colidx;
    double *a;
};

/* sprnvc + vecset for every row: the whole random sequence, on every rank. */
static void generate_vectors(struct vectors *v, uint64_t seed)
{
    int nn1 = 1; /* smallest power of two not less than NA (makea: nn1) */
    do {
        nn1 *= 2;
    } while (nn1 < NA);

    uint64_t tran = seed;
    (void) npb_randlc(&tran, NPB_MULT); /* cg.f main: zeta = randlc(tran, amult) */
    for (int i = 0; i < NA; i++) {
        int *col = v->col[i];
        double *val = v->val[i];
        int n = 0;
        while (n < NONZER) {
            const double value = npb_randlc(&tran, NPB_MULT);
            const double where = npb_randlc(&tran, NPB_MULT);
            const int c = (int) (nn1 * where); /* icnvrt, 0-based */
            if (c >= NA) {
                continue;
            }
            int seen = 0;
            for (int k = 0; k < n && !seen; k++) {
                seen = col[k] == c;
            }
            if (!seen) {
                col[n] = c;
                val[n] = value;
                n++;
            }
        }
        /* vecset: element i of vector i is 0.5 */
        int set = 0;
        for (int k = 0; k < n; k++) {
            if (col[k] == i) {
                val[k] = 0.5;
                set = 1;
            }
        }
        if (!set) {
            col[n] = i;
            val[n] = 0.5;
            n++;
        }
        v->nzv[i] = n;
    }
}

/* Add va at (row, column) of a row kept sorted by column. */
static void add_entry(int *cols, double *vals, int *len, int column, double va)
{
    int k = 0;
    while (k < *len && cols[k] < column) {
        k++;
    }
    if (k < *len && cols[k] == column) {
        vals[k] += va;
        return;
    }
    memmove(cols + k + 1, cols + k, (size_t) (*len - k) * sizeof(int));
    memmove(vals + k + 1, vals + k, (size_t) (*len - k) * sizeof(double));
    cols[k] = column;
    vals[k] = va;
    (*len)++;
}

/* sparse: assemble rows [row0, row0 + nrows) of A, duplicates summed in
 * generation order (i, then the row's entry, then the column's entry). */
static void assemble(struct matrix *m, const struct vectors *v)
{
    const int row0 = m->row0, nrows = m->nrows;
    /* Room per row: every product v_i v_i^T that touches the row. */
    int *room = npb_alloc((size_t) nrows + 1, sizeof(int));
    for (int i = 0; i < NA; i++) {
        for (int k = 0; k < v->nzv[i]; k++) {
            const int row = v->col[i][k];
            if (row >= row0 && row < row0 + nrows) {
                room[row - row0 + 1] += v->nzv[i];
            }
        }
    }
    for (int r = 0; r < nrows; r++) {
        room[r + 1] += room[r];
    }
    int *cols = npb_alloc((size_t) room[nrows], sizeof(int));
    double *vals = npb_alloc((size_t) room[nrows], sizeof(double));
    int *len = npb_alloc((size_t) nrows, sizeof(int));

    const double ratio = pow(RCOND, 1.0 / (double) NA);
    double size = 1.0;
    for (int i = 0; i < NA; i++) {
        const int n = v->nzv[i];
        for (int k = 0; k < n; k++) {
            const int row = v->col[i][k];
            if (row < row0 || row >= row0 + nrows) {
                continue;
            }
            const int r = row - row0;
            const double scale = size * v->val[i][k];
            for (int l = 0; l < n; l++) {
                const int column = v->col[i][l];
                double va = v->val[i][l] * scale;
                if (column == row && row == i) {
                    va = va + RCOND - SHIFT;
                }
                add_entry(cols + room[r], vals + room[r], &len[r], column, va);
            }
        }
        size *= ratio;
    }

    /* Compact the rows. */
    m->rowstart = npb_alloc((size_t) nrows + 1, sizeof(int));
    for (int r = 0; r < nrows; r++) {
        m->rowstart[r + 1] = m->rowstart[r] + len[r];
    }
    m->colidx = npb_alloc((size_t) m->rowstart[nrows], sizeof(int));
    m->a = npb_alloc((size_t) m->rowstart[nrows], sizeof(double));
    for (int r = 0; r < nrows; r++) {
        memcpy(m->colidx + m->rowstart[r], cols + room[r], (size_t) len[r] * sizeof(int));
        memcpy(m->a + m->rowstart[r], vals + room[r], (size_t) len[r] * sizeof(double));
    }
    free(room);
    free(cols);
    free(vals);
    free(len);
}

struct work {
    int *counts, *displs; /* rows per rank, for MPI_Allgatherv */
    double *full;         /* a whole vector, gathered */
    double *p, *q, *r;    /* my rows */
};

/* out = A * v for my rows, v given as my rows. */
static void matvec(const struct matrix *m, struct work *w, const double *v, double *out)
{
    MPI_Allgatherv(v, m->nrows, MPI_DOUBLE, w->full, w->counts, w->displs, MPI_DOUBLE, MPI_COMM_WORLD);
    for (int j = 0; j < m->nrows; j++) {
        double sum = 0.0;
        for (int k = m->rowstart[j]; k < m->rowstart[j + 1]; k++) {
            sum += m->a[k] * w->full[m->colidx[k]];
        }
        out[j] = sum;
    }
}

static double dot(const double *u, const double *v, int n)
{
    double local = 0.0, global = 0.0;
    for (int j = 0; j < n; j++) {
        local += u[j] * v[j];
    }
    MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return global;
}

/* conj_grad: z ~ A^-1 x by CGITMAX CG iterations from z = 0; returns ||x - A z||. */
static double conj_grad(const struct matrix *m, struct work *w, const double *x, double *z)
{
    const int n = m->nrows;
    double *p = w->p, *q = w->q, *r = w->r;
    for (int j = 0; j < n; j++) {
        q[j] = 0.0;
        z[j] = 0.0;
        r[j] = x[j];
        p[j] = r[j];
    }
    double rho = dot(r, r, n);
    for (int cgit = 1; cgit <= CGITMAX; cgit++) {
        matvec(m, w, p, q);
        const double alpha = rho / dot(p, q, n);
        const double rho0 = rho;
        for (int j = 0; j < n; j++) {
            z[j] = z[j] + alpha * p[j];
            r[j] = r[j] - alpha * q[j];
        }
        rho = dot(r, r, n);
        const double beta = rho / rho0;
        for (int j = 0; j < n; j++) {
            p[j] = r[j] + beta * p[j];
        }
    }
    /* Residual norm, explicitly: ||x - A z|| */
    matvec(m, w, z, r);
    double local = 0.0, sum = 0.0;
    for (int j = 0; j < n; j++) {
        const double d = x[j] - r[j];
        local += d * d;
    }
    MPI_Allreduce(&local, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return sqrt(sum);
}

/* One step of inverse power iteration: returns zeta, replaces x by z / ||z||. */
static double power_step(const struct matrix *m, struct work *w, double *x, double *z, double *rnorm)
{
    *rnorm = conj_grad(m, w, x, z);
    double local[2] = {0.0, 0.0}, norms[2];
    for (int j = 0; j < m->nrows; j++) {
        local[0] += x[j] * z[j];
        local[1] += z[j] * z[j];
    }
    MPI_Allreduce(local, norms, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    const double scale = 1.0 / sqrt(norms[1]);
    for (int j = 0; j < m->nrows; j++) {
        x[j] = scale * z[j];
    }
    return SHIFT + 1.0 / norms[0];
}

int main(int argc, char **argv)
{
    int rank, nprocs;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    npb_print_rank(rank, nprocs);

    if (nprocs > NA) {
        return npb_refuse(rank, "cg: more processes than matrix rows");
    }
    const int perturb = npb_perturbed(rank);
    const uint64_t seed = SEED + (perturb ? 2 : 0); /* stays odd */

    if (rank == 0) {
        npb_banner("CG", perturb);
        printf(" Size: %11d  (class %s)\n", NA, NPB_CLASS_NAME);
        printf(" Iterations: %5d\n", NITER);
        printf(" Number of active processes: %5d\n", nprocs);
        printf(" Number of nonzeroes per row: %8d\n", NONZER);
        printf(" Eigenvalue shift: %.3e\n", SHIFT);
        fflush(stdout);
    }

    const double t_init0 = MPI_Wtime();
    struct matrix m = {.row0 = (int) ((long) rank * NA / nprocs)};
    m.nrows = (int) ((long) (rank + 1) * NA / nprocs) - m.row0;
    struct vectors *v = npb_alloc(1, sizeof *v);
    generate_vectors(v, seed);
    assemble(&m, v);
    free(v);

    struct work w;
    w.counts = npb_alloc((size_t) nprocs, sizeof(int));
    w.displs = npb_alloc((size_t) nprocs, sizeof(int));
    for (int p = 0; p < nprocs; p++) {
        w.displs[p] = (int) ((long) p * NA / nprocs);
        w.counts[p] = (int) ((long) (p + 1) * NA / nprocs) - w.displs[p];
    }
    w.full = npb_alloc(NA, sizeof(double));
    w.p = npb_alloc((size_t) m.nrows, sizeof(double));
    w.q = npb_alloc((size_t) m.nrows, sizeof(double));
    w.r = npb_alloc((size_t) m.nrows, sizeof(double));
    double *x = npb_alloc((size_t) m.nrows, sizeof(double));
    double *z = npb_alloc((size_t) m.nrows, sizeof(double));

    /* One untimed step to touch every page, then start again from x = 1 (as cg.f). */
    double rnorm, zeta;
    for (int j = 0; j < m.nrows; j++) {
        x[j] = 1.0;
    }
    (void) power_step(&m, &w, x, z, &rnorm);
    for (int j = 0; j < m.nrows; j++) {
        x[j] = 1.0;
    }
    double t_init = MPI_Wtime() - t_init0, t_init_max;
    MPI_Reduce(&t_init, &t_init_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf(" Initialization time = %15.3f seconds\n", t_init_max);
        printf("\n   iteration           ||r||                 zeta\n");
        fflush(stdout);
    }

    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    zeta = 0.0;
    for (int it = 1; it <= NITER; it++) {
        zeta = power_step(&m, &w, x, z, &rnorm);
        if (rank == 0) {
            printf("    %5d       %20.14e%20.13f\n", it, rnorm, zeta);
        }
    }
    double elapsed = MPI_Wtime() - t0, t;
    MPI_Allreduce(&elapsed, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    if (rank == 0) {
        const double err = fabs(zeta - ZETA_VERIFY_VALUE) / ZETA_VERIFY_VALUE;
        const int verified = npb_within(zeta, ZETA_VERIFY_VALUE, EPSILON);
        printf(" Benchmark completed\n");
        if (verified) {
            printf(" VERIFICATION SUCCESSFUL\n");
            printf(" Zeta is    %20.13e\n", zeta);
            printf(" Error is   %20.13e\n", err);
        } else {
            printf(" VERIFICATION FAILED\n");
            printf(" Zeta                %20.13e\n", zeta);
            printf(" The correct zeta is %20.13e\n", ZETA_VERIFY_VALUE);
        }
        /* CG/cg.f main: mflops */
        const double flops = 2.0 * NITER * NA *
                             (3.0 + NONZER * (NONZER + 1) + 25.0 * (5.0 + NONZER * (NONZER + 1)) + 3.0);
        const struct npb_result result = {
            .kernel = "CG",
            .size = NA,
            .iterations = NITER,
            .nprocs = nprocs,
            .time_s = t,
            .mops = flops / t / 1.0e6,
            .optype = "floating point",
            .verified = verified,
        };
        npb_print_results(&result);
    }

    free(m.rowstart);
    free(m.colidx);
    free(m.a);
    free(w.counts);
    free(w.displs);
    free(w.full);
    free(w.p);
    free(w.q);
    free(w.r);
    free(x);
    free(z);
    MPI_Finalize();
    return 0;
}
