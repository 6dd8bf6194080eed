/* Strict option parsing shared by the subcommands: the number parsers, and
 * the one table-driven parser every command uses (cli.h), with the help's
 * option list and the table dump printed from the same tables. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tril/cpu.h"
#include "tril/error.h"

int cli_parse_i64(const char *cmd, const char *opt, const char *text, int64_t min, int64_t max,
                  int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "tril %s: %s expects an integer in [%lld, %lld], got '%s'\n", cmd, opt,
                (long long)min, (long long)max, text);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int cli_parse_f64(const char *cmd, const char *opt, const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || isnan(v)) {
        fprintf(stderr, "tril %s: %s expects a number, got '%s'\n", cmd, opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "tril %s: option %s needs a value (see 'tril %s --help')\n", cmd,
                argv[*i], cmd);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

int cli_unknown(const char *cmd, const char *arg)
{
    if (arg[0] == '-')
        fprintf(stderr, "tril %s: unknown option '%s' (see 'tril %s --help')\n", cmd, arg, cmd);
    else
        fprintf(stderr, "tril %s: unexpected argument '%s' (see 'tril %s --help')\n", cmd, arg,
                cmd);
    return CLI_USAGE;
}

int cli_parse_threads(const char *cmd, const char *text)
{
    int64_t n;
    if (cli_parse_i64(cmd, "--threads", text, 1, 1024, &n)) return -1;
    tril_set_num_threads((int)n);
    return 0;
}

int cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int cli_lib_error(const char *cmd, const char *what)
{
    fprintf(stderr, "tril %s: %s: %s\n", cmd, what, tril_last_error());
    return CLI_FAIL;
}

/* ---- The shared value types ---------------------------------------------- */

static int parse_threads(const char *cmd, const char *opt, const char *text, void *field)
{
    (void)opt;
    if (cli_parse_threads(cmd, text)) return -1;
    *(int *)field = atoi(text); /* in range: checked above */
    return 0;
}

static int parse_max_file(const char *cmd, const char *opt, const char *text, void *field)
{
    (void)opt;
    return cli_parse_max_file(cmd, text, field);
}

static int parse_weight_dtype(const char *cmd, const char *opt, const char *text, void *field)
{
    (void)opt;
    return cli_parse_weight_dtype(cmd, text, field) == CLI_OK ? 0 : -1;
}

static int parse_kv_dtype(const char *cmd, const char *opt, const char *text, void *field)
{
    static const char *const names[] = {"auto", "fp32", "bf16"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *(int *)field = i; /* CLI_KV_AUTO, CLI_KV_FP32, CLI_KV_BF16 */
            return 0;
        }
    fprintf(stderr, "tril %s: %s expects auto, fp32 or bf16, got '%s'\n", cmd, opt, text);
    return -1;
}

tril_dtype cli_kv_dtype(int kv, tril_dtype weights)
{
    if (kv == CLI_KV_AUTO) return weights == TRIL_F32 ? TRIL_F32 : TRIL_BF16;
    return kv == CLI_KV_BF16 ? TRIL_BF16 : TRIL_F32;
}

const cli_custom cli_threads_arg = {"threads", sizeof(int), "1", parse_threads};
const cli_custom cli_max_file_arg = {"max-file-mb", sizeof(size_t), "1", parse_max_file};
const cli_custom cli_weight_dtype_arg = {"weight-dtype", sizeof(tril_dtype), "fp32",
                                         parse_weight_dtype};
const cli_custom cli_kv_dtype_arg = {"kv-dtype", sizeof(int), "bf16", parse_kv_dtype};

/* ---- The parser ----------------------------------------------------------- */

static int usage_error(const cli_spec *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tril %s: ", s->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'tril %s --help')\n", s->name);
    va_end(ap);
    return CLI_USAGE;
}

static int takes_value(const cli_opt *o) { return o->type != CLI_ARG_FLAG; }

/* "-3" or "-.5": a negative number for a positional, not an option. */
static int negative_number(const char *arg)
{
    return arg[0] == '-' && (isdigit((unsigned char)arg[1]) ||
                             (arg[1] == '.' && isdigit((unsigned char)arg[2])));
}

static int double_ok(const cli_opt *o, double v)
{
    if (isnan(v)) return 0;
    if ((o->flags & CLI_MIN_OPEN) ? !(v > o->dmin) : !(v >= o->dmin)) return 0;
    if ((o->flags & CLI_MAX_OPEN) ? !(v < o->dmax) : !(v <= o->dmax)) return 0;
    return 1;
}

