/*
 * Unit tests for core/slash.c: every example of the k0mmand3r reference
 * (its public test cases and the table of lines where the original breaks),
 * the edges of the superset, and the argv splitter. Results are compared as
 * JSON strings so null versus empty is checked exactly.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "slash.h"

/* Parses line[0..len) and checks the JSON of the result. */
static void expect_json_n(const char *line, size_t len, const char *json)
{
	struct slash_line out;
	struct slash_error err;
	int rc = slash_parse(line, len, &out, &err);
	if (rc != 0)
		fail_msg("parse of \"%s\" failed: %s", line, err.message);
	char *got = slash_line_to_json(&out);
	assert_string_equal(got, json);
	free(got);
	slash_line_free(&out);
}

static void expect_json(const char *line, const char *json)
{
	expect_json_n(line, strlen(line), json);
}

/* Checks that line[0..len) is rejected at column with a message containing
 * what, and that the output is left empty. */
static void expect_error_n(const char *line, size_t len, size_t column, const char *what)
{
	struct slash_line out;
	struct slash_error err;
	assert_int_equal(slash_parse(line, len, &out, &err), -1);
	assert_int_equal(err.column, column);
	assert_non_null(strstr(err.message, what));
	assert_null(out.verb);
	assert_null(out.content);
	assert_null(out.params);
	assert_false(out.has_params);
	assert_int_equal(out.nparams, 0);
}

static void expect_error(const char *line, size_t column, const char *what)
{
	expect_error_n(line, strlen(line), column, what);
}

/* A test function per line: CASE(name, input, expected JSON). */
#define CASE(name, line, json)                                                                     \
	static void name(void **state)                                                             \
	{                                                                                          \
		(void)state;                                                                       \
		expect_json(line, json);                                                           \
	}

/* The original's public test cases. */
CASE(ref_save, "/save --mylabel=myvalue remaining content",
     "{\"verb\":\"save\",\"params\":{\"mylabel\":\"myvalue\"},\"content\":\"remaining content\"}")
CASE(ref_verbonly, "/verbonly", "{\"verb\":\"verbonly\",\"params\":null,\"content\":null}")
CASE(ref_one_param, "/verb --param1=value1",
     "{\"verb\":\"verb\",\"params\":{\"param1\":\"value1\"},\"content\":\"\"}")
CASE(ref_multiverb, "/multiverb --param1=value1 --param2=value2",
     "{\"verb\":\"multiverb\",\"params\":{\"param1\":\"value1\",\"param2\":\"value2\"},"
     "\"content\":\"\"}")
CASE(ref_tags, "/tagverb --tag1 --tag2",
     "{\"verb\":\"tagverb\",\"params\":{\"tag1\":\"\",\"tag2\":\"\"},\"content\":\"\"}")
CASE(ref_params_tag_content, "/verb --param1=value1 --param2=value2 --tag random content",
     "{\"verb\":\"verb\",\"params\":{\"param1\":\"value1\",\"param2\":\"value2\",\"tag\":\"\"},"
     "\"content\":\"random content\"}")
CASE(ref_plain, "this is just content, no verb!",
     "{\"verb\":null,\"params\":null,\"content\":\"this is just content, no verb!\"}")
CASE(ref_quoted, "/start --task=\"quoted1\" --n=\"42\"",
     "{\"verb\":\"start\",\"params\":{\"task\":\"quoted1\",\"n\":\"42\"},\"content\":\"\"}")
CASE(ref_duplicate, "/start --flag=yes --flag=no",
     "{\"verb\":\"start\",\"params\":{\"flag\":\"no\"},\"content\":\"\"}")
CASE(ref_spaces, "/start    --x=1     --y=2    tail text",
     "{\"verb\":\"start\",\"params\":{\"x\":\"1\",\"y\":\"2\"},\"content\":\"tail text\"}")
CASE(ref_case_kept, "/START --TASK=abc",
     "{\"verb\":\"START\",\"params\":{\"TASK\":\"abc\"},\"content\":\"\"}")
CASE(ref_multiline, "/start --task=abc\n multi-line\n content",
     "{\"verb\":\"start\",\"params\":{\"task\":\"abc\"},\"content\":\"multi-line\\n content\"}")
