/*
 * is: the NPB IS kernel (integer sort), recapp's own implementation from the
 * NPB 3.x specification.
 *
 * Keys: TOTAL_KEYS integers in [0, MAX_KEY), each (MAX_KEY/4) * (r1+r2+r3+r4)
 * truncated, from four successive values of NPB's randlc generator (seed
 * 314159265, multiplier 1220703125), as NPB's create_seq makes them. Rank r
 * holds the contiguous slice of the global sequence starting at key lo_r and
 * finds its seed by skipping 4*lo_r values, so the keys do not depend on the
 * number of ranks.
 *
 * Each of MAX_ITERATIONS iterations first changes two keys (global index it
 * becomes it, index it+MAX_ITERATIONS becomes MAX_KEY-it), then ranks all keys:
 * local bucket counts, MPI_Allreduce of the counts, an assignment of whole
 * buckets to ranks so every rank gets about TOTAL_KEYS/np keys, MPI_Alltoall of
 * the send counts and MPI_Alltoallv of the keys (NPB-MPI IS's redistribution),
 * then a counting rank of the received keys.
 *
 * Verification (NPB IS/is.c): the partial verification checks, every
 * iteration, the rank of the five keys at test_index_array against
 * test_rank_array shifted by the iteration number (the per-class rule of
 * is.c's rank()); the full verification sorts the keys by their ranks and
 * checks the global order (full_verify). Passed when all 5 * MAX_ITERATIONS
 * partial checks and the full check on every rank pass.
 */
#include "npb.h"

#define MAX_ITERATIONS 10 /* IS/is.c: MAX_ITERATIONS */
#define TEST_ARRAY_SIZE 5 /* IS/is.c: TEST_ARRAY_SIZE */
#define SEED UINT64_C(314159265) /* IS/is.c main(): "Random number gen seed" */

/* Class parameters: IS/is.c "CLASS S/W/A" blocks (NPB 3.3 and 3.4 agree).
 * Partial verification arrays: IS/is.c S_/W_/A_test_index_array and
 * S_/W_/A_test_rank_array; the expected rank of test key i in iteration `it`
 * follows the class's case in is.c rank() (EXPECTED_RANK below). */
#if NPB_CLASS_ID == NPB_CLASS_S
/* IS/is.c: CLASS S */
#define TOTAL_KEYS_LOG_2 16
#define MAX_KEY_LOG_2 11
#define NUM_BUCKETS_LOG_2 9
/* IS/is.c: S_test_index_array, S_test_rank_array */
static const long test_index_array[TEST_ARRAY_SIZE] = {48427, 17148, 23627, 62548, 4431};
static const long test_rank_array[TEST_ARRAY_SIZE] = {0, 18, 346, 64917, 65463};
/* is.c rank(), case 'S': i <= 2 -> +iteration, else -iteration */
#define EXPECTED_RANK(i, it) ((i) <= 2 ? test_rank_array[i] + (it) : test_rank_array[i] - (it))
#elif NPB_CLASS_ID == NPB_CLASS_W
/* IS/is.c: CLASS W */
#define TOTAL_KEYS_LOG_2 20
#define MAX_KEY_LOG_2 16
#define NUM_BUCKETS_LOG_2 10
/* IS/is.c: W_test_index_array, W_test_rank_array */
static const long test_index_array[TEST_ARRAY_SIZE] = {357773, 934767, 875723, 898999, 404505};
static const long test_rank_array[TEST_ARRAY_SIZE] = {1249, 11698, 1039987, 1043896, 1048018};
/* is.c rank(), case 'W': i < 2 -> +(iteration-2), else -iteration */
#define EXPECTED_RANK(i, it) ((i) < 2 ? test_rank_array[i] + ((it) - 2) : test_rank_array[i] - (it))
#else /* A */
/* IS/is.c: CLASS A */
#define TOTAL_KEYS_LOG_2 23
#define MAX_KEY_LOG_2 19
#define NUM_BUCKETS_LOG_2 10
/* IS/is.c: A_test_index_array, A_test_rank_array */
static const long test_index_array[TEST_ARRAY_SIZE] = {2112377, 662041, 5336171, 3642833, 4250760};
static const long test_rank_array[TEST_ARRAY_SIZE] = {104, 17523, 123928, 8288932, 8388264};
/* is.c rank(), case 'A': i <= 2 -> +(iteration-1), else -(iteration-1) */
#define EXPECTED_RANK(i, it) ((i) <= 2 ? test_rank_array[i] + ((it) - 1) : test_rank_array[i] - ((it) - 1))
#endif

