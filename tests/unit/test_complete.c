/*
 * Unit tests for tui/complete.c: verbs after "/", flags per verb (without
 * the ones already typed), task names after --task= and --name= (quoted
 * when they need it), sort columns, theme names, the cursor in the middle
 * of a line, and the common prefix Tab inserts.
 */
#include "unit.h"

#include <stdarg.h>
#include <string.h>

#include "complete.h"

static const char *const tasks[] = {"api", "web", "worker", "api", "my app", "we\"ird", ""};
#define NTASKS (sizeof(tasks) / sizeof(tasks[0]))

static const char *const themes[] = {"light", "default", "mono", "high-contrast", "light"};
#define NTHEMES (sizeof(themes) / sizeof(themes[0]))

/*
 * Completes line at point (-1: the end) and checks the word start and the
 * candidates, given as a NULL-terminated list in the expected order.
 */
static void expect_at(const char *line, long point, size_t want_start, ...)
{
	size_t p = point < 0 ? strlen(line) : (size_t)point;
	char **out = (char **)&out; /* must be overwritten */
	size_t start = 12345;
	size_t n =
	    complete_candidates_themes(line, p, tasks, NTASKS, themes, NTHEMES, &out, &start);
	va_list ap;
	va_start(ap, want_start);
	size_t i = 0;
	for (const char *w; (w = va_arg(ap, const char *)) != NULL; i++) {
		if (i >= n)
			fail_msg("\"%s\" at %zu: %zu candidates, expected more (next \"%s\")", line,
			         p, n, w);
		if (strcmp(out[i], w) != 0)
			fail_msg("\"%s\" at %zu: candidate %zu is \"%s\", expected \"%s\"", line, p,
			         i, out[i], w);
	}
	va_end(ap);
	if (i != n)
		fail_msg("\"%s\" at %zu: %zu candidates (first extra \"%s\"), expected %zu", line,
		         p, n, out[i], i);
	if (n == 0)
		assert_null(out);
	if (start != want_start)
		fail_msg("\"%s\" at %zu: start %zu, expected %zu", line, p, start, want_start);
	complete_free(out, n);
}

#define expect(line, start, ...) expect_at(line, -1, start, __VA_ARGS__)

static void test_verbs(void **state)
{
	(void)state;
	expect("/", 0, "/clear", "/delete", "/filter", "/help", "/list", "/node", "/ps", "/quit", "/remove",
	       "/restart", "/run", "/sort", "/start", "/status", "/stop", "/theme", NULL);
	expect("/st", 0, "/start", "/status", "/stop", NULL);
	expect("/r", 0, "/remove", "/restart", "/run", NULL);
	expect("/sort", 0, "/sort", NULL);
	expect("/x", 0, NULL);
	expect("/STA", 0, NULL); /* verbs are case-sensitive, like the parser */
	/* Leading blanks are allowed before the verb, as in the parser. */
	expect("  /re", 2, "/remove", "/restart", NULL);
	expect("\t/q", 1, "/quit", NULL);
	/* Only the first word is a verb; plain text gets nothing. */
	expect("hello /st", 6, NULL);
	expect("/start /st", 7, NULL);
	expect("st", 0, NULL);
	expect("", 0, NULL);
	expect("   ", 3, NULL);
}

static void test_flags(void **state)
{
	(void)state;
	expect("/start --", 7, "--args=", "--autorestart=", "--command=", "--cwd=", "--env_",
	       "--instances=", "--max_memory_restart=", "--memory=", "--name=", "--task=", NULL);
	expect("/run -", 5, "--args=", "--autorestart=", "--command=", "--cwd=", "--env_",
	       "--instances=", "--max_memory_restart=", "--memory=", "--name=", "--task=", NULL);
	expect("/start --m", 7, "--max_memory_restart=", "--memory=", NULL);
	expect("/run --c", 5, "--command=", "--cwd=", NULL);
	expect("/start --x", 7, NULL);
	for (const char *const *v =
	         (const char *const[]){"stop", "restart", "delete", "remove", NULL};
	     *v; v++) {
		char line[32];
		snprintf(line, sizeof(line), "/%s --", *v);
		expect(line, strlen(*v) + 2, "--name=", "--task=", NULL);
	}
	expect("/stop --c", 6, NULL);
	/* Verbs without flags, and no verb. */
	expect("/status --", 8, NULL);
	expect("/sort --", 6, NULL);
	expect("/list --", 6, NULL);
	expect("/nosuch --", 8, NULL);
	expect("--", 0, NULL);
	expect("text --", 5, NULL);
}

static void test_flags_already_given(void **state)
{
	(void)state;
	expect("/start --task=api --command=x --", 30,
	       "--args=", "--autorestart=", "--cwd=", "--env_",
	       "--instances=", "--max_memory_restart=", "--memory=", "--name=", NULL);
	/* --env_ may repeat. */
	expect("/start --env_A=1 --e", 17, "--env_", NULL);
	expect("/stop --task=a --name=b --", 24, NULL);
	/* A flag typed as a bare tag counts too. */
	expect("/stop --task --", 13, "--name=", NULL);
	/* --taskforce is not --task. */
	expect("/stop --taskforce=1 --t", 20, "--task=", NULL);
}