CASE(ref_run, "/run --name=web --cmd=python3 --instances=2 --memory=1G",
     "{\"verb\":\"run\",\"params\":{\"name\":\"web\",\"cmd\":\"python3\",\"instances\":\"2\","
     "\"memory\":\"1G\"},\"content\":\"\"}")

/* The facts listed in the reference's grammar section. */
CASE(ref_verb_dash, "/verb-name --x=1",
     "{\"verb\":\"verb\",\"params\":{},\"content\":\"-name --x=1\"}")
CASE(ref_bool_strings, "/set --on=true --off=false",
     "{\"verb\":\"set\",\"params\":{\"on\":\"true\",\"off\":\"false\"},\"content\":\"\"}")
CASE(ref_space_around_eq, "/v --a = 1 --b= 2 --x=  5 rest",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\",\"b\":\"2\",\"x\":\"5\"},\"content\":\"rest\"}")
CASE(ref_newline_around_eq, "/v --a\n=\n1",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"\"}")
CASE(ref_content_then_param, "/verb content --x=1",
     "{\"verb\":\"verb\",\"params\":{},\"content\":\"content --x=1\"}")
CASE(ref_verb_trailing_blanks, "/verb   ", "{\"verb\":\"verb\",\"params\":null,\"content\":null}")
CASE(ref_status_please, "/status please",
     "{\"verb\":\"status\",\"params\":{},\"content\":\"please\"}")

/* The table of lines where the original breaks: the superset's answers. */
CASE(sup_quoted_spaces, "/start --task=mytask --command=\"node app.js\"",
     "{\"verb\":\"start\",\"params\":{\"task\":\"mytask\",\"command\":\"node app.js\"},"
     "\"content\":\"\"}")
CASE(sup_underscore_key, "/start --task=api --env_PORT=8080",
     "{\"verb\":\"start\",\"params\":{\"task\":\"api\",\"env_PORT\":\"8080\"},\"content\":\"\"}")
CASE(sup_long_key, "/start --task=heavy --max_memory_restart=1G",
     "{\"verb\":\"start\",\"params\":{\"task\":\"heavy\",\"max_memory_restart\":\"1G\"},"
     "\"content\":\"\"}")
CASE(sup_dotted_value, "/start --task=worker --datum=myworker.cli",
     "{\"verb\":\"start\",\"params\":{\"task\":\"worker\",\"datum\":\"myworker.cli\"},"
     "\"content\":\"\"}")
CASE(sup_dashed_value, "/start --task=test-echo --command=echo",
     "{\"verb\":\"start\",\"params\":{\"task\":\"test-echo\",\"command\":\"echo\"},"
     "\"content\":\"\"}")
CASE(sup_path_value, "/start --cwd=/srv/app",
     "{\"verb\":\"start\",\"params\":{\"cwd\":\"/srv/app\"},\"content\":\"\"}")
CASE(sup_leading_blanks, "   /status", "{\"verb\":\"status\",\"params\":null,\"content\":null}")
CASE(sup_tab_separator, "/start --x=1\t--y=2",
     "{\"verb\":\"start\",\"params\":{\"x\":\"1\",\"y\":\"2\"},\"content\":\"\"}")

/* Our own cases: null versus empty and blank lines. */
CASE(own_empty_line, "", "{\"verb\":null,\"params\":null,\"content\":\"\"}")
CASE(own_only_spaces, "     ", "{\"verb\":null,\"params\":null,\"content\":\"\"}")
CASE(own_only_blanks_mixed, " \t\r\n\v\f ", "{\"verb\":null,\"params\":null,\"content\":\"\"}")
CASE(own_plain_trimmed, "  hello world \n",
     "{\"verb\":null,\"params\":null,\"content\":\"hello world\"}")
CASE(own_trailing_blanks_after_params, "/v --a=1   \t\n",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"\"}")
CASE(own_leading_tab_newline, "\t\n /v --a=1 x",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"x\"}")
CASE(own_verb_digits, "/v2x --a=1", "{\"verb\":\"v2x\",\"params\":{\"a\":\"1\"},\"content\":\"\"}")
CASE(own_slash_in_middle, "hello /status",
     "{\"verb\":null,\"params\":null,\"content\":\"hello /status\"}")
