/* The training loop: per step, K micro-batches forward + backward into one
 * gradient, clipping, the scheduled learning rate, AdamW. Evaluation draws
 * its batches from its own generator, re-seeded for every evaluation (the
 * same validation windows each time, and the training data order never
 * depends on when or whether evaluation runs), so a run resumed from a
 * checkpoint replays the uninterrupted run bit for bit. */
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
    fprintf(stderr, "%stril train: cannot write the log '%s': %s\n", newline ? "\n" : "",
            r->log_path, err ? strerror(err) : "write error");
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

static int save_checkpoint(train_run *r, int64_t done, char *last_ckpt, size_t size)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/checkpoint-%lld", r->out_dir, (long long)done);
    if (tril_checkpoint_save(dir, r->model, &r->opt, &r->opt_cfg, &r->state, r->tok_dir) != TRIL_OK)
        return cli_lib_error(CMD, "cannot save a checkpoint");
    snprintf(last_ckpt, size, "%s", dir);
    return CLI_OK;
}

static int stop_nonfinite(const char *what, double value, int64_t step, const char *last_ckpt)
{
    fprintf(stderr, "\ntril train: step %lld: the %s is %g (not finite); stopping without saving. "
                    "%s%s\n",
            (long long)step, what, value,
            last_ckpt[0] ? "The last good checkpoint is " : "No checkpoint was written.",
            last_ckpt);
    return CLI_FAIL;
}

int train_loop(train_run *r)
{
    tril_train_args *a = &r->state.args;
    const int64_t BT = a->batch * a->seq, tokens_per_step = BT * a->accum;
    int32_t *in = malloc((size_t)BT * sizeof *in), *tg = malloc((size_t)BT * sizeof *tg);
    FILE *log = open_log(r);
    const int open_errno = errno;
    int rc = CLI_OK;
    char last_ckpt[PATH_MAX] = "";
    /* the weights the optimizer updates in place, and their table */
    float *params = NULL;
    int64_t n_params = 0;
    size_t n_table = 0;
    const tril_param_info *table = tril_gpt2_get_params(r->model, &n_table);
    if (tril_gpt2_get_arena(r->model, &params, &n_params) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot train this model");
        goto done;
    }
    if (!in || !tg) {
        fprintf(stderr, "tril train: out of memory\n");
        rc = CLI_FAIL;
        goto done;
    }
    if (!log) {
        rc = log_error(r, open_errno, 0);
        goto done;
    }
    const int tty = isatty(fileno(stderr));
    const int64_t start = r->state.step;
    double train_time = 0.0, last_val = NAN, last_print = 0.0;
    tril_train_log_row row = {start, NAN, NAN, 0.0, 0.0};
    if (r->state.log.count) row = r->state.log.rows[r->state.log.count - 1];
    tril_status st = TRIL_OK;
    for (int64_t step = start; step < a->steps; step++) {
        const double t0 = tril_now();
        memset(r->grads, 0, (size_t)n_params * sizeof *r->grads);
        double loss_sum = 0.0;
        for (int64_t k = 0; k < a->accum && st == TRIL_OK; k++) {
            float loss = 0.0f;
            tril_dataset_batch(&r->data, 0, a->batch, a->seq, &r->state.rng, in, tg);
            st = tril_trainer_forward(r->trainer, in, tg, a->batch, a->seq, &loss);
            if (st == TRIL_OK) st = tril_trainer_backward(r->trainer, r->grads, 1.0f / (float)a->accum);
            loss_sum += loss;
        }
        if (st != TRIL_OK) {
            rc = cli_lib_error(CMD, "training step failed");
            goto done;
        }
        const double train_loss = loss_sum / (double)a->accum;
        if (!isfinite(train_loss)) {
            rc = stop_nonfinite("training loss", train_loss, step + 1, last_ckpt);
            goto done;
        }
        const float lr = tril_lr_at(step, a->warmup, a->steps, (float)a->lr, (float)a->min_lr);
        const double norm = tril_adamw_step_clipped(&r->opt, &r->opt_cfg, params, r->grads, table,
                                                    n_table, lr, (float)a->clip);
        if (!isfinite(norm)) {
            rc = stop_nonfinite("gradient norm", norm, step + 1, last_ckpt);
            goto done;
        }
        const double dt = tril_now() - t0;
        train_time += dt;
        const int64_t done = step + 1;
        r->state.step = done;
        row = (tril_train_log_row){done, train_loss, NAN, lr, (double)tokens_per_step / dt};
        const int eval_now = (a->eval_every > 0 && done % a->eval_every == 0) || done == a->steps;
        if (eval_now) {
            row.val_loss = last_val = eval_loss(r, in, tg, &st);
            if (st != TRIL_OK) {
                rc = cli_lib_error(CMD, "evaluation failed");
                goto done;
            }
        }
        if (csv_row(log, &row) != 0) { /* a full disk: stop rather than train unlogged */
            rc = log_error(r, errno, tty);
            goto done;
        }
        if (tril_train_log_append(&r->state.log, &row) != TRIL_OK) {
            rc = cli_lib_error(CMD, "out of memory");
            goto done;
        }
        const double eta = train_time / (double)(done - start) * (double)(a->steps - done);
        const double now = tril_now();
        if (eval_now || (tty && now - last_print > 0.1)) {
            const double avg = (double)((done - start) * tokens_per_step) / train_time;
            progress(r, &row, last_val, avg, eta, tty, done == a->steps);
            last_print = now;
        }
        if (a->save_every > 0 && (done % a->save_every == 0 || done == a->steps) &&
            (rc = save_checkpoint(r, done, last_ckpt, sizeof last_ckpt)) != CLI_OK)
            goto done;
    }
    if (start >= a->steps) { /* nothing left to train: report the model as it is */
        row.val_loss = last_val = eval_loss(r, in, tg, &st);
        if (st != TRIL_OK) {
            rc = cli_lib_error(CMD, "evaluation failed");
            goto done;
        }
    }
    /* The log is complete: close it now so that a failing close is reported
     * before the run is declared a success. */
    errno = 0;
    const int close_failed = fclose(log) != 0;
    log = NULL;
    if (close_failed) {
        rc = log_error(r, errno, tty);
        goto done;
    }
    if (tril_model_save(r->out_dir, r->model, a->tokenizer, r->tok_dir) != TRIL_OK) {
        rc = cli_lib_error(CMD, "cannot save the model");
        goto done;
    }
    const int64_t steps_run = a->steps > start ? a->steps - start : 0;
    const double tps = train_time > 0 ? (double)(steps_run * tokens_per_step) / train_time : 0.0;
    printf("saved %s (model), log %s\n", r->out_dir, r->log_path);
    printf("peak_rss_mb=%.1f\n", (double)tril_peak_rss_bytes() / 1e6);
    printf("final step=%lld train_loss=%.4f val_loss=%.4f tokens_per_s=%.0f\n",
           (long long)r->state.step, row.train_loss, last_val, tps);
done:
    if (log) fclose(log);
    free(in);
    free(tg);
    return rc;
}