/* "in [0, 1]", "a finite number > 0", ... */
static void describe_range(const cli_opt *o, char *buf, size_t size)
{
    const int lo = o->dmin > -DBL_MAX, hi = o->dmax < DBL_MAX;
    const char *ge = (o->flags & CLI_MIN_OPEN) ? ">" : ">=", *le = (o->flags & CLI_MAX_OPEN) ? "<" : "<=";
    if (lo && hi)
        snprintf(buf, size, "in %c%g, %g%c", (o->flags & CLI_MIN_OPEN) ? '(' : '[', o->dmin, o->dmax,
                 (o->flags & CLI_MAX_OPEN) ? ')' : ']');
    else if (lo)
        snprintf(buf, size, "a finite number %s %g", ge, o->dmin);
    else if (hi)
        snprintf(buf, size, "a finite number %s %g", le, o->dmax);
    else
        snprintf(buf, size, "a finite number");
}

static int parse_double(const cli_spec *s, const cli_opt *o, const char *text, double *out)
{
    double v;
    if (cli_parse_f64(s->name, o->name, text, &v)) return -1;
    int ok = double_ok(o, v);
    /* Converting a double beyond float's range to float is undefined. */
    if (ok && (o->flags & CLI_FLOAT)) ok = fabs(v) <= FLT_MAX && double_ok(o, (double)(float)v);
    if (!ok) {
        char range[96];
        describe_range(o, range, sizeof range);
        fprintf(stderr, "tril %s: %s must be %s, got '%s'\n", s->name, o->name, range, text);
        return -1;
    }
    *out = v;
    return 0;
}

