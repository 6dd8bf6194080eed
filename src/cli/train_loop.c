/* The training loop: per step, the job's micro-batches forward + backward,
 * their gradients summed in micro-batch order, the global norm and
 * clipping, the scheduled learning rate, AdamW. On N ranks with K
 * micro-batches each, rank q computes micro-batch k * N + q at its k-th
 * micro-step and the sums are kept in that order by the exchange
 * (cli/train_dist.h), so the model is the bits of one process with N * K
 * (docs/DISTRIBUTED.md). Evaluation draws its batches from its own
 * generator, re-seeded for every evaluation (the same validation windows
 * each time, and the training data order never depends on when or whether
 * evaluation runs), so a run resumed from a checkpoint replays the
 * uninterrupted run bit for bit. Rank 0 alone evaluates, logs, prints and
 * writes. */
#include "cli/train_loop.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tril/timing.h"

#define CMD "train"
#define EVAL_STREAM 0x76616c6964617465ull /* "validate": the evaluation generator's seed offset */

static double eval_loss(train_run *r, int32_t *in, int32_t *tg, tril_status *st)
{
    const tril_train_args *a = &r->state.args;
    tril_rng rng;
    tril_rng_seed(&rng, a->seed ^ EVAL_STREAM);
    double sum = 0.0;
    for (int64_t k = 0; k < a->eval_batches; k++) {
        float loss = 0.0f;
        tril_dataset_batch(&r->data, 1, a->batch, a->seq, &rng, in, tg);
        if ((*st = tril_trainer_forward(r->trainer, in, tg, a->batch, a->seq, &loss)) != TRIL_OK)
            return NAN;
        sum += loss;
    }
    return sum / (double)a->eval_batches;
}

/* One row, flushed so the log is complete whenever the run stops. Returns 0,
 * or -1 with errno set when the row could not be written (a full disk). */
static int csv_row(FILE *f, const tril_train_log_row *row)
{
    errno = 0;
    int bad = fprintf(f, "%lld,%.6f,", (long long)row->step, row->train_loss) < 0;
    if (isfinite(row->val_loss)) bad |= fprintf(f, "%.6f", row->val_loss) < 0;
    bad |= fprintf(f, ",%.6e,%.1f\n", row->lr, row->tokens_per_s) < 0;
    bad |= fflush(f) != 0;
    return bad || ferror(f) ? -1 : 0;
}

/* Prints why the log could not be written (newline: end the terminal's
 * progress line first); returns CLI_FAIL. */
static int log_error(const train_run *r, int err, int newline)
{
    if (newline) fputc('\n', stderr);
    train_errorf("cannot write the log '%s': %s", r->log_path, err ? strerror(err) : "write error");
    return CLI_FAIL;
}

/* Opens the log and writes its header and the rows of the run so far (a
 * resumed run's). NULL with errno set on failure. */
static FILE *open_log(train_run *r)
{
    FILE *f = fopen(r->log_path, "w");
    if (!f) return NULL;
    errno = 0;
    int bad = fprintf(f, "step,train_loss,val_loss,lr,tokens_per_s\n") < 0;
    for (size_t i = 0; i < r->state.log.count && !bad; i++)
        bad = csv_row(f, &r->state.log.rows[i]) != 0;
    if (!bad) bad = fflush(f) != 0 || ferror(f);
    if (bad) {
        const int err = errno;
        fclose(f);
        errno = err;
        return NULL;
    }
    return f;
}

