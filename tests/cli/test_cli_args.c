/* The CLI's option parser (src/cli/args.c) on a table of its own: every
 * value type lands in its field, every refusal is CLI_USAGE with a message
 * naming the option, repeats are collected or refused, the help is printed
 * from the table, and the table checker finds broken tables.
 * (tests/cli/test_args.sh runs the real commands' tables end to end.) */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

typedef struct {
    int flag, choice, threads;
    const char *str, *path;
    int64_t num, n;
    double open01, f32, finite;
    size_t max_file;
    tril_dtype dtype;
    cli_i64_list ids;
    cli_str_list tags, words;
} opts;

static const char *const abc[] = {"a", "b", "c", NULL};

#define F(field) CLI_FIELD(opts, field)
static const cli_opt table[] = {
    {"N", NULL, CLI_ARG_INT, CLI_POSITIONAL, F(n), .imin = 1, .imax = 10, .help = "a number"},
    {"WORD", NULL, CLI_ARG_STRING, CLI_POSITIONAL | CLI_REPEAT, F(words), .help = "words"},
    {"--flag", NULL, CLI_ARG_FLAG, 0, F(flag), .help = "a flag"},
    {"--str", "S", CLI_ARG_STRING, 0, F(str), .help = "a string"},
    {"--path", "P", CLI_ARG_PATH, 0, F(path), .section = "files:", .help = "a path\nover two lines"},
    {"--num", "N", CLI_ARG_INT, 0, F(num), .imin = -10, .imax = 10, .help = "an integer"},
    {"--open01", "X", CLI_ARG_DOUBLE, CLI_MIN_OPEN | CLI_MAX_OPEN, F(open01), .dmin = 0, .dmax = 1,
     .help = "in (0, 1)"},
    {"--f32", "X", CLI_ARG_DOUBLE, CLI_MIN_OPEN | CLI_FLOAT, F(f32), .dmin = 0, .dmax = 1,
     .help = "in (0, 1] as a float"},
    {"--finite", "X", CLI_ARG_DOUBLE, 0, F(finite), .dmin = -DBL_MAX, .dmax = DBL_MAX,
     .help = "any finite number"},
    {"--choice", NULL, CLI_ARG_CHOICE, 0, F(choice), .choices = abc, .help = "a, b or c"},
    {"--threads", "N", CLI_ARG_CUSTOM, 0, F(threads), .custom = &cli_threads_arg, .help = "threads"},
    {"--max-file-mb", "N", CLI_ARG_CUSTOM, 0, F(max_file), .custom = &cli_max_file_arg, .help = "MB"},
    {"--dtype", "D", CLI_ARG_CUSTOM, 0, F(dtype), .custom = &cli_weight_dtype_arg, .help = "dtype"},
    {"--id", "I", CLI_ARG_INT, CLI_REPEAT, F(ids), .imin = INT64_MIN, .imax = INT64_MAX,
     .help = "ids, any number of them"},
    {"--tag", "T", CLI_ARG_STRING, CLI_REPEAT, F(tags), .help = "tags"},
};
#undef F
static const cli_spec spec = {"t", "usage: tril t [options]\n", "the end\n", CLI_OPTS(table)};

typedef struct {
    const char *a, *b;
} req_opts;
static const cli_opt req_table[] = {
    {"--a", "A", CLI_ARG_STRING, CLI_REQUIRED, CLI_FIELD(req_opts, a), .help = "needed"},
    {"--b", "B", CLI_ARG_STRING, CLI_REQUIRED, CLI_FIELD(req_opts, b), .help = "needed too"},
};
static const cli_spec req_spec = {"req", "usage: tril req --a A --b B\n", NULL, CLI_OPTS(req_table)};

/* ---- running the parser with stderr (or stdout) captured ---------------------------- */

static char captured[8192];

static int begin_capture(int fd, FILE **tmp)
{
    fflush(fd == 1 ? stdout : stderr);
    *tmp = tmpfile();
    assert_non_null(*tmp);
    const int saved = dup(fd);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(*tmp), fd) >= 0);
    return saved;
}