CASE(own_params_glued_to_verb, "/verb--x=1",
     "{\"verb\":\"verb\",\"params\":{\"x\":\"1\"},\"content\":\"\"}")

/* Unicode. */
CASE(own_unicode_value, "/say --msg=h\xc3\xa9llo\xe2\x9c\x93 w\xc3\xb6rld",
     "{\"verb\":\"say\",\"params\":{\"msg\":\"h\xc3\xa9llo\xe2\x9c\x93\"},\"content\":"
     "\"w\xc3\xb6rld\"}")
CASE(own_unicode_quoted, "/say --msg=\"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"",
     "{\"verb\":\"say\",\"params\":{\"msg\":\"\xe6\x97\xa5\xe6\x9c\xac "
     "\xf0\x9f\x9a\x80\"},\"content\":\"\"}")
CASE(own_unicode_plain,
     "\xc3\xa7"
     "a va \xf0\x9f\x98\x80",
     "{\"verb\":null,\"params\":null,\"content\":\"\xc3\xa7"
     "a va \xf0\x9f\x98\x80\"}")
/* Rust's str::trim removes Unicode whitespace (here NBSP and U+3000). */
CASE(own_unicode_trim, "\xc2\xa0/v --a=1 x\xe3\x80\x80",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"x\"}")
CASE(own_unicode_verb_only, "/v\xe2\x80\xa8", "{\"verb\":\"v\",\"params\":null,\"content\":null}")
/* NBSP ends a bare value but does not separate: the rest is content. */
CASE(own_nbsp_not_separator, "/v --a=1\xc2\xa0--b=2",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"--b=2\"}")

/* Keys and the dash edges. */
CASE(own_dashes_alone, "/v --", "{\"verb\":\"v\",\"params\":{},\"content\":\"--\"}")
CASE(own_three_dashes, "/v ---x", "{\"verb\":\"v\",\"params\":{},\"content\":\"---x\"}")
CASE(own_digit_key, "/v --9x=1", "{\"verb\":\"v\",\"params\":{},\"content\":\"--9x=1\"}")
CASE(own_bad_key_after_good, "/v --a=1 --9x",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"--9x\"}")
CASE(own_key_dash_underscore, "/v --max-mem_MB=512",
     "{\"verb\":\"v\",\"params\":{\"max-mem_MB\":\"512\"},\"content\":\"\"}")
CASE(own_flag_then_punct, "/v --tag.x",
     "{\"verb\":\"v\",\"params\":{\"tag\":\"\"},\"content\":\".x\"}")
CASE(own_quote_without_eq, "/v --tag\"x\"",
     "{\"verb\":\"v\",\"params\":{\"tag\":\"x\"},\"content\":\"\"}")
CASE(own_flag_then_quoted_word, "/v --tag \"x\"",
     "{\"verb\":\"v\",\"params\":{\"tag\":\"\"},\"content\":\"\\\"x\\\"\"}")
CASE(own_duplicate_keeps_first_position, "/v --a=1 --b=2 --a=3",
     "{\"verb\":\"v\",\"params\":{\"a\":\"3\",\"b\":\"2\"},\"content\":\"\"}")
CASE(own_duplicate_flag_then_value, "/v --a --a=x --a",
     "{\"verb\":\"v\",\"params\":{\"a\":\"\"},\"content\":\"\"}")

/* Values. */
CASE(own_empty_after_eq_then_param, "/v --a= --b=2",
     "{\"verb\":\"v\",\"params\":{\"a\":\"\",\"b\":\"2\"},\"content\":\"\"}")
CASE(own_eq_at_end, "/v --a=", "{\"verb\":\"v\",\"params\":{\"a\":\"\"},\"content\":\"\"}")
CASE(own_eq_then_blanks_at_end,
     "/v --a=   ", "{\"verb\":\"v\",\"params\":{\"a\":\"\"},\"content\":\"\"}")
CASE(own_dashes_glued_value, "/v --args=--verbose",
     "{\"verb\":\"v\",\"params\":{\"args\":\"--verbose\"},\"content\":\"\"}")
CASE(own_glued_after_quote, "/v --a=\"x\"y",
     "{\"verb\":\"v\",\"params\":{\"a\":\"x\"},\"content\":\"y\"}")
