/* The table-driven command line: what a user types is parsed or rejected with a one-line error
 * naming the option, and --help lists every option of the table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static int run_nothing(const Args *a)
{
    (void)a;
    return 0;
}

static const OptSpec opts[] = {
    { "run-dir", OPT_STR, "runs/default", "DIR", "run directory" },
    { "steps", OPT_INT, "100", NULL, "number of updates" },
    { "lr", OPT_FLOAT, "0.001", NULL, "peak learning rate" },
    { "resume", OPT_FLAG, NULL, NULL, "continue from the last checkpoint" },
    { 0 },
};
static const Command cmd = { .name = "demo", .summary = "demo command", .opts = opts,
                             .run = run_nothing };

static int parse(Args *a, MosErr *e, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return cli_parse(&cmd, argc, argv, a, e);
}

static void defaults_and_values(void **state)
{
    (void)state;
    Args a;
    MosErr e = {{0}};
    assert_int_equal(parse(&a, &e, 0), 0);
    assert_string_equal(args_str(&a, "run-dir"), "runs/default");
    assert_int_equal(args_int(&a, "steps"), 100);
    assert_false(args_flag(&a, "resume"));
    assert_false(args_given(&a, "steps"));
    assert_int_equal(parse(&a, &e, 4, "--steps", "7", "--lr=0.5", "--resume"), 0);
    assert_int_equal(args_int(&a, "steps"), 7);
    assert_true(args_given(&a, "steps"));
    assert_true(args_float(&a, "lr") == 0.5);
    assert_true(args_flag(&a, "resume"));
}

static void errors_name_the_option(void **state)
{
    (void)state;
    Args a;
    MosErr e = {{0}};
    assert_int_equal(parse(&a, &e, 2, "--steps", "ten"), -1);
    assert_non_null(strstr(e.msg, "--steps"));
    assert_non_null(strstr(e.msg, "ten"));
    assert_int_equal(parse(&a, &e, 1, "--stpes"), -1);
    assert_non_null(strstr(e.msg, "--stpes"));
    assert_int_equal(parse(&a, &e, 1, "--run-dir"), -1);
    assert_non_null(strstr(e.msg, "needs a value"));
    assert_int_equal(parse(&a, &e, 1, "extra"), -1);
    assert_int_equal(parse(&a, &e, 1, "--resume=1"), -1);
    assert_int_equal(parse(&a, &e, 1, "-x"), -1);
}

static void help_lists_every_option(void **state)
{
    (void)state;
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    cli_help(&cmd, f);
    fclose(f);
    for (int i = 0; opts[i].name; i++)
        assert_non_null(strstr(buf, opts[i].name));
    assert_non_null(strstr(buf, "(default: 100)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_and_values),
        cmocka_unit_test(errors_name_the_option),
        cmocka_unit_test(help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
