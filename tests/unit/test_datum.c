/*
 * Unit tests for core/datum_toml.cpp and core/datum.c: the fields a start
 * uses read with their types, lenient about the rest of an upstream datum;
 * broken TOML and wrong types as FILE:LINE:COL errors with nothing
 * half-read; upstream's invalid pm2.cli.toml; datum references that name
 * paths refused.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "datum.h"
#include "datum_toml.h"

static int load(const char *text, struct datum *d, char *err, size_t errlen)
{
	err[0] = '\0';
	return datum_toml_load_text(text, strlen(text), "t.cli.toml", d, err, errlen);
}

static void fields(void **state)
{
	(void)state;
	struct datum d;
	char err[400];
	int rc = load("[b00t]\nname = \"api\"\ntype = \"cli\"\nhint = \"h\"\nkeywords = [\"a\"]\n"
		      "usage = [{ description = \"x\", command = \"y\" }]\n"
		      "command = \"node api.js\"\nargs = [\"--port\", \"3000\"]\ncwd = \"srv\"\n"
		      "[b00t.env]\nA = \"b00t\"\nB = \"two\"\n[env]\nA = \"top\"\nC = \"three\"\n",
		      &d, err, sizeof(err));
	if (rc != 0)
		fail_msg("load failed: %s", err);
	assert_string_equal(d.name, "api");
	assert_string_equal(d.type, "cli");
	assert_string_equal(d.command, "node api.js");
	assert_string_equal(d.cwd, "srv");
	assert_int_equal(d.nargs, 2);
	assert_string_equal(d.args[0], "--port");
	assert_string_equal(d.args[1], "3000");
	/* [env] first, [b00t.env] over it. */
	assert_int_equal(d.nenv, 3);
	bool a = false, b = false, c = false;
	for (size_t i = 0; i < d.nenv; i++) {
		if (strcmp(d.env[i].key, "A") == 0)
			a = strcmp(d.env[i].value, "b00t") == 0;
		if (strcmp(d.env[i].key, "B") == 0)
			b = strcmp(d.env[i].value, "two") == 0;
		if (strcmp(d.env[i].key, "C") == 0)
			c = strcmp(d.env[i].value, "three") == 0;
	}
	assert_true(a && b && c);
	datum_free(&d);
	datum_free(&d); /* twice is harmless */
}

static void script_when_no_command(void **state)
{
	(void)state;
	struct datum d;
	char err[400];
	assert_int_equal(load("[b00t]\nscript = \"./run.sh\"\n", &d, err, sizeof(err)), 0);
	assert_string_equal(d.command, "./run.sh");
	assert_null(d.name);
	assert_null(d.type);
	assert_int_equal(d.nargs, 0);
	datum_free(&d);
}

static void expect_error(const char *text, const char *want)
{
	struct datum d;
	char err[400];
	assert_int_equal(load(text, &d, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	/* Nothing half-read. */
	assert_null(d.name);
	assert_null(d.command);
	assert_int_equal(d.nenv, 0);
	assert_int_equal(d.nargs, 0);
}

static void errors(void **state)
{
	(void)state;
	expect_error("[b00t]\nname = \"x\"\nargs = [1,\n", "t.cli.toml:");
	expect_error("[b00t\n", "t.cli.toml:1:");
	expect_error("[b00t]\ncommand = 5\n", "t.cli.toml:2:11: b00t.command must be a string");
	expect_error("[b00t]\ncommand = \"x\"\nargs = \"a b\"\n",
		     "t.cli.toml:3:8: b00t.args must be an array of strings");
	expect_error("[b00t]\ncommand = \"x\"\nargs = [\"a\", 2]\n", "b00t.args[1] must be a string");
	expect_error("[b00t]\ncommand = \"x\"\nenv = { A = 1 }\n", "b00t.env.A must be a string");
	expect_error("[b00t]\ncommand = \"x\"\nenv = \"A=1\"\n", "b00t.env must be a table");
	expect_error("name = \"x\"\n", "no [b00t] table");
	expect_error("b00t = 3\n", "t.cli.toml:1:8: b00t must be a table");
	expect_error("[b00t]\ncommand = \"a\\u0000b\"\n", "NUL");
}

/* Upstream's _b00t_/pm2.cli.toml: aliases as an array, then as an array of
 * tables: TOML 1.0 forbids it, and it must be said with its place. */
static void upstream_pm2(void **state)
{
	(void)state;
	struct datum d;
	char err[400];
	const char *text = "[b00t]\nname = \"pm2\"\ntype = \"cli\"\ncommand = \"pm2\"\n"
			   "aliases = [\"pm2-runtime\"]\n\n[[b00t.aliases]]\nname = \"pm2-dev\"\n";
	assert_int_equal(load(text, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.cli.toml:7:"));
	assert_non_null(strstr(err, "aliases"));
	assert_null(d.command);
}

static void too_large(void **state)
{
	(void)state;
	size_t n = DATUM_TOML_MAX_BYTES + 10;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	struct datum d;
	char err[400];
	assert_int_equal(datum_toml_load_text(big, n, "big", &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	free(big);
}

static void missing_file(void **state)
{
	(void)state;
	struct datum d;
	char err[400];
	assert_int_equal(datum_toml_load_file("/nonexistent/x.cli.toml", &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such datum file"));
	assert_int_equal(datum_toml_load_file("/", &d, err, sizeof(err)), -1);
}

static void refs(void **state)
{
	(void)state;
	assert_null(datum_ref_problem("api.cli"));
	assert_null(datum_ref_problem("build-and-test.job"));
	assert_null(datum_ref_problem("my_api.cli"));
	assert_non_null(datum_ref_problem(""));
	assert_non_null(datum_ref_problem(NULL));
	assert_non_null(datum_ref_problem("../x.cli"));
	assert_non_null(datum_ref_problem("a/b.cli"));
	assert_non_null(datum_ref_problem("/etc/passwd"));
	assert_non_null(datum_ref_problem("a..cli"));
	assert_non_null(datum_ref_problem(".hidden.cli"));
	assert_non_null(datum_ref_problem("a\\b.cli"));
	assert_non_null(datum_ref_problem("a b.cli"));
	assert_non_null(datum_ref_problem("a\nb.cli"));
	char longref[200];
	memset(longref, 'a', sizeof(longref) - 1);
	longref[sizeof(longref) - 1] = '\0';
	assert_non_null(datum_ref_problem(longref));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fields),	    cmocka_unit_test(script_when_no_command),
	    cmocka_unit_test(errors),	    cmocka_unit_test(upstream_pm2),
	    cmocka_unit_test(too_large),    cmocka_unit_test(missing_file),
	    cmocka_unit_test(refs),
	};
	UNIT_RUN("datum", tests);
}
