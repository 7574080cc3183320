/* protocol/PROTOCOL.md is the spec: it must name every record of schema.h in a heading and
 * every field of that record in a table row of its section, every topic, command and error
 * code. The checker itself is tested on a copy with a field removed (so it can fail). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "msg.h"

static char *read_doc(void)
{
    char path[1024];
    const char *root = getenv("MOS_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/protocol/PROTOCOL.md", root ? root : ".");
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The section that starts at the heading line `head` (any level) and ends at the next line
 * starting with '#'; copied into out. 0, or -1 when there is no such heading. */
static int section(const char *doc, const char *head, char *out, size_t n)
{
    for (const char *p = doc; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *h = p;
        while (*h == '#')
            h++;
        if (h == p || *h != ' ' || strncmp(h + 1, head, strlen(head)) != 0 ||
            (h[1 + strlen(head)] != '\n' && h[1 + strlen(head)] != '\0'))
            continue;
        const char *body = strchr(p, '\n');
        const char *end = body;
        while (end && end[1] && end[1] != '#')
            end = strchr(end + 1, '\n');
        size_t len = body ? (size_t)((end ? end : body + strlen(body)) - body) : 0;
        len = len < n - 1 ? len : n - 1;
        memcpy(out, body ? body : "", len);
        out[len] = '\0';
        return 0;
    }
    return -1;
}

static bool has_row(const char *sec, const char *name)
{
    char row[128];
    snprintf(row, sizeof row, "| `%s` |", name);
    return strstr(sec, row) != NULL;
}

/* Appends one line per thing PROTOCOL.md misses to report; returns the count. */
static int check_doc(const char *doc, char *report, size_t n)
{
    static char sec[65536];
    char head[128];
    int missing = 0;
    report[0] = '\0';
#define MISS(...) (missing++, snprintf(report + strlen(report), n - strlen(report), __VA_ARGS__))
    for (int i = 0; i < msg_record_count; i++) {
        const RecDesc *d = msg_records[i];
        snprintf(head, sizeof head, "`%s`", d->name);
        if (section(doc, head, sec, sizeof sec) < 0) {
            MISS("record %s: no heading\n", d->name);
            continue;
        }
        for (int j = 0; j < d->nfields; j++)
            if (!has_row(sec, d->fields[j].name))
                MISS("record %s: field %s not in its table\n", d->name, d->fields[j].name);
    }
    if (section(doc, "Topics", sec, sizeof sec) == 0) {
        for (int t = 0; t < MSG_TYPE_COUNT; t++)
            if (!has_row(sec, msg_type_name((MsgType)t)))
                MISS("topic %s not listed\n", msg_type_name((MsgType)t));
    } else {
        MISS("no Topics section\n");
    }
    if (section(doc, "Commands and replies", sec, sizeof sec) == 0) {
        for (int k = 0; k < CMD_KIND_COUNT; k++)
            if (!has_row(sec, msg_cmd_name((CmdKind)k)))
                MISS("command %s not listed\n", msg_cmd_name((CmdKind)k));
    } else {
        MISS("no Commands and replies section\n");
    }
    if (section(doc, "Error codes", sec, sizeof sec) == 0) {
        for (int c = 1; c < PROTO_CODE_COUNT; c++)
            if (!has_row(sec, msg_code_name((ProtoCode)c)))
                MISS("error code %s not listed\n", msg_code_name((ProtoCode)c));
    } else {
        MISS("no Error codes section\n");
    }
#undef MISS
    return missing;
}

static void protocol_md_lists_everything(void **state)
{
    (void)state;
    char *doc = read_doc();
    static char report[16384];
    if (check_doc(doc, report, sizeof report) != 0)
        fail_msg("protocol/PROTOCOL.md is missing:\n%s(tests/protocol/protocol_tables.py prints "
                 "the tables)", report);
    free(doc);
}

static void checker_notices_a_missing_field(void **state)
{
    (void)state;
    char *doc = read_doc();
    static char report[16384];
    char *row = strstr(doc, "| `grad_norm` |");
    assert_non_null(row);
    row[3] = 'X';                                   /* `grad_norm` -> `Xrad_norm` */
    assert_int_equal(check_doc(doc, report, sizeof report), 1);
    assert_non_null(strstr(report, "record train: field grad_norm"));
    char *cmd = strstr(doc, "| `checkpoint` |");
    assert_non_null(cmd);
    cmd[3] = 'X';
    assert_int_equal(check_doc(doc, report, sizeof report), 2);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(protocol_md_lists_everything),
        cmocka_unit_test(checker_notices_a_missing_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