CASE(own_glued_param_after_quote, "/v --a=\"x\"--b=1",
     "{\"verb\":\"v\",\"params\":{\"a\":\"x\"},\"content\":\"--b=1\"}")
CASE(own_empty_quotes, "/v --a=\"\" --b=''",
     "{\"verb\":\"v\",\"params\":{\"a\":\"\",\"b\":\"\"},\"content\":\"\"}")
CASE(own_single_quotes_literal, "/v --re='a\\nb \"c\"'",
     "{\"verb\":\"v\",\"params\":{\"re\":\"a\\\\nb \\\"c\\\"\"},\"content\":\"\"}")
CASE(own_escapes, "/v --m=\"q\\\" b\\\\ n\\n t\\t x\\x\"",
     "{\"verb\":\"v\",\"params\":{\"m\":\"q\\\" b\\\\ n\\n t\\t x\\\\x\"},\"content\":\"\"}")
CASE(own_quoted_newline, "/v --m=\"a\nb\" tail",
     "{\"verb\":\"v\",\"params\":{\"m\":\"a\\nb\"},\"content\":\"tail\"}")
CASE(own_quote_inside_bare, "/v --a=x\"y z\"",
     "{\"verb\":\"v\",\"params\":{\"a\":\"x\\\"y\"},\"content\":\"z\\\"\"}")
CASE(own_blank_separators, "/v\t--a=1\n--b=2\r\n--c=3\v--d=4\f--e=5",
     "{\"verb\":\"v\",\"params\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\"},"
     "\"content\":\"\"}")
CASE(own_content_keeps_quotes, "/say it's \"fine",
     "{\"verb\":\"say\",\"params\":{},\"content\":\"it's \\\"fine\"}")
CASE(own_content_starting_with_slash, "/verb --x=1 /other",
     "{\"verb\":\"verb\",\"params\":{\"x\":\"1\"},\"content\":\"/other\"}")
CASE(own_typical, "/start --task=api --command=\"node api.js\" --env_PORT=8080",
     "{\"verb\":\"start\",\"params\":{\"task\":\"api\",\"command\":\"node api.js\","
     "\"env_PORT\":\"8080\"},\"content\":\"\"}")

/* Errors. */
static void err_slash_alone(void **state)
{
	(void)state;
	expect_error("/", 2, "verb");
	expect_error("/   ", 2, "verb");
}

static void err_verb_digit(void **state)
{
	(void)state;
	expect_error("/2v", 2, "verb");
	expect_error("  /-x", 4, "verb");
}

static void err_unterminated_double(void **state)
{
	(void)state;
	expect_error("/v --a=\"abc", 8, "unterminated quote at column 8");
	/* A backslash cannot escape the end of the line. */
	expect_error("/v --a=\"abc\\", 8, "unterminated quote");
	expect_error("/v --a=\"abc\\\"", 8, "unterminated quote");
}

static void err_unterminated_single(void **state)
{
	(void)state;
	expect_error("/v --a=1 --b='x y", 14, "unterminated quote at column 14");
}

static void err_unterminated_after_multibyte(void **state)
{
	(void)state;
	/* "é" and "日" are one column each although they take 2 and 3 bytes. */
	expect_error("/v --a=\xc3\xa9\xe6\x97\xa5 --b=\"x", 15, "unterminated quote at column 15");
	expect_error("\xe2\x80\x83/v --b='x", 9, "unterminated quote at column 9");
}

static void err_nul_byte(void **state)
{
	(void)state;
	expect_error_n("/v --a=1\0x", 10, 9, "NUL");
	expect_error_n("\0", 1, 1, "NUL");
}

static void err_invalid_utf8(void **state)
{
	(void)state;
	expect_error("/v --a=\xff", 8, "UTF-8");
	expect_error("\xc3\xa9\xc3", 2, "UTF-8");        /* truncated */
	expect_error("/v \xc0\xaf", 4, "UTF-8");         /* overlong */
	expect_error("/v --a=\xed\xa0\x80", 8, "UTF-8"); /* surrogate */
}

