/*
 * Unit tests for the console's history (issue 12, items 4, 8, 11): the
 * sparkline, graph and bar rendering (tui/spark.c), the per-task ring of
 * samples (tui/history_ring.c), the middle cut of long names shared by the
 * console and `tasker ls` (core/text_cut.c), and the --local console's
 * address file format (core/local_addr.c).
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "draw_history.h"
#include "history_ring.h"
#include "local_addr.h"
#include "spark.h"
#include "tasks.h"
#include "text_cut.h"
#include "util.h"

static void line_levels(void **state)
{
	(void)state;
	char buf[128];
	const float v[] = {0, 50, 100, 200, -3};
	spark_line(v, 5, 100, false, buf, sizeof(buf));
	/* 0 is the lowest block (idle, not "no data"); above max is full;
	 * a negative (unknown) value is the lowest too. */
	assert_string_equal(buf, "▁▅██▁");
	spark_line(v, 5, 100, true, buf, sizeof(buf));
	assert_string_equal(buf, "_=##_");
	spark_line(v, 0, 100, false, buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* A buffer too small keeps whole characters only. */
	char small[7];
	spark_line(v, 5, 100, false, small, sizeof(small));
	assert_string_equal(small, "▁▅");
}

static void scale_has_a_floor(void **state)
{
	(void)state;
	const float idle[] = {0.2f, 1, 0.5f};
	assert_true(spark_scale(idle, 3, 5) == 5);
	const float busy[] = {20, 80, 40};
	assert_true(spark_scale(busy, 3, 5) == 80);
	assert_true(spark_scale(NULL, 0, 0) == 1); /* never divide by zero */
}

static void rows_fill_from_the_bottom(void **state)
{
	(void)state;
	char top[64], mid[64], bottom[64];
	/* Three rows = 24 eighths: 100% fills all, 50% 12 eighths (one row and
	 * a half), 0 nothing. */
	const float v[] = {100, 50, 0};
	spark_rows(v, 3, 100, 3, 0, false, top, sizeof(top));
	spark_rows(v, 3, 100, 3, 1, false, mid, sizeof(mid));
	spark_rows(v, 3, 100, 3, 2, false, bottom, sizeof(bottom));
	assert_string_equal(top, "█  ");
	assert_string_equal(mid, "█▄ ");
	assert_string_equal(bottom, "██ ");
	spark_rows(v, 3, 100, 3, 1, true, mid, sizeof(mid));
	assert_string_equal(mid, "#. ");
}

static void bar_in_eighths(void **state)
{
	(void)state;
	char buf[64];
	spark_bar(0.5, 5, false, buf, sizeof(buf));
	assert_string_equal(buf, "██▌  ");
	spark_bar(1.7, 3, false, buf, sizeof(buf));
	assert_string_equal(buf, "███");
	spark_bar(-1, 3, false, buf, sizeof(buf));
	assert_string_equal(buf, "   ");
	spark_bar(0.5, 4, true, buf, sizeof(buf));
	assert_string_equal(buf, "##  ");
}

static void cut_in_the_middle(void **state)
{
	(void)state;
	char buf[64];
	assert_true(text_cut_middle("payments-reconciliation-worker-eu-west-1", 24, false, buf,
				    sizeof(buf)));
	assert_string_equal(buf, "payments-re…er-eu-west-1");
	assert_true(text_cut_middle("payments-reconciliation-worker-eu-west-1", 24, true, buf,
				    sizeof(buf)));
	assert_string_equal(buf, "payments-re~er-eu-west-1");
	/* Short enough, too narrow, or not plain ASCII: unchanged. */
	assert_false(text_cut_middle("api", 24, false, buf, sizeof(buf)));
	assert_string_equal(buf, "api");
	assert_false(text_cut_middle("abcdefgh", 4, false, buf, sizeof(buf)));
	assert_string_equal(buf, "abcdefgh");
	assert_false(text_cut_middle("naïve-ünïcode-名前-and-more-text", 10, false, buf, sizeof(buf)));
	assert_false(text_cut_middle("evil\x1b]0;pwned-long-long-name", 10, false, buf, sizeof(buf)));
	assert_true(text_cut_middle("abcdefghij", 9, false, buf, sizeof(buf)));
	assert_string_equal(buf, "abcd…ghij");
}

