/* The ranks of a data-parallel `tril train` and the bytes they exchange
 * (src/cli/train_dist.c; design in docs/DISTRIBUTED.md). MPI when the
 * program was built with it and started by mpirun or srun; otherwise one
 * rank, and every function below is what one process does on its own.
 *
 * The arithmetic is the library's (tril_shard_range, tril_grad_fold,
 * tril_grad_chunk_sumsq): these functions only move bytes, in an order that
 * keeps every sum the one a single process computes. MPI's own reductions
 * are never used on training values: they fix no order.
 *
 * Every function that communicates is collective: all ranks call it at the
 * same point. An MPI call that fails prints "tril train: rank R: ..." and
 * aborts the job (MPI_Abort): the other ranks would otherwise wait forever. */
#ifndef TRIL_CLI_TRAIN_DIST_H
#define TRIL_CLI_TRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size; /* 0 and 1 for one process */
    int mpi;        /* MPI was initialised here (dist_finish ends it) */
} train_dist;

/* Joins the job when started by an MPI launcher (mpirun, srun); one rank
 * otherwise. A build without MPI started as one of several processes is
 * refused with a message. Returns a CLI exit code. */
int dist_start(train_dist *d);
void dist_finish(train_dist *d);

/* The largest of the ranks' codes, on every rank. */
int dist_agree(const train_dist *d, int rc);
/* Rank 0's value, on every rank. */
int dist_bcast_int(const train_dist *d, int v);
/* Rank 0's NUL-terminated text: on rank 0 *text is read, elsewhere it
 * becomes a malloc'd copy (free it). Returns 0, or -1 out of memory. */
int dist_bcast_text(const train_dist *d, char **text);
/* Whether this rank's bytes equal rank 0's (compared by a 64-bit hash). */
int dist_same_as_root(const train_dist *d, const void *data, size_t size);
/* Returns once every rank has called it. */
void dist_barrier(const train_dist *d);
/* Every rank's `count` floats, rank by rank, into all [size * count]. */
void dist_allgather_floats(const train_dist *d, const float *mine, int count, float *all);
/* Every rank's value into all [size]. */
void dist_allgather_double(const train_dist *d, double mine, double *all);

/* A rank that fails on its own (a write only rank 0 does, out of memory)
 * ends the whole job when there are several ranks: MPI_Abort with rc after
 * the message was printed. With one rank it returns rc. */
int dist_fail(const train_dist *d, int rc);

/* Messages: "tril train: " then, with several ranks, "rank R: ". */
void train_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* train_errorf("%s: %s", what, the library's last error); returns 1. */
int train_lib_error(const char *what);

/* ---- the gradient exchange of one run ------------------------------------ */
typedef struct dist_exchange dist_exchange;

/* For an arena of n values cut into tril_shard_range's shards: this rank's
 * shard is [*lo, *hi). Fails (message printed, CLI code returned; the same
 * on every rank) when n exceeds MPI's int counts or memory runs out. */
int dist_exchange_create(const train_dist *d, int64_t n, dist_exchange **out, int64_t *lo,
                         int64_t *hi);
void dist_exchange_free(dist_exchange *x);

/* The ordered reduce-scatter of one micro-step: every rank holds grads [n],
 * the gradient of its micro-batch; shard_total [hi - lo] of each rank
 * becomes its running total plus the ranks' grads over its shard, added
 * rank 0 first (tril_grad_fold; first: the step's first micro-step, the
 * total starts as rank 0's values). Rank q at micro-step k computes
 * micro-batch k * size + q, so this is one process's order. */
void dist_reduce_scatter(dist_exchange *x, const float *grads, float *shard_total, int first);
/* The global norm of the summed gradient from each rank's shard_total:
 * chunk sums over the shards, gathered, added in chunk order, as
 * tril_grad_norm adds them over the whole arena. */
double dist_grad_norm(dist_exchange *x, const float *shard_total);
/* Every rank's shard of full [n] (a rank's own shard in place) to every
 * rank: the parameters after a sharded update, or the summed gradient. */
void dist_allgather_shards(dist_exchange *x, float *full);
/* Every rank's shard [hi - lo] into full [n] on rank 0 (full is unused
 * elsewhere): the optimizer's moments for a checkpoint. */
void dist_gather_shards(dist_exchange *x, const float *shard, float *full);

#endif