static void err_output_reusable(void **state)
{
	(void)state;
	/* A failed parse leaves nothing to free, and a later parse into the
	 * same struct works. */
	struct slash_line out;
	struct slash_error err;
	assert_int_equal(slash_parse("/v --a=1 --b=\"x", 15, &out, &err), -1);
	slash_line_free(&out);
	assert_int_equal(slash_parse("/v --a=1", 8, &out, &err), 0);
	assert_string_equal(slash_param_get(&out, "a"), "1");
	slash_line_free(&out);
	slash_line_free(&out); /* free leaves it empty, so twice is harmless */
}

/* Long lines. */
static void own_long_content(void **state)
{
	(void)state;
	size_t n = 100 * 1024;
	char *line = malloc(n + 1);
	memcpy(line, "/v --a=1 ", 9);
	memset(line + 9, 'x', n - 9);
	line[n] = '\0';
	struct slash_line out;
	struct slash_error err;
	assert_int_equal(slash_parse(line, n, &out, &err), 0);
	assert_string_equal(slash_param_get(&out, "a"), "1");
	assert_int_equal(strlen(out.content), n - 9);
	slash_line_free(&out);
	free(line);
}

static void own_long_value(void **state)
{
	(void)state;
	size_t n = 100 * 1024;
	char *line = malloc(n + 1);
	memcpy(line, "/v --a=\"", 8);
	memset(line + 8, 'y', n - 9);
	line[n - 1] = '"';
	line[n] = '\0';
	struct slash_line out;
	struct slash_error err;
	assert_int_equal(slash_parse(line, n, &out, &err), 0);
	assert_int_equal(strlen(slash_param_get(&out, "a")), n - 9);
	assert_string_equal(out.content, "");
	slash_line_free(&out);
	free(line);
}

static void own_many_params(void **state)
{
	(void)state;
	/* About 100 KB of distinct keys, then every key again: the hash index
	 * must find all duplicates and keep first positions. */
	size_t count = 6000, cap = count * 40, len = 0;
	char *line = malloc(cap);
	len += (size_t)snprintf(line, cap, "/v");
	for (size_t round = 0; round < 2; round++)
		for (size_t i = 0; i < count; i++)
			len += (size_t)snprintf(line + len, cap - len, " --k%zu=%zu", i, i + round);
	len += (size_t)snprintf(line + len, cap - len, " the end");
	assert_true(len > 100 * 1024);
	struct slash_line out;
	struct slash_error err;
	assert_int_equal(slash_parse(line, len, &out, &err), 0);
	assert_int_equal(out.nparams, count);
	for (size_t i = 0; i < count; i += 997) {
		char key[32], want[32];
		snprintf(key, sizeof(key), "k%zu", i);
		snprintf(want, sizeof(want), "%zu", i + 1);
		assert_string_equal(out.params[i].key, key);
		assert_string_equal(slash_param_get(&out, key), want);
	}
	assert_string_equal(out.content, "the end");
	slash_line_free(&out);
	free(line);
}

static void own_param_get(void **state)
{
	(void)state;
	struct slash_line out;
	struct slash_error err;
	assert_int_equal(slash_parse("/v --a=1 --b", 12, &out, &err), 0);
	assert_string_equal(slash_param_get(&out, "a"), "1");
	assert_string_equal(slash_param_get(&out, "b"), "");
	assert_null(slash_param_get(&out, "c"));
	assert_null(slash_param_get(&out, "A"));
	slash_line_free(&out);
}

static void own_json_of_empty(void **state)
{
	(void)state;
	struct slash_line out = {0};
	char *json = slash_line_to_json(&out);
	assert_string_equal(json, "{\"verb\":null,\"params\":null,\"content\":null}");
	free(json);
}

static void own_not_nul_terminated(void **state)
{
	(void)state;
	/* Only line[0..len) is read: the rest of the buffer is ignored. */
	expect_json_n("/v --a=12345", 8,
	              "{\"verb\":\"v\",\"params\":{\"a\":\"1\"},\"content\":\"\"}");
}

/* The argv splitter. */
static void expect_argv(const char *s, size_t want_argc, const char *const *want)
{
	char **argv;
	size_t argc;
	struct slash_error err;
	if (slash_split_argv(s, strlen(s), &argv, &argc, &err) != 0)
		fail_msg("split of \"%s\" failed: %s", s, err.message);
	assert_int_equal(argc, want_argc);
	for (size_t i = 0; i < argc; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[argc]);
	slash_argv_free(argv);
}

