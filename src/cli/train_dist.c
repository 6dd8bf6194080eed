/* The ranks of a data-parallel `tril train` and what they exchange: MPI
 * point-to-point and gathers that move bytes in a fixed order (the library
 * does the arithmetic), or one rank without MPI. Interface and guarantees
 * in train_dist.h; the design in docs/DISTRIBUTED.md. */
#include "cli/train_dist.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TRIL_HAVE_MPI
#include <mpi.h>
#endif

#include "cli/cli.h"
#include "tril/error.h"
#include "tril/train.h"

struct dist_exchange {
    const train_dist *d;
    int64_t n, lo, hi;
    int *counts, *displs;             /* [size] every shard's length and start, in floats */
    int *chunk_counts, *chunk_displs; /* [size] every shard's norm chunks */
    double *chunk_sums;               /* [chunks of n] */
    float *recv[2];                   /* [hi - lo] two ranks' parts of this shard in flight
                                         (one with two ranks) */
#ifdef TRIL_HAVE_MPI
    MPI_Request *sends; /* [size] */
#endif
};

static int message_rank = -1; /* >= 0: messages name the rank */

void train_errorf(const char *fmt, ...)
{
    char rank[32] = "";
    if (message_rank >= 0) snprintf(rank, sizeof rank, "rank %d: ", message_rank);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tril train: %s", rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int train_lib_error(const char *what)
{
    train_errorf("%s: %s", what, tril_last_error());
    return CLI_FAIL;
}

/* How many processes a launcher started, read from the variables Open MPI
 * (mpirun), MPICH/Hydra and Slurm's PMI/PMIx plugins give each one; 0 when
 * no launcher started this one. */
static long launched_ranks(void)
{
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        const char *v = getenv(sizes[i]);
        if (v && *v) return strtol(v, NULL, 10) > 0 ? strtol(v, NULL, 10) : 1;
    }
    return getenv("PMIX_RANK") || getenv("PMI_RANK") ? 1 : 0;
}

int dist_fail(const train_dist *d, int rc)
{
#ifdef TRIL_HAVE_MPI
    if (d && d->mpi && d->size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
        exit(rc); /* MPI_Abort does not return; if it did, end this rank anyway */
    }
#else
    (void)d;
#endif
    return rc;
}

#ifdef TRIL_HAVE_MPI
/* An MPI call that failed: say which and why, and end the job. */
static void mpi_check(const train_dist *d, int rc, const char *call)
{
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    train_errorf("%s failed: %s", call, msg);
    dist_fail(d, CLI_FAIL);
}
#define CHECK(d, call, name) mpi_check((d), (call), (name))
#endif

int dist_start(train_dist *d)
{
    memset(d, 0, sizeof *d);
    d->size = 1;
    const long launched = launched_ranks();
#ifdef TRIL_HAVE_MPI
    if (!launched) return CLI_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        train_errorf("MPI_Init_thread failed");
        return CLI_FAIL;
    }
    d->mpi = 1;
    /* errors come back to mpi_check, which names the call, instead of
     * MPI's default of ending the job without saying where */
    if (MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank) != MPI_SUCCESS ||
        MPI_Comm_size(MPI_COMM_WORLD, &d->size) != MPI_SUCCESS) {
        train_errorf("cannot read this process's rank from MPI");
        return dist_fail(d, CLI_FAIL);
    }
    if (d->size > 1) message_rank = d->rank;
    /* OpenMP threads run beside MPI, only the main thread calls it */
    if (provided < MPI_THREAD_FUNNELED) {
        train_errorf("this MPI library does not support threads beside it (MPI_THREAD_FUNNELED)");
        return dist_fail(d, CLI_FAIL);
    }
    return CLI_OK;
#else
    if (launched > 1) {
        fprintf(stderr, "tril train: this tril was built without MPI but was started as one of %ld "
                        "processes (mpirun or srun): each would train alone. Rebuild it with MPI "
                        "(Debian: libopenmpi-dev; cmake -DTRIL_MPI=ON) or run one process.\n",
                launched);
        return CLI_USAGE;
    }
    return CLI_OK;
#endif
}

void dist_finish(train_dist *d)
{
#ifdef TRIL_HAVE_MPI
    if (d->mpi) MPI_Finalize();
#endif
    d->mpi = 0;
}

int dist_agree(const train_dist *d, int rc)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) {
        int all = rc;
        CHECK(d, MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
        return all;
    }
#endif
    (void)d;
    return rc;
}