static void choices_text(const cli_opt *o, const char *sep, const char *last, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; o->choices[i] && used < size; i++) {
        const char *glue = i == 0 ? "" : o->choices[i + 1] ? sep : last;
        int n = snprintf(buf + used, size - used, "%s%s", glue, o->choices[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* Lists have room for every argument: allocated once, at the first value. */
static int list_room(void **v, int argc, size_t elem)
{
    if (*v) return 0;
    *v = calloc((size_t)argc, elem);
    if (*v) return 0;
    fprintf(stderr, "tril: out of memory\n");
    return -1;
}

/* Reads one value into its field. 0, or -1 after printing why. */
static int store(const cli_spec *s, const cli_opt *o, const char *text, int argc, void *out)
{
    char *field = (char *)out + o->offset;
    switch (o->type) {
    case CLI_ARG_FLAG:
        *(int *)field = 1;
        return 0;
    case CLI_ARG_PATH:
        if (!text[0]) {
            fprintf(stderr, "tril %s: %s expects a path, got ''\n", s->name, o->name);
            return -1;
        }
        /* fall through */
    case CLI_ARG_STRING:
        if (o->flags & CLI_REPEAT) {
            cli_str_list *l = (cli_str_list *)field;
            if (list_room((void **)&l->v, argc, sizeof *l->v)) return -1;
            l->v[l->n++] = text;
        } else {
            *(const char **)field = text;
        }
        return 0;
    case CLI_ARG_INT: {
        int64_t v;
        if (cli_parse_i64(s->name, o->name, text, o->imin, o->imax, &v)) return -1;
        if (o->flags & CLI_REPEAT) {
            cli_i64_list *l = (cli_i64_list *)field;
            if (list_room((void **)&l->v, argc, sizeof *l->v)) return -1;
            l->v[l->n++] = v;
        } else {
            *(int64_t *)field = v;
        }
        return 0;
    }
    case CLI_ARG_DOUBLE:
        return parse_double(s, o, text, (double *)field);
    case CLI_ARG_CHOICE:
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(text, o->choices[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        char names[256];
        choices_text(o, ", ", " or ", names, sizeof names);
        fprintf(stderr, "tril %s: %s expects %s, got '%s'\n", s->name, o->name, names, text);
        return -1;
    case CLI_ARG_CUSTOM:
        return o->custom->parse(s->name, o->name, text, field);
    }
    return -1;
}

void cli_option_value(const cli_opt *o, const void *opts, char *buf, size_t size)
{
    const char *field = (const char *)opts + o->offset;
    if (o->flags & CLI_REPEAT) { /* every value, space separated */
        size_t used = 0;
        buf[0] = '\0';
        if (o->type == CLI_ARG_INT) {
            const cli_i64_list *l = (const cli_i64_list *)field;
            for (size_t i = 0; i < l->n && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? " " : "",
                                         (long long)l->v[i]);
        } else {
            const cli_str_list *l = (const cli_str_list *)field;
            for (size_t i = 0; i < l->n && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "", l->v[i]);
        }
        return;
    }
    switch (o->type) {
    case CLI_ARG_FLAG: snprintf(buf, size, "%d", *(const int *)field); return;
    case CLI_ARG_STRING:
    case CLI_ARG_PATH: snprintf(buf, size, "%s", *(const char *const *)field); return;
    case CLI_ARG_INT: snprintf(buf, size, "%lld", (long long)*(const int64_t *)field); return;
    case CLI_ARG_DOUBLE: snprintf(buf, size, "%.17g", *(const double *)field); return;
    case CLI_ARG_CHOICE: snprintf(buf, size, "%s", o->choices[*(const int *)field]); return;
    case CLI_ARG_CUSTOM: /* the field's bytes: equal values, equal text */
        buf[0] = '\0';
        for (size_t i = 0, used = 0; i < o->size && used + 3 <= size; i++, used += 2)
            snprintf(buf + used, size - used, "%02x", (unsigned char)field[i]);
        return;
    }
}

/* The positional that takes the next bare argument, or NULL. */
static const cli_opt *next_positional(const cli_spec *s, const int *count)
{
    for (size_t k = 0; k < s->n_opts; k++) {
        const cli_opt *o = &s->opts[k];
        if ((o->flags & CLI_POSITIONAL) && (count[k] == 0 || (o->flags & CLI_REPEAT))) return o;
    }
    return NULL;
}

static int parse_args(const cli_spec *s, int argc, char **argv, void *out, int *count)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const cli_opt *o = NULL;
        const cli_opt *pos = next_positional(s, count);
        const int bare = arg[0] != '-' ||
                         (negative_number(arg) && pos &&
                          (pos->type == CLI_ARG_INT || pos->type == CLI_ARG_DOUBLE));
        if (bare) {
            o = pos;
        } else {
            for (size_t k = 0; k < s->n_opts && !o; k++)
                if (!(s->opts[k].flags & CLI_POSITIONAL) && strcmp(arg, s->opts[k].name) == 0)
                    o = &s->opts[k];
        }
        if (!o) return cli_unknown(s->name, arg);
        const size_t k = (size_t)(o - s->opts);
        if (count[k] > 0 && !(o->flags & CLI_REPEAT))
            return usage_error(s, "%s given more than once", o->name);
        count[k]++;
        const char *value = arg;
        if (!bare && takes_value(o) && !(value = cli_value(s->name, argc, argv, &i)))
            return CLI_USAGE;
        if (store(s, o, value, argc, out)) return CLI_USAGE;
    }
    for (size_t k = 0; k < s->n_opts; k++)
        if ((s->opts[k].flags & CLI_REQUIRED) && count[k] == 0)
            return usage_error(s, "%s is required", s->opts[k].name);
    return CLI_OK;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, void *out, int *given)
{
    int count[CLI_MAX_OPTS] = {0};
    if (spec->n_opts > CLI_MAX_OPTS) {
        fprintf(stderr, "tril %s: too many options in its table\n", spec->name);
        return CLI_FAIL;
    }
    const int rc = parse_args(spec, argc, argv, out, count);
    if (rc != CLI_OK) {
        cli_args_free(spec, out);
        return rc;
    }
    if (given) memcpy(given, count, spec->n_opts * sizeof *given);
    return CLI_OK;
}

void cli_args_free(const cli_spec *spec, void *out)
{
    for (size_t k = 0; k < spec->n_opts; k++) {
        const cli_opt *o = &spec->opts[k];
        if (!(o->flags & CLI_REPEAT)) continue;
        char *field = (char *)out + o->offset;
        if (o->type == CLI_ARG_INT) {
            cli_i64_list *l = (cli_i64_list *)field;
            free(l->v);
            *l = (cli_i64_list){NULL, 0};
        } else {
            cli_str_list *l = (cli_str_list *)field;
            free(l->v);
            *l = (cli_str_list){NULL, 0};
        }
    }
}

/* ---- Help, from the table ---------------------------------------------------- */

/* Options whose name and value are longer than this get their help on the
 * lines below, so that one long name does not push every column right. */
#define HELP_NAME_WIDTH 18

static void help_name(const cli_opt *o, char *buf, size_t size)
{
    char choices[128] = "";
    if (o->type == CLI_ARG_CHOICE && !o->metavar) choices_text(o, "|", "|", choices, sizeof choices);
    const char *value = o->metavar ? o->metavar : choices;
    snprintf(buf, size, "%s%s%s%s", o->name, value[0] ? " " : "", value,
             (o->flags & (CLI_POSITIONAL | CLI_REPEAT)) == (CLI_POSITIONAL | CLI_REPEAT) ? "..." : "");
}

void cli_print_options(const cli_spec *spec)
{
    char name[160];
    int width = 0;
    for (size_t k = 0; k < spec->n_opts; k++) {
        help_name(&spec->opts[k], name, sizeof name);
        const int len = (int)strlen(name);
        if (len <= HELP_NAME_WIDTH && len > width) width = len;
    }
    for (size_t k = 0; k < spec->n_opts; k++) {
        const cli_opt *o = &spec->opts[k];
        if (o->section) printf("%s%s\n", k ? "\n" : "", o->section);
        help_name(o, name, sizeof name);
        const char *line = o->help ? o->help : "";
        if ((int)strlen(name) > width)
            printf("  %s\n%*s", name, width + 4, "");
        else
            printf("  %-*s  ", width, name);
        for (;;) {
            const char *end = strchr(line, '\n');
            const int len = end ? (int)(end - line) : (int)strlen(line);
            printf("%.*s\n", len, line);
            if (!end) break;
            line = end + 1;
            printf("%*s", width + 4, "");
        }
    }
}

void cli_print_help(const cli_spec *spec)
{
    fputs(spec->usage, stdout);
    if (spec->n_opts) {
        putchar('\n');
        cli_print_options(spec);
    }
    if (spec->footer) {
        putchar('\n');
        fputs(spec->footer, stdout);
    }
}

/* ---- The table dump and its checks -------------------------------------------- */

static const char *type_name(const cli_opt *o)
{
    switch (o->type) {
    case CLI_ARG_FLAG: return "flag";
    case CLI_ARG_STRING: return "string";
    case CLI_ARG_PATH: return "path";
    case CLI_ARG_INT: return "int";
    case CLI_ARG_DOUBLE: return "double";
    case CLI_ARG_CHOICE: return "choice";
    case CLI_ARG_CUSTOM: return o->custom ? o->custom->kind : "custom";
    }
    return "?";
}

/* The size the field of an option must have. */
static size_t field_size(const cli_opt *o)
{
    const int list = (o->flags & CLI_REPEAT) != 0;
    switch (o->type) {
    case CLI_ARG_FLAG: return sizeof(int);
    case CLI_ARG_STRING:
    case CLI_ARG_PATH: return list ? sizeof(cli_str_list) : sizeof(const char *);
    case CLI_ARG_INT: return list ? sizeof(cli_i64_list) : sizeof(int64_t);
    case CLI_ARG_DOUBLE: return sizeof(double);
    case CLI_ARG_CHOICE: return sizeof(int);
    case CLI_ARG_CUSTOM: return o->custom ? o->custom->size : 0;
    }
    return 0;
}

static int check_opt(const cli_spec *s, size_t k)
{
    const cli_opt *o = &s->opts[k];
    const unsigned f = o->flags;
    const char *bad = NULL;
    const int positional = (f & CLI_POSITIONAL) != 0;
    if (!o->name || !o->name[0]) bad = "no name";
    else if (positional == (strncmp(o->name, "--", 2) == 0)) bad = "options are --names, positionals are not";
    else if (!o->help || !o->help[0]) bad = "no help text";
    else if (o->size != field_size(o)) bad = "its field's size does not match its type";
    else if ((f & CLI_REPEAT) && o->type != CLI_ARG_INT && o->type != CLI_ARG_STRING && o->type != CLI_ARG_PATH)
        bad = "only INT, STRING and PATH values can be collected";
    else if ((f & (CLI_MIN_OPEN | CLI_MAX_OPEN | CLI_FLOAT)) && o->type != CLI_ARG_DOUBLE)
        bad = "range flags on a value that is not a DOUBLE";
    else if (o->type == CLI_ARG_INT && !(o->imin < o->imax)) bad = "empty or missing integer range";
    else if (o->type == CLI_ARG_DOUBLE && !(o->dmin < o->dmax)) bad = "empty or missing range";
    else if (o->type == CLI_ARG_CHOICE && (!o->choices || !o->choices[0] || !o->choices[1]))
        bad = "a choice needs two values or more";
    else if (o->type == CLI_ARG_CUSTOM && (!o->custom || !o->custom->parse || !o->custom->sample))
        bad = "a custom value needs its parser and a sample";
    else if (o->type == CLI_ARG_FLAG && (f & (CLI_REQUIRED | CLI_POSITIONAL))) bad = "a flag cannot be required";
    else if (o->type == CLI_ARG_FLAG && o->metavar) bad = "a flag takes no value";
    else if (!positional && takes_value(o) && o->type != CLI_ARG_CHOICE && !o->metavar)
        bad = "no metavar for its value in help";
    for (size_t j = 0; j < k && !bad; j++)
        if (s->opts[j].name && o->name && strcmp(s->opts[j].name, o->name) == 0) bad = "a second entry of this name";
    if (!bad) return 0;
    fprintf(stderr, "tril: the option table of '%s': %s: %s\n", s->name, o->name ? o->name : "?", bad);
    return 1;
}

/* A value the option accepts, for the tests. */
static void sample(const cli_opt *o, char *buf, size_t size)
{
    switch (o->type) {
    case CLI_ARG_FLAG: snprintf(buf, size, "-"); return;
    case CLI_ARG_STRING:
    case CLI_ARG_PATH: snprintf(buf, size, "x"); return;
    case CLI_ARG_INT: snprintf(buf, size, "%lld", (long long)o->imin); return;
    case CLI_ARG_DOUBLE: {
        const double v = !(o->flags & CLI_MIN_OPEN) ? o->dmin
                         : !(o->flags & CLI_MAX_OPEN) ? o->dmax
                                                      : o->dmin / 2 + o->dmax / 2;
        snprintf(buf, size, "%.17g", v);
        return;
    }
    case CLI_ARG_CHOICE: snprintf(buf, size, "%s", o->choices ? o->choices[0] : "?"); return;
    case CLI_ARG_CUSTOM: snprintf(buf, size, "%s", o->custom ? o->custom->sample : "?"); return;
    }
}

int cli_dump_spec(const char *command, const cli_spec *spec)
{
    int problems = 0;
    if (spec->n_opts > CLI_MAX_OPTS) {
        fprintf(stderr, "tril: the option table of '%s' has more than %d entries\n", spec->name,
                CLI_MAX_OPTS);
        problems++;
    }
    for (size_t k = 0; k < spec->n_opts; k++) {
        const cli_opt *o = &spec->opts[k];
        if (check_opt(spec, k)) {
            problems++;
            continue;
        }
        char flags[96] = "", lo[256] = "-", hi[64] = "-", value[256];
        static const struct { unsigned bit; const char *name; } names[] = {
            {CLI_REQUIRED, "required"}, {CLI_REPEAT, "repeat"}, {CLI_POSITIONAL, "positional"},
            {CLI_MIN_OPEN, "min-open"}, {CLI_MAX_OPEN, "max-open"}, {CLI_FLOAT, "float"},
        };
        for (size_t b = 0; b < sizeof names / sizeof names[0]; b++)
            if (o->flags & names[b].bit)
                snprintf(flags + strlen(flags), sizeof flags - strlen(flags), "%s%s",
                         flags[0] ? "," : "", names[b].name);
        if (o->type == CLI_ARG_INT) {
            snprintf(lo, sizeof lo, "%lld", (long long)o->imin);
            snprintf(hi, sizeof hi, "%lld", (long long)o->imax);
        } else if (o->type == CLI_ARG_DOUBLE) {
            snprintf(lo, sizeof lo, "%.17g", o->dmin);
            snprintf(hi, sizeof hi, "%.17g", o->dmax);
        } else if (o->type == CLI_ARG_CHOICE) {
            choices_text(o, "|", "|", lo, sizeof lo);
        }
        sample(o, value, sizeof value);
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", command, spec->name, o->name, type_name(o),
               flags[0] ? flags : "-", lo, hi, value);
    }
    return problems;
}
