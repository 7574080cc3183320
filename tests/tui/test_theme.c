/* Themes: every shipped theme file parses with no warnings and sets every role; dark.theme is
 * the compiled-in default; errors name file:line; unknown keys warn; missing keys fall back;
 * colour degradation picks sensible palette entries. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "theme.h"

static const char *theme_dir(char *buf, size_t len)
{
    const char *src = getenv("MOS_SOURCE_ROOT");
    snprintf(buf, len, "%s/themes", src ? src : ".");
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_every_theme_file_parses(void **state)
{
    (void)state;
    char dir[1024], path[2048], err[512], warn[1024];
    DIR *d = opendir(theme_dir(dir, sizeof dir));
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 7 || strcmp(e->d_name + n - 6, ".theme") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        Theme t;
        err[0] = warn[0] = '\0';
        int nset = theme_load(path, &t, err, sizeof err, warn, sizeof warn);
        if (nset != ROLE_COUNT || warn[0])
            fail_msg("%s: set %d of %d roles; err '%s' warn '%s'", path, nset, ROLE_COUNT, err,
                     warn);
        files++;
    }
    closedir(d);
    for (int i = 0; i < theme_builtin_count; i++) {
        snprintf(path, sizeof path, "%s/%s.theme", dir, theme_builtin_names[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            fail_msg("built-in theme %s has no file %s", theme_builtin_names[i], path);
        fclose(f);
    }
    assert_true(files >= 4);
}

static void test_dark_file_is_the_default(void **state)
{
    (void)state;
    char dir[1024], path[2048], err[256] = "", warn[256] = "";
    snprintf(path, sizeof path, "%s/dark.theme", theme_dir(dir, sizeof dir));
    Theme file, def;
    assert_int_equal(theme_load(path, &file, err, sizeof err, warn, sizeof warn), ROLE_COUNT);
    theme_default(&def);
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (file.c[r].kind != def.c[r].kind || file.c[r].value != def.c[r].value)
            fail_msg("role %s differs between dark.theme and the default", theme_role_key(r));
    }
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    const char *path = "test_theme_bad.theme";
    write_file(path, "# comment\nmain_fg = \"#c8c8c8\"\n\nbox = \"#12345\"\n");
    Theme t;
    theme_default(&t);
    t.c[ROLE_MAIN_FG].value = 42;  /* a broken file must not change the theme */
    char err[256] = "", warn[256] = "";
    assert_int_equal(theme_load(path, &t, err, sizeof err, warn, sizeof warn), -1);
    assert_non_null(strstr(err, "test_theme_bad.theme:4:"));
    assert_non_null(strstr(err, "box"));
    assert_int_equal(t.c[ROLE_MAIN_FG].value, 42);

    write_file(path, "loss_train \"#ffffff\"\n");
    assert_int_equal(theme_load(path, &t, err, sizeof err, warn, sizeof warn), -1);
    assert_non_null(strstr(err, "test_theme_bad.theme:1:"));
    write_file(path, "gate_0 = 256\n");
    assert_int_equal(theme_load(path, &t, err, sizeof err, warn, sizeof warn), -1);
    assert_non_null(strstr(err, ":1: gate_0"));
    remove(path);
    assert_int_equal(theme_load(path, &t, err, sizeof err, warn, sizeof warn), -1);
    assert_non_null(strstr(err, "cannot open"));
}

static void test_unknown_warns_missing_falls_back(void **state)
{
    (void)state;
    const char *path = "test_theme_partial.theme";
    write_file(path, "loss_train = 196   # red\nno_such_role = \"#000000\"\nmain_bg = \"\"\n");
    Theme t, def;
    theme_default(&def);
    char err[256] = "", warn[256] = "";
    assert_int_equal(theme_load(path, &t, err, sizeof err, warn, sizeof warn), 2);
    assert_non_null(strstr(warn, "test_theme_partial.theme:2: unknown key 'no_such_role'"));
    assert_int_equal(t.c[ROLE_LOSS_TRAIN].kind, THEME_INDEX);
    assert_int_equal(t.c[ROLE_LOSS_TRAIN].value, 196);
    assert_int_equal(t.c[ROLE_MAIN_BG].kind, THEME_DEFAULT);
    assert_int_equal(t.c[ROLE_BOX].value, def.c[ROLE_BOX].value);
    assert_string_equal(t.name, "test_theme_partial");
    remove(path);
}

static void test_colour_degradation(void **state)
{
    (void)state;
    assert_int_equal(theme_rgb_to_256(0xff0000), 196);
    assert_int_equal(theme_rgb_to_256(0x000000), 16);
    assert_int_equal(theme_rgb_to_256(0x808080), 244);
    assert_int_equal(theme_index_rgb(196), 0xff0000u);
    assert_int_equal(theme_rgb_to_8(0xff5f5f), 1);   /* reddish -> red */
    assert_int_equal(theme_rgb_to_8(0x5fafd7), 6);   /* sky blue -> cyan */
    assert_int_equal(theme_rgb_to_8(0xe6e6e6), 7);   /* light grey -> white, not black */
    ThemeColor c;
    assert_int_equal(theme_parse_value("#GG0000", &c), -1);
    assert_int_equal(theme_parse_value("-1", &c), -1);
    assert_int_equal(theme_parse_value("12a", &c), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_theme_file_parses),
        cmocka_unit_test(test_dark_file_is_the_default),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_unknown_warns_missing_falls_back),
        cmocka_unit_test(test_colour_degradation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