#define TOTAL_KEYS (1L << TOTAL_KEYS_LOG_2)
#define MAX_KEY (1 << MAX_KEY_LOG_2)
#define NUM_BUCKETS (1 << NUM_BUCKETS_LOG_2)
#define SHIFT (MAX_KEY_LOG_2 - NUM_BUCKETS_LOG_2) /* key >> SHIFT is its bucket */

struct state {
    int rank, nprocs;
    long lo, nlocal;     /* my slice of the global key sequence */
    int *keys;           /* nlocal keys */
    int *send;           /* keys grouped by bucket */
    int *recv;           /* keys received for ranking */
    long recv_capacity;
    long nrecv;
    int *rankcount;      /* rankcount[k - kmin]: my keys <= k */
    int kmin, kmax;      /* my key range [kmin, kmax) */
    long lesser;         /* keys on lower ranks */
    int counts[NUM_BUCKETS + TEST_ARRAY_SIZE]; /* local, plus test keys on top */
    int totals[NUM_BUCKETS + TEST_ARRAY_SIZE];
    int bucket_ptr[NUM_BUCKETS];
    int *first_bucket, *end_bucket; /* per rank: buckets [first, end) */
    int *send_count, *send_displ, *recv_count, *recv_displ;
    int passed;
};

static void create_seq(struct state *s, uint64_t seed)
{
    const double k = MAX_KEY / 4;
    uint64_t x = npb_skip(seed, NPB_MULT, 4 * (uint64_t) s->lo);
    for (long i = 0; i < s->nlocal; i++) {
        double r = npb_randlc(&x, NPB_MULT);
        r += npb_randlc(&x, NPB_MULT);
        r += npb_randlc(&x, NPB_MULT);
        r += npb_randlc(&x, NPB_MULT);
        s->keys[i] = (int) (k * r);
    }
}

static void set_key(struct state *s, long index, int value)
{
    if (index >= s->lo && index < s->lo + s->nlocal) {
        s->keys[index - s->lo] = value;
    }
}

/* Whole buckets to ranks: rank p's run ends at the first bucket where the
 * running total reaches (p+1)/np of all keys. */
static void assign_buckets(struct state *s)
{
    long running = 0;
    int p = 0;
    s->first_bucket[0] = 0;
    for (int b = 0; b < NUM_BUCKETS; b++) {
        running += s->totals[b];
        if (p < s->nprocs - 1 && running >= (p + 1) * TOTAL_KEYS / s->nprocs) {
            s->end_bucket[p] = b + 1;
            s->first_bucket[++p] = b + 1;
        }
    }
    s->end_bucket[p] = NUM_BUCKETS;
    while (++p < s->nprocs) {
        s->first_bucket[p] = s->end_bucket[p] = NUM_BUCKETS;
    }
}

/* One iteration: change two keys, rank all keys, check the test keys. The
 * untimed warm-up passes report = 0: its checks neither count nor print. */