static void procs_into(struct tasks *t, size_t n, const int *ids, const double *cpu,
		       const int *restarts)
{
	struct pm2_proc *p = xcalloc(n, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		p[i].pm_id = ids[i];
		p[i].name = xasprintf("t%d", ids[i]);
		p[i].namespace = xstrdup("default");
		p[i].status = xstrdup("online");
		p[i].state = PM2_ST_ONLINE;
		p[i].exec_mode = xstrdup("fork_mode");
		p[i].pm_cwd = xstrdup("/");
		p[i].pm_exec_path = xstrdup("/bin/sleep");
		p[i].exec_interpreter = xstrdup("none");
		p[i].out_log_path = xstrdup("");
		p[i].err_log_path = xstrdup("");
		p[i].cpu = cpu[i];
		p[i].memory = 2048 * (uint64_t)(i + 1);
		p[i].restart_time = restarts[i];
	}
	tasks_replace(t, p, n, 0);
}

static void ring_keeps_bounded_series(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	struct hist_ring h;
	hist_ring_init(&h);
	const int ids[] = {3, 1};
	for (int k = 0; k < HIST_SAMPLES + 30; k++) {
		const double cpu[] = {(double)k, 7};
		const int rs[] = {k >= 10 ? 2 : 0, 0};
		procs_into(&t, 2, ids, cpu, rs);
		hist_ring_sample(&h, &t);
	}
	assert_int_equal(h.n, 2);
	const struct hist_series *s = hist_ring_find(&h, "", 3);
	assert_non_null(s);
	assert_int_equal(s->count, HIST_SAMPLES);
	float cpu[HIST_SAMPLES], mem[HIST_SAMPLES];
	unsigned char rs[HIST_SAMPLES];
	size_t n = hist_series_last(s, HIST_SAMPLES, cpu, mem, rs);
	assert_int_equal(n, HIST_SAMPLES);
	/* Oldest first: the last HIST_SAMPLES of 0..149. */
	assert_true(cpu[0] == 30 && cpu[n - 1] == HIST_SAMPLES + 29);
	assert_true(mem[0] == 2); /* KiB */
	/* The restart happened at sample 10, long gone from the window. */
	int marks = 0;
	for (size_t i = 0; i < n; i++)
		marks += rs[i];
	assert_int_equal(marks, 0);
	/* A shorter window and a restart inside it. */
	const double cpu2[] = {1, 7};
	const int rs2[] = {5, 0};
	procs_into(&t, 2, ids, cpu2, rs2);
	hist_ring_sample(&h, &t);
	n = hist_series_last(hist_ring_find(&h, "", 3), 4, cpu, NULL, rs);
	assert_int_equal(n, 4);
	assert_int_equal(rs[3], 3);
	assert_true(cpu[3] == 1);
	/* A task gone from the table takes its series along. */
	const int one[] = {1};
	const double c1[] = {7};
	const int r1[] = {0};
	procs_into(&t, 1, one, c1, r1);
	hist_ring_sample(&h, &t);
	assert_int_equal(h.n, 1);
	assert_null(hist_ring_find(&h, "", 3));
	assert_non_null(hist_ring_find(&h, "", 1));
	hist_ring_free(&h);
	tasks_free(&t);
}

/* PM2 renumbered: another process (another name) holds pm_id 3 now; its
 * graph starts afresh instead of going on from the other one's. */