int dist_bcast_int(const train_dist *d, int v)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) CHECK(d, MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
#endif
    (void)d;
    return v;
}

int dist_bcast_text(const train_dist *d, char **text)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) {
        long long len = d->rank == 0 ? (long long)strlen(*text) : 0;
        CHECK(d, MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
        if (len < 0 || len >= INT_MAX) {
            train_errorf("rank 0's settings are %lld bytes long", len);
            return dist_fail(d, -1);
        }
        if (d->rank != 0 && !(*text = malloc((size_t)len + 1))) {
            train_errorf("out of memory");
            return dist_fail(d, -1);
        }
        CHECK(d, MPI_Bcast(*text, (int)len + 1, MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }
#endif
    (void)d;
    (void)text;
    return 0;
}

#ifdef TRIL_HAVE_MPI
/* A 64-bit hash of bytes, a word at a time (fast enough for a model's
 * weights at start-up). */
static uint64_t hash_bytes(const void *data, size_t size)
{
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)size, w;
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; i < size; i++) h = (h ^ p[i]) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}
#endif

int dist_same_as_root(const train_dist *d, const void *data, size_t size)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) {
        unsigned long long mine = hash_bytes(data, size), root = mine;
        CHECK(d, MPI_Bcast(&root, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
        return mine == root;
    }
#endif
    (void)d;
    (void)data;
    (void)size;
    return 1;
}

void dist_barrier(const train_dist *d)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) CHECK(d, MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
    (void)d;
}

void dist_allgather_floats(const train_dist *d, const float *mine, int count, float *all)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) {
        CHECK(d, MPI_Allgather(mine, count, MPI_FLOAT, all, count, MPI_FLOAT, MPI_COMM_WORLD),
              "MPI_Allgather");
        return;
    }
#endif
    (void)d;
    memcpy(all, mine, (size_t)count * sizeof *all);
}

void dist_allgather_double(const train_dist *d, double mine, double *all)
{
#ifdef TRIL_HAVE_MPI
    if (d->size > 1) {
        CHECK(d, MPI_Allgather(&mine, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, MPI_COMM_WORLD),
              "MPI_Allgather");
        return;
    }
#endif
    (void)d;
    all[0] = mine;
}

/* ---- the gradient exchange ------------------------------------------------ */

void dist_exchange_free(dist_exchange *x)
{
    if (!x) return;
    free(x->counts);
    free(x->displs);
    free(x->chunk_counts);
    free(x->chunk_displs);
    free(x->chunk_sums);
    free(x->recv[0]);
    free(x->recv[1]);
#ifdef TRIL_HAVE_MPI
    free(x->sends);
#endif
    free(x);
}

int dist_exchange_create(const train_dist *d, int64_t n, dist_exchange **out, int64_t *lo,
                         int64_t *hi)
{
    *out = NULL;
    if (d->size > 1 && n > INT_MAX) { /* MPI counts and offsets are ints */
        train_errorf("a model of %lld parameters is more than distributed training can exchange "
                     "(at most %d)", (long long)n, INT_MAX);
        return CLI_FAIL;
    }
    dist_exchange *x = calloc(1, sizeof *x);
    const size_t N = (size_t)d->size;
    const int64_t chunks = tril_grad_chunks(n);
    if (x) {
        x->d = d;
        x->n = n;
        x->counts = malloc(N * sizeof *x->counts);
        x->displs = malloc(N * sizeof *x->displs);
        x->chunk_counts = malloc(N * sizeof *x->chunk_counts);
        x->chunk_displs = malloc(N * sizeof *x->chunk_displs);
        x->chunk_sums = malloc((size_t)(chunks > 0 ? chunks : 1) * sizeof *x->chunk_sums);
    }
    int ok = x && x->counts && x->displs && x->chunk_counts && x->chunk_displs && x->chunk_sums;
#ifdef TRIL_HAVE_MPI
    if (ok) ok = (x->sends = malloc(N * sizeof *x->sends)) != NULL;
#endif
    if (!ok) {
        dist_exchange_free(x);
        train_errorf("out of memory");
        return CLI_FAIL;
    }
    for (int q = 0; q < d->size; q++) {
        int64_t a, b;
        tril_shard_range(n, q, d->size, &a, &b);
        x->counts[q] = (int)(b - a);
        x->displs[q] = (int)a;
        x->chunk_counts[q] = (int)tril_grad_chunks(b - a); /* shards start on chunk bounds */
        x->chunk_displs[q] = (int)(a / TRIL_GRAD_CHUNK);
        if (q == d->rank) {
            x->lo = a;
            x->hi = b;
        }
    }
    const int64_t mine = x->hi - x->lo;
    if (d->size > 1 && mine > 0) { /* a second buffer only when two parts can be in flight */
        x->recv[0] = malloc((size_t)mine * sizeof(float));
        x->recv[1] = d->size > 2 ? malloc((size_t)mine * sizeof(float)) : NULL;
        if (!x->recv[0] || (d->size > 2 && !x->recv[1])) {
            dist_exchange_free(x);
            train_errorf("out of memory for the gradient exchange");
            return CLI_FAIL;
        }
    }
    *lo = x->lo;
    *hi = x->hi;
    *out = x;
    return CLI_OK;
}