static void test_task_names(void **state)
{
	(void)state;
	expect("/stop --task=", 6, "--task=\"my app\"", "--task=\"we\\\"ird\"", "--task=api",
	       "--task=web", "--task=worker", NULL);
	expect("/stop --task=w", 6, "--task=\"we\\\"ird\"", "--task=web", "--task=worker", NULL);
	expect("/stop --task=wo", 6, "--task=worker", NULL);
	/* Duplicates collapse. */
	expect("/restart --name=a", 9, "--name=api", NULL);
	/* A quote the user opened is skipped when matching. */
	expect("/delete --task=\"my", 8, "--task=\"my app\"", NULL);
	expect("/delete --task='a", 8, "--task=api", NULL);
	expect("/stop --task=zz", 6, NULL);
	/* Any verb, even one with no flags of its own; but not plain text. */
	expect("/status --task=a", 8, "--task=api", NULL);
	expect("say --task=a", 4, NULL);
	/* With no tasks known: nothing. */
	char **out;
	size_t start;
	assert_int_equal(complete_candidates("/stop --task=", 13, NULL, 0, &out, &start), 0);
	assert_null(out);
	assert_int_equal(start, 6);
}

static void test_sort_columns(void **state)
{
	(void)state;
	expect("/sort ", 6, "cpu", "id", "memory", "mode", "name", "node", "owner", "pid", "restarts",
	       "status", "uptime", NULL);
	expect("/sort m", 6, "memory", "mode", NULL);
	expect("/sort   up", 8, "uptime", NULL);
	expect("/sort x", 6, NULL);
	/* Only the first argument. */
	expect("/sort name ", 11, NULL);
	expect("/sort name u", 11, NULL);
	/* Not for other verbs. */
	expect("/stop m", 6, NULL);
}

static void test_themes(void **state)
{
	(void)state;
	expect("/theme ", 7, "default", "high-contrast", "light", "mono", NULL);
	expect("/theme l", 7, "light", NULL);
	expect("/theme light ", 13, NULL);
	expect("/theme x", 7, NULL);
	/* Without a theme list, nothing after /theme. */
	char **out;
	size_t start;
	assert_int_equal(complete_candidates("/theme ", 7, tasks, NTASKS, &out, &start), 0);
	assert_null(out);
	assert_int_equal(start, 7);
}

static void test_cursor_in_the_middle(void **state)
{
	(void)state;
	/* The word ends at the cursor; what follows stays and is ignored. */
	expect_at("/stop --task=w --name=x", 14, 6, "--task=\"we\\\"ird\"", "--task=web",
	          "--task=worker", NULL);
	expect_at("/st --task=web", 3, 0, "/start", "/status", "/stop", NULL);
	expect_at("/start --co=1", 11, 7, "--command=", NULL);
	expect_at("/sort m --x", 7, 6, "memory", "mode", NULL);
	/* Just after a blank: an empty word. */
	expect_at("/sort  name", 6, 6, "cpu", "id", "memory", "mode", "name", "node", "owner", "pid",
	          "restarts", "status", "uptime", NULL);
	/* In the leading blanks: no word. */
	expect_at("   /st", 1, 1, NULL);
	/* A cursor past the end is the end. */
	expect_at("/st", 99, 0, "/start", "/status", "/stop", NULL);
	expect_at("/st", 0, 0, NULL);
}

/* Checks complete_common_prefix() on the NULL-terminated words given. */
static void expect_prefix(size_t want, ...)
{
	char store[4][32];
	char *words[4];
	size_t n = 0;
	va_list ap;
	va_start(ap, want);
	for (const char *w; (w = va_arg(ap, const char *)) != NULL && n < 4; n++) {
		snprintf(store[n], sizeof(store[n]), "%s", w);
		words[n] = store[n];
	}
	va_end(ap);
	assert_int_equal(complete_common_prefix(words, n), want);
}

static void test_common_prefix(void **state)
{
	(void)state;
	expect_prefix(strlen("--task=w"), "--task=web", "--task=worker", "--task=we", NULL);
	expect_prefix(strlen("--task=web"), "--task=web", NULL);
	expect_prefix(0, NULL);
	expect_prefix(3, "/start", "/status", "/stop", NULL);
	/* é (c3 a9) and è (c3 a8) share a byte, not a character. */
	expect_prefix(1, "x\xc3\xa9", "x\xc3\xa8", NULL);
	expect_prefix(0, "abc", "xyz", NULL);
	complete_free(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verbs),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_flags_already_given),
	    cmocka_unit_test(test_task_names),
	    cmocka_unit_test(test_sort_columns),
	    cmocka_unit_test(test_themes),
	    cmocka_unit_test(test_cursor_in_the_middle),
	    cmocka_unit_test(test_common_prefix),
	};
	UNIT_RUN("complete", tests);
}
