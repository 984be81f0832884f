/*
 * Unit tests for core/deps.c: depends_on lists parsed, refused and written
 * back, and the order of a group stop (dependents before dependencies,
 * shared dependencies kept while another running task needs them).
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "deps.h"

static void parse_ok(const char *text, const char *self, const char *want)
{
	struct deps d;
	char err[300] = "";
	if (deps_parse(text, self, &d, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", text, err);
	char *s = deps_format(&d);
	if (strcmp(s, want) != 0)
		fail_msg("\"%s\" gave \"%s\", want \"%s\"", text, s, want);
	free(s);
	deps_free(&d);
}

static void parse_bad(const char *text, const char *self, const char *want)
{
	struct deps d;
	char err[300] = "";
	if (deps_parse(text, self, &d, err, sizeof(err)) == 0)
		fail_msg("\"%s\" accepted", text);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", text, err, want);
	assert_null(d.v);
	assert_int_equal(d.n, 0);
}

static void parsing(void **state)
{
	(void)state;
	parse_ok("db", "api", "db");
	parse_ok("db:5432,cache", "api", "db:5432,cache");
	parse_ok(" db:5432 , cache\t", "api", "db:5432,cache");
	parse_bad("db : 5432", "api", "1 to 65535");
	parse_ok("a.b-c_d:1,x:65535", NULL, "a.b-c_d:1,x:65535");
	parse_ok("", "api", "");
	parse_bad("api", "api", "itself");
	parse_bad("db,db:1", "api", "twice");
	parse_bad("db:0", "api", "1 to 65535");
	parse_bad("db:65536", "api", "1 to 65535");
	parse_bad("db:x", "api", "1 to 65535");
	parse_bad("db:", "api", "1 to 65535");
	parse_bad("db,,x", "api", "empty item");
	parse_bad("db,", "api", "ends with a comma");
	parse_bad(",db", "api", "empty item");
	parse_bad("a b", "api", "letters, digits");
	parse_bad("all", "api", "all");
	parse_bad("123", "api", "all digits");
	parse_bad("../x", "api", "start with a letter");
	parse_bad("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "api", "more than 16");
}

static char *plan(const struct deps_node *nodes, size_t n, const char *root)
{
	struct deps_step *s;
	size_t k = deps_stop_plan(nodes, n, root, &s);
	char *out = calloc(1, 1024);
	for (size_t i = 0; i < k; i++) {
		strcat(out, i ? "," : "");
		strcat(out, s[i].name);
		if (s[i].kept_by) {
			strcat(out, "(kept:");
			strcat(out, s[i].kept_by);
			strcat(out, ")");
		}
	}
	deps_steps_free(s, k);
	return out;
}

static void want_plan(const struct deps_node *nodes, size_t n, const char *root, const char *want)
{
	char *got = plan(nodes, n, root);
	if (strcmp(got, want) != 0)
		fail_msg("stop %s: \"%s\", want \"%s\"", root, got, want);
	free(got);
}

static void stop_order(void **state)
{
	(void)state;
	/* front -> store -> disk, front -> cache */
	struct deps_node a[] = {
	    {"disk", NULL, true},
	    {"store", "disk", true},
	    {"cache", NULL, true},
	    {"front", "store,cache", true},
	};
	want_plan(a, 4, "front", "front,cache,store,disk");
	want_plan(a, 4, "store", "store,disk");
	want_plan(a, 4, "disk", "disk");
	/* A task no process has: alone. */
	want_plan(a, 4, "ghost", "ghost");
	/* A shared dependency another running task needs is kept, and so is
	 * what it depends on. */
	struct deps_node b[] = {
	    {"disk", NULL, true},           {"store", "disk:9000", true}, {"cache", NULL, true},
	    {"front", "store,cache", true}, {"worker", "store", true},
	};
	want_plan(b, 5, "front", "front,cache,store(kept:worker),disk(kept:store)");
	/* The same other task stopped: not counted. */
	b[4].active = false;
	want_plan(b, 5, "front", "front,cache,store,disk");
	/* A diamond: d once, after both b and c. */
	struct deps_node c[] = {
	    {"a", "b,c", true},
	    {"b", "d", true},
	    {"c", "d", true},
	    {"d", NULL, true},
	};
	want_plan(c, 4, "a", "a,c,b,d");
	/* A cycle (written by hand into PM2): each once, no hang. */
	struct deps_node d[] = {{"x", "y", true}, {"y", "x", true}};
	want_plan(d, 2, "x", "x,y");
	/* A garbled record is no list. */
	struct deps_node e[] = {{"x", "y,,", true}, {"y", NULL, true}};
	want_plan(e, 2, "x", "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parsing),
	    cmocka_unit_test(stop_order),
	};
	UNIT_RUN("test_deps", tests);
}