#ifdef TRIL_HAVE_MPI
/* Posts the receive of the next rank's part of this shard (ranks in order,
 * this one skipped) into the next of the two buffers. */
static void post_next(dist_exchange *x, MPI_Request pending[2], int *next, int *slot)
{
    const train_dist *d = x->d;
    if (*next == d->rank) ++*next;
    if (*next >= d->size) return;
    CHECK(d, MPI_Irecv(x->recv[*slot], (int)(x->hi - x->lo), MPI_FLOAT, *next, 1, MPI_COMM_WORLD,
                       &pending[*slot]),
          "MPI_Irecv");
    *slot ^= 1;
    ++*next;
}
#endif

void dist_reduce_scatter(dist_exchange *x, const float *grads, float *shard_total, int first)
{
    const train_dist *d = x->d;
    const int64_t mine = x->hi - x->lo;
    if (d->size == 1) {
        tril_grad_fold(shard_total, grads, mine, first);
        return;
    }
#ifdef TRIL_HAVE_MPI
    const int me = d->rank, N = d->size;
    int sends = 0;
    for (int q = 0; q < N; q++)
        if (q != me && x->counts[q] > 0)
            CHECK(d, MPI_Isend(grads + x->displs[q], x->counts[q], MPI_FLOAT, q, 1, MPI_COMM_WORLD,
                               &x->sends[sends++]),
                  "MPI_Isend");
    /* This shard's parts arrive into two buffers in turn: one is added to
     * the total while the next is on its way. The adds go in rank order,
     * this rank's own part in its place, whatever order the bytes land. */
    if (mine > 0) {
        MPI_Request pending[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
        int next = 0, slot = 0, use = 0;
        post_next(x, pending, &next, &slot);
        for (int q = 0; q < N; q++) {
            if (q == me) {
                tril_grad_fold(shard_total, grads + x->lo, mine, first && q == 0);
                continue;
            }
            post_next(x, pending, &next, &slot);
            CHECK(d, MPI_Wait(&pending[use], MPI_STATUS_IGNORE), "MPI_Wait");
            tril_grad_fold(shard_total, x->recv[use], mine, first && q == 0);
            use ^= 1;
        }
    }
    CHECK(d, MPI_Waitall(sends, x->sends, MPI_STATUSES_IGNORE), "MPI_Waitall");
#endif
}

double dist_grad_norm(dist_exchange *x, const float *shard_total)
{
    const train_dist *d = x->d;
    const int me = d->rank;
    tril_grad_chunk_sumsq(shard_total, x->hi - x->lo, x->chunk_sums + x->chunk_displs[me]);
#ifdef TRIL_HAVE_MPI
    if (d->size > 1)
        CHECK(d, MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, x->chunk_sums, x->chunk_counts,
                                x->chunk_displs, MPI_DOUBLE, MPI_COMM_WORLD),
              "MPI_Allgatherv");
#endif
    return tril_grad_norm_of_chunks(x->chunk_sums, tril_grad_chunks(x->n));
}

void dist_allgather_shards(dist_exchange *x, float *full)
{
#ifdef TRIL_HAVE_MPI
    const train_dist *d = x->d;
    if (d->size > 1)
        CHECK(d, MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, full, x->counts, x->displs,
                                MPI_FLOAT, MPI_COMM_WORLD),
              "MPI_Allgatherv");
#endif
    (void)x;
    (void)full;
}

void dist_gather_shards(dist_exchange *x, const float *shard, float *full)
{
    const train_dist *d = x->d;
    if (d->size == 1) {
        if (full != shard) memcpy(full, shard, (size_t)x->n * sizeof *full);
        return;
    }
#ifdef TRIL_HAVE_MPI
    CHECK(d, MPI_Gatherv(shard, x->counts[d->rank], MPI_FLOAT, full, x->counts, x->displs,
                         MPI_FLOAT, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
#endif
}