static void end_capture(int fd, FILE *tmp, int saved)
{
    fflush(fd == 1 ? stdout : stderr);
    assert_true(dup2(saved, fd) >= 0);
    close(saved);
    rewind(tmp);
    const size_t n = fread(captured, 1, sizeof captured - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
}

/* Parses the NULL-terminated arguments after the command name; the
 * parser's messages land in `captured`. */
static int parse(const cli_spec *s, void *out, int *given, ...)
{
    char *argv[64] = {(char *)"t"};
    int argc = 1;
    va_list ap;
    va_start(ap, given);
    for (char *a; (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    FILE *tmp;
    const int saved = begin_capture(2, &tmp);
    const int rc = cli_parse(s, argc, argv, out, given);
    end_capture(2, tmp, saved);
    return rc;
}

static opts defaults(void)
{
    return (opts){.num = 3, .n = -1, .open01 = 0.5, .f32 = 1, .choice = 2,
                  .max_file = 7, .dtype = TRIL_F32};
}

#define REFUSED(message, ...)                                                                  \
    do {                                                                                       \
        opts o_ = defaults();                                                                  \
        assert_int_equal(parse(&spec, &o_, NULL, __VA_ARGS__, NULL), CLI_USAGE);               \
        if (!strstr(captured, message)) fail_msg("'%s' not in '%s'", message, captured);       \
        assert_null(o_.ids.v); /* lists freed on failure */                                    \
        assert_null(o_.tags.v);                                                                \
        assert_null(o_.words.v);                                                               \
    } while (0)

/* ---- values ----------------------------------------------------------------------------- */

static void test_defaults_kept(void **state)
{
    (void)state;
    opts o = defaults();
    int given[CLI_MAX_OPTS];
    memset(given, 0xff, sizeof given);
    assert_int_equal(parse(&spec, &o, given, NULL), CLI_OK);
    assert_int_equal(o.num, 3);
    assert_int_equal(o.n, -1);
    assert_int_equal(o.choice, 2);
    assert_int_equal(o.max_file, 7);
    assert_null(o.str);
    assert_int_equal(o.ids.n, 0);
    for (size_t k = 0; k < spec.n_opts; k++) assert_int_equal(given[k], 0);
    assert_string_equal(captured, "");
}

static void test_every_type_lands(void **state)
{
    (void)state;
    opts o = defaults();
    int given[CLI_MAX_OPTS];
    assert_int_equal(parse(&spec, &o, given, "--flag", "--str", "", "--path", "p/q", "--num", "-10",
                           "--open01", "0.25", "--f32", "1e-40", "--finite", "-1e308", "--choice",
                           "b", "--threads", "1", "--max-file-mb", "3", "--dtype", "bf16", "4",
                           "--id", "-9223372036854775808", "w1", "--tag", "x", "--id", "5", "w2",
                           "--tag", "", NULL),
                     CLI_OK);
    assert_int_equal(o.flag, 1);
    assert_string_equal(o.str, "");
    assert_string_equal(o.path, "p/q");
    assert_int_equal(o.num, -10);
    assert_true(o.open01 == 0.25);
    assert_true(o.f32 == 1e-40); /* a float denormal, still > 0 */
    assert_true(o.finite == -1e308);
    assert_int_equal(o.choice, 1);
    assert_int_equal(o.threads, 1);
    assert_int_equal(o.max_file, (size_t)3 << 20);
    assert_int_equal(o.dtype, TRIL_BF16);
    assert_int_equal(o.n, 4);
    assert_int_equal(o.ids.n, 2); /* collected in order */
    assert_true(o.ids.v[0] == INT64_MIN);
    assert_int_equal(o.ids.v[1], 5);
    assert_int_equal(o.tags.n, 2);
    assert_string_equal(o.tags.v[0], "x");
    assert_string_equal(o.tags.v[1], "");
    assert_int_equal(o.words.n, 2); /* N takes the first bare argument, WORD the rest */
    assert_string_equal(o.words.v[0], "w1");
    assert_string_equal(o.words.v[1], "w2");
    assert_int_equal(given[0], 1);  /* N */
    assert_int_equal(given[1], 2);  /* WORD */
    assert_int_equal(given[13], 2); /* --id */
    assert_int_equal(given[14], 2); /* --tag */
    cli_args_free(&spec, &o);
    assert_null(o.ids.v);
    assert_int_equal(o.tags.n, 0);
}

static void test_negative_number_is_a_value(void **state)
{
    (void)state;
    REFUSED("tril t: N expects an integer in [1, 10], got '-3'", "-3");
    REFUSED("tril t: unknown option '-x' (see 'tril t --help')", "-x");
    opts o = defaults();
    assert_int_equal(parse(&spec, &o, NULL, "--num", "-3", "2", NULL), CLI_OK);
    assert_int_equal(o.num, -3);
    assert_int_equal(o.n, 2);
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void test_unknown(void **state)
{
    (void)state;
    REFUSED("tril t: unknown option '--nope' (see 'tril t --help')", "--tag", "a", "--nope");
    REFUSED("unknown option '--num=3'", "--num=3");
    REFUSED("unknown option '-'", "-");
    opts o = {0};
    assert_int_equal(parse(&req_spec, &o, NULL, "stray", NULL), CLI_USAGE);
    assert_non_null(strstr(captured, "tril req: unexpected argument 'stray'"));
}

static void test_missing_value(void **state)
{
    (void)state;
    REFUSED("tril t: option --num needs a value (see 'tril t --help')", "--num");
    REFUSED("option --tag needs a value", "--tag", "a", "--tag");
}

static void test_out_of_range(void **state)
{
    (void)state;
    REFUSED("tril t: --num expects an integer in [-10, 10], got '11'", "--num", "11");
    REFUSED("--num expects an integer in [-10, 10], got '-11'", "--num", "-11");
    REFUSED("--num expects an integer in [-10, 10], got '1.0'", "--num", "1.0");
    REFUSED("--num expects an integer in [-10, 10], got ''", "--num", "");
    REFUSED("--id expects an integer", "--id", "9223372036854775808");
    REFUSED("tril t: --open01 must be in (0, 1), got '0'", "--open01", "0");
    REFUSED("--open01 must be in (0, 1), got '1'", "--open01", "1");
    REFUSED("--open01 expects a number, got 'nan'", "--open01", "nan");
    REFUSED("--open01 expects a number, got '0.5x'", "--open01", "0.5x");
    REFUSED("--finite must be a finite number, got 'inf'", "--finite", "inf");
    REFUSED("--finite expects a number, got '-1e999'", "--finite", "-1e999"); /* overflows strtod */
    /* a float: 1e-50 rounds to 0, outside (0, 1]; 1e39 is beyond float */
    REFUSED("--f32 must be in (0, 1], got '1e-50'", "--f32", "1e-50");
    REFUSED("--f32 must be in (0, 1], got '1.0000001'", "--f32", "1.0000001");
    REFUSED("tril t: --choice expects a, b or c, got 'd'", "--choice", "d");
    REFUSED("--choice expects a, b or c, got ''", "--choice", "");
    REFUSED("tril t: --path expects a path, got ''", "--path", "");
    REFUSED("--threads expects an integer in [1, 1024], got '0'", "--threads", "0");
    REFUSED("--max-file-mb expects an integer", "--max-file-mb", "0");
    REFUSED("--dtype expects fp32, bf16 or int8, got 'fp16'", "--dtype", "fp16");
}

static void test_repeats(void **state)
{
    (void)state;
    REFUSED("tril t: --num given more than once (see 'tril t --help')", "--num", "1", "--num", "1");
    REFUSED("--flag given more than once", "--flag", "--tag", "a", "--flag");
    REFUSED("--str given more than once", "--str", "a", "--str", "a");
    opts o = {0};
    assert_int_equal(parse(&req_spec, &o, NULL, "--a", "x", "--b", "y", "--a", "z", NULL), CLI_USAGE);
    assert_non_null(strstr(captured, "tril req: --a given more than once"));
}

static void test_required(void **state)
{
    (void)state;
    req_opts o = {0};
    assert_int_equal(parse(&req_spec, &o, NULL, "--a", "x", NULL), CLI_USAGE);
    assert_non_null(strstr(captured, "tril req: --b is required (see 'tril req --help')"));
    assert_int_equal(parse(&req_spec, &o, NULL, NULL), CLI_USAGE);
    assert_non_null(strstr(captured, "--a is required"));
    /* a bad value is reported before a missing option */
    assert_int_equal(parse(&req_spec, &o, NULL, "--c", NULL), CLI_USAGE);
    assert_non_null(strstr(captured, "unknown option '--c'"));
    assert_int_equal(parse(&req_spec, &o, NULL, "--b", "y", "--a", "", NULL), CLI_OK);
    assert_string_equal(o.a, "");
    assert_string_equal(o.b, "y");
}

/* ---- help and the table checks --------------------------------------------------------------- */

static void test_help_from_table(void **state)
{
    (void)state;
    FILE *tmp;
    const int saved = begin_capture(1, &tmp);
    cli_print_help(&spec);
    end_capture(1, tmp, saved);
    const char *want[] = {
        "usage: tril t [options]\n\n  N                a number\n",
        "  WORD...          words\n",
        "  --flag           a flag\n",
        "\nfiles:\n  --path P         a path\n                   over two lines\n",
        "  --choice a|b|c   a, b or c\n",
        "  --max-file-mb N  MB\n",
        "\nthe end\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(captured, want[i])) fail_msg("'%s' not in the help:\n%s", want[i], captured);
}

static int dump(const cli_spec *s)
{
    FILE *out, *err;
    const int saved_out = begin_capture(1, &out);
    const int saved_err = begin_capture(2, &err);
    const int problems = cli_dump_spec("t", s);
    end_capture(2, err, saved_err);
    char errors[sizeof captured];
    memcpy(errors, captured, sizeof errors);
    end_capture(1, out, saved_out);
    memcpy(captured, errors, sizeof errors); /* the complaints */
    return problems;
}

static void test_table_checks(void **state)
{
    (void)state;
    assert_int_equal(dump(&spec), 0);
    assert_int_equal(dump(&req_spec), 0);
    typedef struct {
        int i;
        int64_t n;
        double d;
        const char *s;
    } small;
    const cli_opt broken[][1] = {
        {{"--n", "N", CLI_ARG_INT, 0, CLI_FIELD(small, i), .imin = 0, .imax = 9, .help = "h"}},
        {{"--n", "N", CLI_ARG_INT, 0, CLI_FIELD(small, n), .help = "no range"}},
        {{"--d", "X", CLI_ARG_DOUBLE, 0, CLI_FIELD(small, d), .dmin = 1, .dmax = 1, .help = "h"}},
        {{"--f", NULL, CLI_ARG_FLAG, CLI_REQUIRED, CLI_FIELD(small, i), .help = "h"}},
        {{"--s", "S", CLI_ARG_STRING, 0, CLI_FIELD(small, s), .help = ""}},
        {{"--s", NULL, CLI_ARG_STRING, 0, CLI_FIELD(small, s), .help = "no metavar"}},
        {{"s", "S", CLI_ARG_STRING, 0, CLI_FIELD(small, s), .help = "not a --name"}},
        {{"--s", "S", CLI_ARG_STRING, CLI_FLOAT, CLI_FIELD(small, s), .help = "float flag"}},
        {{"--s", "S", CLI_ARG_STRING, CLI_REPEAT, CLI_FIELD(small, s), .help = "not a list"}},
        {{"--c", NULL, CLI_ARG_CHOICE, 0, CLI_FIELD(small, i), .choices = abc + 2, .help = "h"}},
        {{"--c", "C", CLI_ARG_CUSTOM, 0, CLI_FIELD(small, i), .help = "no parser"}},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        const cli_spec s = {"broken", "usage\n", NULL, broken[i], 1};
        if (dump(&s) != 1) fail_msg("broken table %zu passed the checks", i);
        assert_non_null(strstr(captured, "tril: the option table of 'broken'"));
    }
    const cli_opt twice[] = {
        {"--s", "S", CLI_ARG_STRING, 0, CLI_FIELD(small, s), .help = "h"},
        {"--s", "S", CLI_ARG_STRING, 0, CLI_FIELD(small, s), .help = "h"},
    };
    const cli_spec s = {"twice", "usage\n", NULL, CLI_OPTS(twice)};
    assert_int_equal(dump(&s), 1);
    assert_non_null(strstr(captured, "a second entry of this name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_kept),
        cmocka_unit_test(test_every_type_lands),
        cmocka_unit_test(test_negative_number_is_a_value),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_missing_value),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_help_from_table),
        cmocka_unit_test(test_table_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