#define ARGV(...)                                                                                  \
	(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)), (const char *const[]) \
	{                                                                                          \
		__VA_ARGS__                                                                        \
	}

static void argv_no_shell_semantics(void **state)
{
	(void)state;
	expect_argv("sleep 60; touch /tmp/x", ARGV("sleep", "60;", "touch", "/tmp/x"));
	expect_argv("echo $(rm -rf /)", ARGV("echo", "$(rm", "-rf", "/)"));
	expect_argv("echo `id` $HOME ~ *", ARGV("echo", "`id`", "$HOME", "~", "*"));
	expect_argv("a | b && c > d < e &",
	            ARGV("a", "|", "b", "&&", "c", ">", "d", "<", "e", "&"));
	expect_argv("echo \"$(id)\"", ARGV("echo", "$(id)"));
}

static void argv_quotes(void **state)
{
	(void)state;
	expect_argv("node \"my app.js\"", ARGV("node", "my app.js"));
	expect_argv("run --name=\"a b\" x", ARGV("run", "--name=a b", "x"));
	expect_argv("'it''s'", ARGV("its"));
	expect_argv("'a \"b\" \\n'", ARGV("a \"b\" \\n"));
	expect_argv("\"\" ''", ARGV("", ""));
	expect_argv("a\"b c\"'d e'f", ARGV("ab cd ef"));
}

static void argv_escapes(void **state)
{
	(void)state;
	expect_argv("\"q\\\"x\\\\y\\nz\\tw\\d\"", ARGV("q\"x\\y\nz\tw\\d"));
	expect_argv("a\\ b c\\\"d \\'e", ARGV("a b", "c\"d", "'e"));
	expect_argv("trail\\", ARGV("trail\\"));
}

static void argv_blanks(void **state)
{
	(void)state;
	expect_argv("  a\t\tb\nc\r\n  ", ARGV("a", "b", "c"));
	expect_argv("caf\xc3\xa9 \xf0\x9f\x9a\x80", ARGV("caf\xc3\xa9", "\xf0\x9f\x9a\x80"));
}

static void argv_empty(void **state)
{
	(void)state;
	char **argv;
	size_t argc = 99;
	struct slash_error err;
	assert_int_equal(slash_split_argv("", 0, &argv, &argc, &err), 0);
	assert_int_equal(argc, 0);
	assert_non_null(argv);
	assert_null(argv[0]);
	slash_argv_free(argv);
	assert_int_equal(slash_split_argv(" \t\n ", 4, &argv, &argc, &err), 0);
	assert_int_equal(argc, 0);
	slash_argv_free(argv);
}

