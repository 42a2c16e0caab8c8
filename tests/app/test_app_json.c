/* app/json: the control socket's parser must take anything and answer with
 * a tree or an error, never crash or leak (run under ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "app/json.h"

static struct json *parse(const char *text)
{
    char err[128];
    return json_parse(text, strlen(text), err, sizeof err);
}

static void test_values(void **state)
{
    (void)state;
    struct json *j = parse(" {\"cmd\":\"ss\",\"n\":42,\"neg\":-7,\"f\":1.5,\"t\":true,\"no\":false,\"z\":null,"
                           "\"a\":[1,[2,{}],\"x\"],\"esc\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\n\"} ");
    assert_non_null(j);
    assert_int_equal(j->type, JSON_OBJECT);
    assert_string_equal(json_get_str(j, "cmd", NULL), "ss");
    assert_int_equal(json_get_int(j, "n", 0), 42);
    assert_int_equal(json_get_int(j, "neg", 0), -7);
    assert_int_equal(json_get_int(j, "f", 0), 1);
    assert_true(json_get_bool(j, "t", false));
    assert_false(json_get_bool(j, "no", true));
    assert_int_equal(json_get(j, "z")->type, JSON_NULL);
    assert_int_equal(json_count(json_get(j, "a")), 3);
    assert_string_equal(json_get_str(j, "esc", NULL), "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_null(json_get(j, "missing"));
    assert_int_equal(json_get_int(j, "cmd", -1), -1); /* mistyped: the default */
    json_free(j);
}

static void test_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "{", "}", "[1,", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "[1,]", "01", "-",
        "1.", "1e", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"", "\"a\nb\"", "{} {}",
        "[]]", "\x01", "\"\\", "1e999999999999999999999999999999999999999999999999999999999999999999x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        struct json *j = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
        if (j)
            fail_msg("accepted bad input #%zu '%s'", i, bad[i]);
        assert_true(err[0] != '\0');
    }
}

static void test_depth_and_size(void **state)
{
    (void)state;
    char deep[JSON_MAX_DEPTH * 2 + 8];
    size_t n = 0;
    for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
        deep[n++] = '[';
    char err[128];
    assert_null(json_parse(deep, n, err, sizeof err));
    assert_string_equal(err, "nested too deeply");
    /* Exactly at the limit is fine. */
    n = 0;
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    struct json *j = json_parse(deep, n, err, sizeof err);
    assert_non_null(j);
    json_free(j);
    /* Not NUL-terminated input: only len bytes are read. */
    static const char text[] = "{\"cmd\":\"ping\"}garbage";
    j = json_parse(text, 14, err, sizeof err);
    assert_non_null(j);
    json_free(j);
}

/* Every prefix and every single-byte corruption of a valid document. */
static void test_mutations(void **state)
{
    (void)state;
    static const char doc[] = "{\"cmd\":\"ss\",\"x\":[1,2.5e3,true,null,\"\\u0041\"],\"y\":{\"z\":-0}}";
    size_t len = sizeof doc - 1;
    char buf[sizeof doc];
    for (size_t cut = 0; cut <= len; cut++) {
        char err[128];
        struct json *j = json_parse(doc, cut, err, sizeof err);
        assert_true(cut == len ? j != NULL : j == NULL);
        json_free(j);
    }
    for (size_t i = 0; i < len; i++) {
        for (int b = 0; b < 256; b += 7) {
            memcpy(buf, doc, len);
            buf[i] = (char)b;
            char err[128];
            json_free(json_parse(buf, len, err, sizeof err));
        }
    }
}

static void test_writer(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b);
    jbuf_puts(&b, "{\"s\":");
    jbuf_str(&b, "q\"\\\n\t\x01");
    jbuf_printf(&b, ",\"n\":%d}", 7);
    assert_string_equal(b.data, "{\"s\":\"q\\\"\\\\\\n\\t\\u0001\",\"n\":7}");
    char err[64];
    struct json *j = json_parse(b.data, b.len, err, sizeof err);
    assert_non_null(j);
    assert_string_equal(json_get_str(j, "s", ""), "q\"\\\n\t\x01");
    json_free(j);
    jbuf_consume(&b, 5);
    assert_int_equal(b.data[0], '"');
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    jbuf_printf(&b, "%s", big);
    assert_false(b.failed);
    assert_int_equal(strlen(b.data), b.len);
    jbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),        cmocka_unit_test(test_rejects), cmocka_unit_test(test_depth_and_size),
        cmocka_unit_test(test_mutations),     cmocka_unit_test(test_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