static void rank_keys(struct state *s, int it, int report)
{
    set_key(s, it, it);
    set_key(s, it + MAX_ITERATIONS, MAX_KEY - it);

    /* Local bucket counts; the partial-verification keys ride on top. */
    memset(s->counts, 0, sizeof s->counts);
    for (int i = 0; i < TEST_ARRAY_SIZE; i++) {
        const long index = test_index_array[i];
        if (index >= s->lo && index < s->lo + s->nlocal) {
            s->counts[NUM_BUCKETS + i] = s->keys[index - s->lo];
        }
    }
    for (long i = 0; i < s->nlocal; i++) {
        s->counts[s->keys[i] >> SHIFT]++;
    }
    int start = 0;
    for (int b = 0; b < NUM_BUCKETS; b++) {
        s->bucket_ptr[b] = start;
        start += s->counts[b];
    }
    for (long i = 0; i < s->nlocal; i++) {
        const int key = s->keys[i];
        s->send[s->bucket_ptr[key >> SHIFT]++] = key;
    }

    MPI_Allreduce(s->counts, s->totals, NUM_BUCKETS + TEST_ARRAY_SIZE, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    assign_buckets(s);
    int displ = 0;
    for (int p = 0; p < s->nprocs; p++) {
        int count = 0;
        for (int b = s->first_bucket[p]; b < s->end_bucket[p]; b++) {
            count += s->counts[b];
        }
        s->send_count[p] = count;
        s->send_displ[p] = displ;
        displ += count;
    }
    MPI_Alltoall(s->send_count, 1, MPI_INT, s->recv_count, 1, MPI_INT, MPI_COMM_WORLD);
    long nrecv = 0;
    for (int p = 0; p < s->nprocs; p++) {
        s->recv_displ[p] = (int) nrecv;
        nrecv += s->recv_count[p];
    }
    if (nrecv > s->recv_capacity) {
        free(s->recv);
        s->recv_capacity = nrecv;
        s->recv = npb_alloc((size_t) nrecv, sizeof(int));
    }
    s->nrecv = nrecv;
    MPI_Alltoallv(s->send, s->send_count, s->send_displ, MPI_INT, s->recv, s->recv_count, s->recv_displ,
                  MPI_INT, MPI_COMM_WORLD);

    /* Rank the received keys: counts per key value, then running sums. */
    const int me = s->rank;
    s->kmin = s->first_bucket[me] << SHIFT;
    s->kmax = s->end_bucket[me] << SHIFT;
    s->lesser = 0;
    for (int b = 0; b < s->first_bucket[me]; b++) {
        s->lesser += s->totals[b];
    }
    const int width = s->kmax - s->kmin;
    memset(s->rankcount, 0, (size_t) (width > 0 ? width : 0) * sizeof(int));
    for (long i = 0; i < nrecv; i++) {
        s->rankcount[s->recv[i] - s->kmin]++;
    }
    for (int k = 1; k < width; k++) {
        s->rankcount[k] += s->rankcount[k - 1];
    }

    /* Partial verification: the rank of a key is the number of keys below it. */
    for (int i = 0; i < TEST_ARRAY_SIZE && report; i++) {
        const int k = s->totals[NUM_BUCKETS + i];
        if (k < s->kmin || k >= s->kmax) {
            continue;
        }
        const long key_rank = s->lesser + (k > s->kmin ? s->rankcount[k - 1 - s->kmin] : 0);
        if (key_rank == EXPECTED_RANK(i, it)) {
            s->passed++;
        } else {
            printf("Failed partial verification: iteration %d, processor %d, test key %d\n", it, me, i);
        }
    }
}

/* Place every key at its rank, check the order locally and across ranks, and
 * that no key was lost. Untimed, after the last iteration (IS/is.c full_verify). */
static void full_verify(struct state *s)
{
    int *sorted = npb_alloc((size_t) s->nrecv, sizeof(int));
    for (long i = 0; i < s->nrecv; i++) {
        const int key = s->recv[i];
        sorted[--s->rankcount[key - s->kmin]] = key;
    }
    long out_of_order = 0;
    for (long i = 1; i < s->nrecv; i++) {
        if (sorted[i - 1] > sorted[i]) {
            out_of_order++;
        }
    }
    /* The largest key of all lower ranks must not exceed my smallest. */
    int my_max = s->nrecv > 0 ? sorted[s->nrecv - 1] : -1, lower_max = -1;
    MPI_Exscan(&my_max, &lower_max, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (s->rank > 0 && s->nrecv > 0 && lower_max > sorted[0]) {
        out_of_order++;
    }
    long total = 0;
    MPI_Allreduce(&s->nrecv, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (out_of_order != 0) {
        printf("Processor %d:  Full_verify: number of keys out of sort: %ld\n", s->rank, out_of_order);
    } else if (total != TOTAL_KEYS) {
        printf("Processor %d:  Full_verify: %ld keys ranked, expected %ld\n", s->rank, total, TOTAL_KEYS);
    } else {
        s->passed++;
    }
    free(sorted);
}

int main(int argc, char **argv)
{
    struct state s;
    memset(&s, 0, sizeof s);
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s.nprocs);
    npb_print_rank(s.rank, s.nprocs);

    if (s.nprocs > NUM_BUCKETS) {
        return npb_refuse(s.rank, "is: more processes than buckets");
    }
    const int perturb = npb_perturbed(s.rank);
    const uint64_t seed = SEED + (perturb ? 2 : 0); /* stays odd */

    if (s.rank == 0) {
        npb_banner("IS", perturb);
        printf(" Size:  %ld  (class %s)\n", TOTAL_KEYS, NPB_CLASS_NAME);
        printf(" Iterations:   %d\n", MAX_ITERATIONS);
        printf(" Number of processes:     %d\n", s.nprocs);
        fflush(stdout);
    }

    s.lo = s.rank * TOTAL_KEYS / s.nprocs;
    s.nlocal = (s.rank + 1) * TOTAL_KEYS / s.nprocs - s.lo;
    s.keys = npb_alloc((size_t) s.nlocal, sizeof(int));
    s.send = npb_alloc((size_t) s.nlocal, sizeof(int));
    s.rankcount = npb_alloc(MAX_KEY, sizeof(int));
    s.first_bucket = npb_alloc((size_t) s.nprocs, sizeof(int));
    s.end_bucket = npb_alloc((size_t) s.nprocs, sizeof(int));
    s.send_count = npb_alloc((size_t) s.nprocs, sizeof(int));
    s.send_displ = npb_alloc((size_t) s.nprocs, sizeof(int));
    s.recv_count = npb_alloc((size_t) s.nprocs, sizeof(int));
    s.recv_displ = npb_alloc((size_t) s.nprocs, sizeof(int));

    create_seq(&s, seed);

    /* One untimed iteration to touch every page, as NPB does. */
    rank_keys(&s, 1, 0);

    if (s.rank == 0 && NPB_CLASS_ID != NPB_CLASS_S) {
        printf("\n   iteration\n");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    for (int it = 1; it <= MAX_ITERATIONS; it++) {
        if (s.rank == 0 && NPB_CLASS_ID != NPB_CLASS_S) {
            printf("        %d\n", it);
        }
        rank_keys(&s, it, 1);
    }
    double elapsed = MPI_Wtime() - t0, maxtime;
    MPI_Allreduce(&elapsed, &maxtime, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    full_verify(&s);
    int passed = 0;
    MPI_Reduce(&s.passed, &passed, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);

    if (s.rank == 0) {
        const int expected = TEST_ARRAY_SIZE * MAX_ITERATIONS + s.nprocs;
        printf("\n Verification: %d of %d checks passed (%d partial x %d iterations, full on %d processes)\n",
               passed, expected, TEST_ARRAY_SIZE, MAX_ITERATIONS, s.nprocs);
        const struct npb_result result = {
            .kernel = "IS",
            .size = TOTAL_KEYS,
            .iterations = MAX_ITERATIONS,
            .nprocs = s.nprocs,
            .time_s = maxtime,
            .mops = (double) MAX_ITERATIONS * TOTAL_KEYS / maxtime / 1.0e6,
            .optype = "keys ranked",
            .verified = passed == expected,
        };
        npb_print_results(&result);
    }

    free(s.keys);
    free(s.send);
    free(s.recv);
    free(s.rankcount);
    free(s.first_bucket);
    free(s.end_bucket);
    free(s.send_count);
    free(s.send_displ);
    free(s.recv_count);
    free(s.recv_displ);
    MPI_Finalize();
    return 0;
}