static void argv_errors(void **state)
{
	(void)state;
	char **argv;
	size_t argc;
	struct slash_error err;
	assert_int_equal(slash_split_argv("node \"app.js", 12, &argv, &argc, &err), -1);
	assert_null(argv);
	assert_int_equal(argc, 0);
	assert_int_equal(err.column, 6);
	assert_string_equal(err.message, "unterminated quote at column 6");
	assert_int_equal(slash_split_argv("\xc3\xa9 'x", 5, &argv, &argc, &err), -1);
	assert_int_equal(err.column, 3);
	assert_int_equal(slash_split_argv("a \"b\\\"", 6, &argv, &argc, &err), -1);
	assert_int_equal(err.column, 3);
	assert_int_equal(slash_split_argv("a\0b", 3, &argv, &argc, &err), -1);
	assert_int_equal(err.column, 2);
	assert_non_null(strstr(err.message, "NUL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ref_save),
	    cmocka_unit_test(ref_verbonly),
	    cmocka_unit_test(ref_one_param),
	    cmocka_unit_test(ref_multiverb),
	    cmocka_unit_test(ref_tags),
	    cmocka_unit_test(ref_params_tag_content),
	    cmocka_unit_test(ref_plain),
	    cmocka_unit_test(ref_quoted),
	    cmocka_unit_test(ref_duplicate),
	    cmocka_unit_test(ref_spaces),
	    cmocka_unit_test(ref_case_kept),
	    cmocka_unit_test(ref_multiline),
	    cmocka_unit_test(ref_run),
	    cmocka_unit_test(ref_verb_dash),
	    cmocka_unit_test(ref_bool_strings),
	    cmocka_unit_test(ref_space_around_eq),
	    cmocka_unit_test(ref_newline_around_eq),
	    cmocka_unit_test(ref_content_then_param),
	    cmocka_unit_test(ref_verb_trailing_blanks),
	    cmocka_unit_test(ref_status_please),
	    cmocka_unit_test(sup_quoted_spaces),
	    cmocka_unit_test(sup_underscore_key),
	    cmocka_unit_test(sup_long_key),
	    cmocka_unit_test(sup_dotted_value),
	    cmocka_unit_test(sup_dashed_value),
	    cmocka_unit_test(sup_path_value),
	    cmocka_unit_test(sup_leading_blanks),
	    cmocka_unit_test(sup_tab_separator),
	    cmocka_unit_test(own_empty_line),
	    cmocka_unit_test(own_only_spaces),
	    cmocka_unit_test(own_only_blanks_mixed),
	    cmocka_unit_test(own_plain_trimmed),
	    cmocka_unit_test(own_trailing_blanks_after_params),
	    cmocka_unit_test(own_leading_tab_newline),
	    cmocka_unit_test(own_verb_digits),
	    cmocka_unit_test(own_slash_in_middle),
	    cmocka_unit_test(own_params_glued_to_verb),
	    cmocka_unit_test(own_unicode_value),
	    cmocka_unit_test(own_unicode_quoted),
	    cmocka_unit_test(own_unicode_plain),
	    cmocka_unit_test(own_unicode_trim),
	    cmocka_unit_test(own_unicode_verb_only),
	    cmocka_unit_test(own_nbsp_not_separator),
	    cmocka_unit_test(own_dashes_alone),
	    cmocka_unit_test(own_three_dashes),
	    cmocka_unit_test(own_digit_key),
	    cmocka_unit_test(own_bad_key_after_good),
	    cmocka_unit_test(own_key_dash_underscore),
	    cmocka_unit_test(own_flag_then_punct),
	    cmocka_unit_test(own_quote_without_eq),
	    cmocka_unit_test(own_flag_then_quoted_word),
	    cmocka_unit_test(own_duplicate_keeps_first_position),
	    cmocka_unit_test(own_duplicate_flag_then_value),
	    cmocka_unit_test(own_empty_after_eq_then_param),
	    cmocka_unit_test(own_eq_at_end),
	    cmocka_unit_test(own_eq_then_blanks_at_end),
	    cmocka_unit_test(own_dashes_glued_value),
	    cmocka_unit_test(own_glued_after_quote),
	    cmocka_unit_test(own_glued_param_after_quote),
	    cmocka_unit_test(own_empty_quotes),
	    cmocka_unit_test(own_single_quotes_literal),
	    cmocka_unit_test(own_escapes),
	    cmocka_unit_test(own_quoted_newline),
	    cmocka_unit_test(own_quote_inside_bare),
	    cmocka_unit_test(own_blank_separators),
	    cmocka_unit_test(own_content_keeps_quotes),
	    cmocka_unit_test(own_content_starting_with_slash),
	    cmocka_unit_test(own_typical),
	    cmocka_unit_test(err_slash_alone),
	    cmocka_unit_test(err_verb_digit),
	    cmocka_unit_test(err_unterminated_double),
	    cmocka_unit_test(err_unterminated_single),
	    cmocka_unit_test(err_unterminated_after_multibyte),
	    cmocka_unit_test(err_nul_byte),
	    cmocka_unit_test(err_invalid_utf8),
	    cmocka_unit_test(err_output_reusable),
	    cmocka_unit_test(own_long_content),
	    cmocka_unit_test(own_long_value),
	    cmocka_unit_test(own_many_params),
	    cmocka_unit_test(own_param_get),
	    cmocka_unit_test(own_json_of_empty),
	    cmocka_unit_test(own_not_nul_terminated),
	    cmocka_unit_test(argv_no_shell_semantics),
	    cmocka_unit_test(argv_quotes),
	    cmocka_unit_test(argv_escapes),
	    cmocka_unit_test(argv_blanks),
	    cmocka_unit_test(argv_empty),
	    cmocka_unit_test(argv_errors),
	};
	UNIT_RUN("slash", tests);
}