static void ring_resets_on_another_name(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	struct hist_ring h;
	hist_ring_init(&h);
	const int ids[] = {3};
	for (int k = 0; k < 5; k++) {
		const double cpu[] = {50};
		const int rs[] = {0};
		procs_into(&t, 1, ids, cpu, rs);
		hist_ring_sample(&h, &t);
	}
	assert_int_equal(hist_ring_find(&h, "", 3)->count, 5);
	const double cpu2[] = {9};
	const int rs2[] = {4}; /* its own restarts: not a restart of the old one */
	procs_into(&t, 1, ids, cpu2, rs2);
	free(t.procs[0].name);
	t.procs[0].name = xstrdup("other");
	hist_ring_sample(&h, &t);
	const struct hist_series *s = hist_ring_find(&h, "", 3);
	assert_non_null(s);
	assert_int_equal(s->count, 1);
	assert_string_equal(s->name, "other");
	float cpu[HIST_SAMPLES];
	unsigned char rs[HIST_SAMPLES];
	assert_int_equal(hist_series_last(s, HIST_SAMPLES, cpu, NULL, rs), 1);
	assert_true(cpu[0] == 9);
	assert_int_equal(rs[0], 0);
	/* The same name again: the series goes on. */
	procs_into(&t, 1, ids, cpu2, rs2);
	free(t.procs[0].name);
	t.procs[0].name = xstrdup("other");
	hist_ring_sample(&h, &t);
	assert_int_equal(hist_ring_find(&h, "", 3)->count, 2);
	hist_ring_free(&h);
	tasks_free(&t);
}

/* The restarts line holds a mark for each of HIST_SAMPLES samples. */
static void restart_marks_fill_the_window(void **state)
{
	(void)state;
	unsigned char rs[HIST_SAMPLES] = {0};
	rs[HIST_SAMPLES - 1] = 1;
	char marks[HIST_SAMPLES * 3 + 1];
	assert_int_equal(history_marks(rs, HIST_SAMPLES, false, marks, sizeof(marks)), HIST_SAMPLES);
	assert_int_equal(strlen(marks), HIST_SAMPLES * 3);
	assert_string_equal(marks + (HIST_SAMPLES - 1) * 3, "↺"); /* the newest, last */
	assert_int_equal(history_marks(rs, HIST_SAMPLES, true, marks, sizeof(marks)), HIST_SAMPLES);
	assert_int_equal(strlen(marks), HIST_SAMPLES);
	char small[8]; /* two 3-byte marks and the NUL, never half of one */
	assert_int_equal(history_marks(rs, HIST_SAMPLES, false, small, sizeof(small)), 2);
	assert_string_equal(small, "──");
}

static void address_file(void **state)
{
	(void)state;
	char url[256];
	long pid = 0;
	assert_int_equal(local_addr_parse("{\"url\":\"unix:///run/x.sock\",\"pid\":4242}", url,
					  sizeof(url), &pid),
			 0);
	assert_string_equal(url, "unix:///run/x.sock");
	assert_int_equal(pid, 4242);
	const char *bad[] = {
	    "",
	    "not json",
	    "{\"url\":\"unix:///x\"}",
	    "{\"pid\":12}",
	    "{\"url\":\"\",\"pid\":12}",
	    "{\"url\":\"unix:///x\",\"pid\":0}",
	    "{\"url\":\"unix:///x\",\"pid\":-5}",
	    "{\"url\":\"unix:///x\",\"pid\":1.5}",
	    "{\"url\":\"unix:///x\",\"pid\":1e300}",
	    "{\"url\":7,\"pid\":12}",
	    "[1,2]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (local_addr_parse(bad[i], url, sizeof(url), &pid) == 0)
			fail_msg("accepted: %s", bad[i]);
	/* A URL longer than the buffer is refused, not cut. */
	char tiny[8];
	assert_int_equal(local_addr_parse("{\"url\":\"unix:///a/long/path\",\"pid\":3}", tiny,
					  sizeof(tiny), &pid),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(line_levels),	 cmocka_unit_test(scale_has_a_floor),
	    cmocka_unit_test(rows_fill_from_the_bottom), cmocka_unit_test(bar_in_eighths),
	    cmocka_unit_test(cut_in_the_middle),	 cmocka_unit_test(ring_keeps_bounded_series),
	    cmocka_unit_test(ring_resets_on_another_name),
	    cmocka_unit_test(restart_marks_fill_the_window),
	    cmocka_unit_test(address_file),
	};
	UNIT_RUN("spark", tests);
}