static void format_eta(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void progress(const train_run *r, const tril_train_log_row *row, double last_val,
                     double tokens_per_s, double eta, int tty, int final)
{
    char val[32] = "", when[16];
    if (isfinite(last_val)) snprintf(val, sizeof val, " | val %.4f", last_val);
    format_eta(when, sizeof when, eta);
    fprintf(stderr, "%sstep %lld/%lld | loss %.4f%s | lr %.2e | %.0f tok/s | ETA %s%s",
            tty ? "\r\033[K" : "", (long long)row->step, (long long)r->state.args.steps,
            row->train_loss, val, row->lr, tokens_per_s, when, tty && !final ? "" : "\n");
    fflush(stderr);
}

/* Writes DIR/checkpoint-<done> (rank 0). The moments of a sharded
 * optimizer are gathered first, so the checkpoint is the same whatever the
 * number of ranks (rank 0 holds them whole only while it writes). */
static int save_checkpoint(train_run *r, int64_t done, char *last_ckpt, size_t size)
{
    const train_dist *d = r->dist;
    const int64_t n = tril_gpt2_num_params(&r->state.args.model);
    tril_adamw whole = r->opt;
    float *m = NULL, *v = NULL;
    if (d->size > 1 && !r->replicate) {
        if (d->rank == 0) {
            m = malloc((size_t)n * sizeof *m);
            v = malloc((size_t)n * sizeof *v);
            if (!m || !v) {
                train_errorf("out of memory for the checkpoint's optimizer state");
                return dist_fail(d, CLI_FAIL);
            }
        }
        dist_gather_shards(r->exchange, r->opt.m, m);
        dist_gather_shards(r->exchange, r->opt.v, v);
        whole = (tril_adamw){m, v, n, r->opt.step, 0};
    }
    int rc = CLI_OK;
    if (d->rank == 0) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/checkpoint-%lld", r->out_dir, (long long)done);
        if (tril_checkpoint_save(dir, r->model, &whole, &r->opt_cfg, &r->state, r->tok_dir) != TRIL_OK)
            rc = dist_fail(d, train_lib_error("cannot save a checkpoint"));
        else
            snprintf(last_ckpt, size, "%s", dir);
    }
    free(m);
    free(v);
    return rc;
}

/* Every rank sees the same loss and norm, so every rank stops here; rank 0
 * says why. */
static int stop_nonfinite(const train_run *r, const char *what, double value, int64_t step,
                          const char *last_ckpt)
{
    if (r->dist->rank != 0) return CLI_FAIL;
    fputc('\n', stderr);
    train_errorf("step %lld: the %s is %g (not finite); stopping without saving. %s%s",
                 (long long)step, what, value,
                 last_ckpt[0] ? "The last good checkpoint is " : "No checkpoint was written.",
                 last_ckpt);
    return CLI_FAIL;
}

/* Where one step's time goes, in seconds (rank 0's, for the summary):
 * waiting for the slowest rank is told apart from moving bytes, so that a
 * busy machine's imbalance does not pass for the cost of the exchange. */
typedef struct {
    double compute, wait, exchange, optimizer;
} step_times;

/* This rank's buffers of one micro-batch, and of the others' (drawn too,
 * to keep the data stream the one of one process). */
typedef struct {
    int32_t *in, *tg, *other_in, *other_tg; /* [B, T] each */
    float *losses;                          /* [K] this rank's micro-batch losses */
    float *all_losses;                      /* [N * K] every rank's, rank by rank */
} step_bufs;

/* This rank's K micro-batches: forward, backward into a fresh gradient,
 * then the ordered reduce-scatter into the shard totals. */
static tril_status micro_steps(train_run *r, step_bufs *b, step_times *tm)
{
    const train_dist *d = r->dist;
    const tril_train_args *a = &r->state.args;
    const int64_t n = tril_gpt2_num_params(&a->model);
    float *shard_total = r->replicate ? r->total + r->lo : r->total;
    float *g = r->grads ? r->grads : r->total;
    const float scale = 1.0f / (float)a->accum; /* the loss is the mean over the job's micro-batches */
    for (int64_t k = 0; k < r->accum_local; k++) {
        double t = tril_now();
        /* micro-batches k N .. k N + N - 1, in order: this rank's is k N + rank */
        for (int q = 0; q < d->size; q++)
            tril_dataset_batch(&r->data, 0, a->batch, a->seq, &r->state.rng,
                               q == d->rank ? b->in : b->other_in, q == d->rank ? b->tg : b->other_tg);
        tril_status st = tril_trainer_forward(r->trainer, b->in, b->tg, a->batch, a->seq,
                                              &b->losses[k]);
        if (st != TRIL_OK) return st;
        memset(g, 0, (size_t)n * sizeof *g);
        if ((st = tril_trainer_backward(r->trainer, g, scale)) != TRIL_OK) return st;
        const double t1 = tril_now();
        tm->compute += t1 - t;
        dist_barrier(d); /* only to time the wait apart: the exchange would wait anyway */
        const double t2 = tril_now();
        tm->wait += t2 - t1;
        dist_reduce_scatter(r->exchange, g, shard_total, k == 0);
        tm->exchange += tril_now() - t2;
    }
    return TRIL_OK;
}

/* The job's mean loss, its micro-batches added in order (j = k N + q). */
static double mean_loss(const train_run *r, step_bufs *b)
{
    const int64_t N = r->dist->size, K = r->accum_local;
    dist_allgather_floats(r->dist, b->losses, (int)K, b->all_losses);
    double sum = 0.0;
    for (int64_t j = 0; j < N * K; j++) sum += b->all_losses[(j % N) * K + j / N];
    return sum / (double)(N * K);
}

static void free_bufs(step_bufs *b)
{
    free(b->in);
    free(b->tg);
    free(b->other_in);
    free(b->other_tg);
    free(b->losses);
    free(b->all_losses);
}

/* The summary on stdout (rank 0), after the model is saved. */
static void summary(const train_run *r, const tril_train_log_row *row, double last_val,
                    double tps, const step_times *tm, int64_t steps_run, const double *rss)
{
    const train_dist *d = r->dist;
    printf("saved %s (model), log %s\n", r->out_dir, r->log_path);
    printf("peak_rss_mb=%.1f\n", (double)tril_peak_rss_bytes() / 1e6);
    if (d->size > 1) {
        printf("peak_rss_mb_per_rank=");
        for (int q = 0; q < d->size; q++) printf("%s%.1f", q ? "," : "", rss[q]);
        printf(" (%s optimizer)\n", r->replicate ? "replicated" : "sharded");
    }
    if (steps_run > 0) {
        const double ms = 1e3 / (double)steps_run;
        printf("step_ms compute=%.1f wait=%.1f exchange=%.1f optimizer=%.1f ranks=%d\n",
               tm->compute * ms, tm->wait * ms, tm->exchange * ms, tm->optimizer * ms, d->size);
    }
    printf("final step=%lld train_loss=%.4f val_loss=%.4f tokens_per_s=%.0f\n",
           (long long)r->state.step, row->train_loss, last_val, tps);
}

int train_loop(train_run *r)
{
    const train_dist *d = r->dist;
    const int root = d->rank == 0;
    tril_train_args *a = &r->state.args;
    const int64_t BT = a->batch * a->seq, tokens_per_step = BT * a->accum, K = r->accum_local;
    step_bufs b = {malloc((size_t)BT * sizeof *b.in), malloc((size_t)BT * sizeof *b.tg),
                   malloc((size_t)BT * sizeof *b.in), malloc((size_t)BT * sizeof *b.tg),
                   malloc((size_t)K * sizeof *b.losses),
                   malloc((size_t)(K * d->size) * sizeof *b.all_losses)};
    double *all_rss = malloc((size_t)d->size * sizeof *all_rss); /* every rank's peak, MB */
    FILE *log = root ? open_log(r) : NULL;
    const int open_errno = errno;
    int rc = CLI_OK;
    char last_ckpt[PATH_MAX] = "";
    /* the weights the optimizer updates in place, and their table */
    float *params = NULL;
    int64_t n_params = 0;
    size_t n_table = 0;
    const tril_param_info *table = tril_gpt2_get_params(r->model, &n_table);
    if (tril_gpt2_get_arena(r->model, &params, &n_params) != TRIL_OK) {
        rc = dist_fail(d, train_lib_error("cannot train this model"));
        goto done;
    }
    if (!b.in || !b.tg || !b.other_in || !b.other_tg || !b.losses || !b.all_losses || !all_rss) {
        train_errorf("out of memory");
        rc = dist_fail(d, CLI_FAIL);
        goto done;
    }
    if (root && !log) {
        rc = dist_fail(d, log_error(r, open_errno, 0));
        goto done;
    }
    const int tty = isatty(fileno(stderr));
    const int64_t start = r->state.step;
    double train_time = 0.0, last_val = NAN, last_print = 0.0;
    step_times tm = {0, 0, 0, 0};
    tril_train_log_row row = {start, NAN, NAN, 0.0, 0.0};
    if (r->state.log.count) row = r->state.log.rows[r->state.log.count - 1];
    tril_status st = TRIL_OK;
    for (int64_t step = start; step < a->steps; step++) {
        const double t0 = tril_now();
        if ((st = micro_steps(r, &b, &tm)) != TRIL_OK) {
            rc = dist_fail(d, train_lib_error("training step failed"));
            goto done;
        }
        double t = tril_now();
        const double train_loss = mean_loss(r, &b);
        tm.exchange += tril_now() - t;
        if (!isfinite(train_loss)) {
            rc = stop_nonfinite(r, "training loss", train_loss, step + 1, last_ckpt);
            goto done;
        }
        const float lr = tril_lr_at(step, a->warmup, a->steps, (float)a->lr, (float)a->min_lr);
        t = tril_now();
        const double norm = dist_grad_norm(r->exchange, r->replicate ? r->total + r->lo : r->total);
        if (!isfinite(norm)) { /* nothing updated: every rank stops */
            rc = stop_nonfinite(r, "gradient norm", norm, step + 1, last_ckpt);
            goto done;
        }
        if (r->replicate) { /* every rank needs the whole sum to update everything */
            const double t1 = tril_now();
            dist_allgather_shards(r->exchange, r->total);
            tm.exchange += tril_now() - t1;
            t += tril_now() - t1;
        }
        tril_adamw_step_scaled(&r->opt, &r->opt_cfg, params, r->total,
                               tril_clip_coef(norm, (float)a->clip), table, n_table, lr);
        const double t2 = tril_now();
        tm.optimizer += t2 - t;
        if (!r->replicate) { /* each rank updated its shard: share them */
            dist_allgather_shards(r->exchange, params);
            tm.exchange += tril_now() - t2;
        }
        const double dt = tril_now() - t0;
        train_time += dt;
        const int64_t done = step + 1;
        r->state.step = done;
        row = (tril_train_log_row){done, train_loss, NAN, lr, (double)tokens_per_step / dt};
        const int eval_now = (a->eval_every > 0 && done % a->eval_every == 0) || done == a->steps;
        if (root) {
            if (eval_now) {
                row.val_loss = last_val = eval_loss(r, b.in, b.tg, &st);
                if (st != TRIL_OK) {
                    rc = dist_fail(d, train_lib_error("evaluation failed"));
                    goto done;
                }
            }
            if (csv_row(log, &row) != 0) { /* a full disk: stop rather than train unlogged */
                rc = dist_fail(d, log_error(r, errno, tty));
                goto done;
            }
            if (tril_train_log_append(&r->state.log, &row) != TRIL_OK) {
                rc = dist_fail(d, train_lib_error("out of memory"));
                goto done;
            }
            const double eta = train_time / (double)(done - start) * (double)(a->steps - done);
            const double now = tril_now();
            if (eval_now || (tty && now - last_print > 0.1)) {
                const double avg = (double)((done - start) * tokens_per_step) / train_time;
                progress(r, &row, last_val, avg, eta, tty, done == a->steps);
                last_print = now;
            }
        }
        if (a->save_every > 0 && (done % a->save_every == 0 || done == a->steps) &&
            (rc = save_checkpoint(r, done, last_ckpt, sizeof last_ckpt)) != CLI_OK)
            goto done;
    }
    dist_allgather_double(d, (double)tril_peak_rss_bytes() / 1e6, all_rss);
    if (root) {
        if (start >= a->steps) { /* nothing left to train: report the model as it is */
            row.val_loss = last_val = eval_loss(r, b.in, b.tg, &st);
            if (st != TRIL_OK) rc = dist_fail(d, train_lib_error("evaluation failed"));
        }
        /* The log is complete: close it now so that a failing close is reported
         * before the run is declared a success. */
        errno = 0;
        const int close_failed = rc == CLI_OK && fclose(log) != 0;
        if (rc == CLI_OK) log = NULL;
        if (close_failed) rc = dist_fail(d, log_error(r, errno, tty));
        if (rc == CLI_OK && tril_model_save(r->out_dir, r->model, a->tokenizer, r->tok_dir) != TRIL_OK)
            rc = dist_fail(d, train_lib_error("cannot save the model"));
        if (rc == CLI_OK) {
            const int64_t steps_run = a->steps > start ? a->steps - start : 0;
            const double tps =
                train_time > 0 ? (double)(steps_run * tokens_per_step) / train_time : 0.0;
            summary(r, &row, last_val, tps, &tm, steps_run, all_rss);
        }
    }
done:
    if (log) fclose(log);
    free(all_rss);
    free_bufs(&b);
    return rc;
}
