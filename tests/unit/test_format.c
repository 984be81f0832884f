/*
 * Unit tests for tui/format.c: every unit boundary of the byte, duration
 * and CPU formats, the column layout of a nine-column task table at 200,
 * 80 and 60 cells (and narrower), and fitting UTF-8 text with CJK, emoji,
 * combining marks and broken bytes into a number of terminal columns.
 */
#include "unit.h"

#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "format.h"

/* ---- numbers ---- */

static void expect_bytes(uint64_t b, const char *want)
{
	char buf[32];
	fmt_bytes(b, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("fmt_bytes(%llu) = \"%s\", expected \"%s\"", (unsigned long long)b, buf,
		         want);
}

static void test_bytes(void **state)
{
	(void)state;
	const uint64_t K = 1024, M = K * K, G = M * K, T = G * K;
	expect_bytes(0, "0B");
	expect_bytes(1, "1B");
	expect_bytes(512, "512B");
	expect_bytes(1023, "1023B");
	expect_bytes(K, "1.0K");
	expect_bytes(1536, "1.5K");
	expect_bytes(10 * K, "10.0K");
	/* One decimal below 100, none from 100 (after rounding). */
	expect_bytes(102348, "99.9K"); /* 99.949K */
	expect_bytes(102349, "100K");  /* 99.950K */
	expect_bytes(100 * K, "100K");
	expect_bytes(512 * K, "512K");
	expect_bytes(1023 * K, "1023K");
	expect_bytes(1048063, "1023K"); /* 1023.499K */
	/* Never "1024K": a unit up. */
	expect_bytes(1048064, "1.0M"); /* 1023.5K */
	expect_bytes(M - 1, "1.0M");
	expect_bytes(M, "1.0M");
	expect_bytes((uint64_t)(48.2 * (double)M), "48.2M");
	expect_bytes(512 * M, "512M");
	expect_bytes(G, "1.0G");
	expect_bytes((uint64_t)(3.1 * (double)G), "3.1G");
	expect_bytes(T, "1.0T");
	expect_bytes(T * K, "1.0P");
	expect_bytes(T * M, "1.0E");
	expect_bytes(UINT64_MAX, "16.0E");

	/* Truncation and a zero size. */
	char small[4] = "xyz";
	fmt_bytes(512 * M, small, sizeof(small));
	assert_string_equal(small, "512");
	fmt_bytes(512 * M, small, 0);
	assert_string_equal(small, "512");
}

static void expect_duration(int64_t ms, const char *want)
{
	char buf[32];
	fmt_duration(ms, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("fmt_duration(%lld) = \"%s\", expected \"%s\"", (long long)ms, buf, want);
}

static void test_duration(void **state)
{
	(void)state;
	const int64_t S = 1000, MIN = 60 * S, H = 60 * MIN, D = 24 * H;
	expect_duration(-5000, "0s");
	expect_duration(0, "0s");
	expect_duration(999, "0s");
	expect_duration(S, "1s");
	expect_duration(45 * S, "45s");
	expect_duration(MIN - 1, "59s");
	expect_duration(MIN, "1m");
	expect_duration(2 * MIN - 1, "1m");
	expect_duration(12 * MIN + 30 * S, "12m");
	expect_duration(H - 1, "59m");
	expect_duration(H, "1h");
	expect_duration(H + 59 * S, "1h");
	expect_duration(H + MIN, "1h1m");
	expect_duration(3 * H + 12 * MIN, "3h12m");
	expect_duration(23 * H, "23h");
	expect_duration(D - 1, "23h59m");
	expect_duration(D, "1d");
	expect_duration(D + H - 1, "1d");
	expect_duration(2 * D + 4 * H + 59 * MIN, "2d4h");
	expect_duration(12 * D, "12d");
	expect_duration(100 * D - 1, "99d23h");
	expect_duration(100 * D, "100d");
	expect_duration(365 * D + 5 * H, "365d");
	expect_duration(INT64_MAX, "106751991167d");
}

static void expect_cpu(double pct, const char *want)
{
	char buf[32];
	fmt_cpu(pct, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("fmt_cpu(%g) = \"%s\", expected \"%s\"", pct, buf, want);
}

static void test_cpu(void **state)
{
	(void)state;
	expect_cpu(0, "0%");
	expect_cpu(0.4, "0%");
	expect_cpu(0.6, "1%");
	expect_cpu(12, "12%");
	expect_cpu(12.4, "12%");
	expect_cpu(99.6, "100%");
	expect_cpu(150, "150%");
	expect_cpu(1e12, "999999%");
	expect_cpu(-1, "-");
	expect_cpu(NAN, "-");
}

/* ---- layout ---- */

enum { C_ID, C_NAME, C_STATUS, C_PID, C_CPU, C_MEM, C_UPTIME, C_RESTARTS, C_MODE, C_N };

static const struct column table[C_N] = {
    [C_ID] = {"ID", 3, 4, 1, true, false},
    [C_NAME] = {"NAME", 16, 24, 0, false, true},
    [C_STATUS] = {"STATUS", 15, 15, 0, false, false},
    [C_PID] = {"PID", 7, 8, 5, true, false},
    [C_CPU] = {"CPU", 5, 5, 2, true, false},
    [C_MEM] = {"MEM", 6, 7, 2, true, false},
    [C_UPTIME] = {"UPTIME", 6, 7, 3, true, false},
    [C_RESTARTS] = {"RESTARTS", 8, 8, 4, true, false},
    [C_MODE] = {"MODE", 7, 8, 6, false, false},
};

/* Lays out table at width (gap 1) and compares with want[C_N]. */
static void expect_layout(int width, const int want[C_N], size_t want_visible)
{
	int w[C_N];
	size_t vis = layout_columns(table, C_N, width, 1, w);
	for (int i = 0; i < C_N; i++)
		if (w[i] != want[i])
			fail_msg("width %d: column %s is %d wide, expected %d", width,
			         table[i].name, w[i], want[i]);
	assert_int_equal(vis, want_visible);
}

static void test_layout_table(void **state)
{
	(void)state;
	/* Everything at its want, the name takes the rest: 192 + 8 gaps. */
	static const int w200[C_N] = {4, 130, 15, 8, 5, 7, 7, 8, 8};
	expect_layout(200, w200, 9);
	/* The mins are 73 + 8 gaps = 81: MODE (priority 6) goes; 7 spare
	 * cells bring ID to its want and the rest to NAME. */
	static const int w80[C_N] = {4, 22, 15, 7, 5, 6, 6, 8, 0};
	expect_layout(80, w80, 8);
	/* MODE, PID and RESTARTS go (priorities 6, 5, 4). */
	static const int w60[C_N] = {4, 19, 15, 0, 5, 6, 6, 0, 0};
	expect_layout(60, w60, 6);
	/* Then UPTIME (3); then of the equal CPU and MEM (2) the rightmost. */
	static const int w50[C_N] = {4, 16, 15, 0, 5, 6, 0, 0, 0};
	expect_layout(50, w50, 5);
	static const int w45[C_N] = {4, 18, 15, 0, 5, 0, 0, 0, 0};
	expect_layout(45, w45, 4);
	/* Only the priority-0 columns left, and they do not fit: the
	 * rightmost shrinks, then goes. */
	static const int w30[C_N] = {0, 16, 13, 0, 0, 0, 0, 0, 0};
	expect_layout(30, w30, 2);
	static const int w10[C_N] = {0, 10, 0, 0, 0, 0, 0, 0, 0};
	expect_layout(10, w10, 1);
	static const int w0[C_N] = {0};
	expect_layout(0, w0, 0);
	expect_layout(-5, w0, 0);
}

static void test_layout_never_exceeds(void **state)
{
	(void)state;
	for (int width = 0; width <= 260; width++) {
		for (int gap = 0; gap <= 3; gap++) {
			int w[C_N];
			size_t vis = layout_columns(table, C_N, width, gap, w);
			int sum = 0;
			size_t nz = 0;
			for (int i = 0; i < C_N; i++) {
				assert_true(w[i] >= 0);
				if (w[i] > 0) {
					sum += w[i];
					nz++;
				}
			}
			assert_int_equal(vis, nz);
			if (nz > 0)
				sum += gap * (int)(nz - 1);
			if (sum > width)
				fail_msg("width %d gap %d: used %d", width, gap, sum);
			/* NAME is flexible: whenever it shows, the row is full. */
			if (w[C_NAME] > 0)
				assert_int_equal(sum, width);
			/* Priority order: while a column of priority p > 0 is
			 * hidden, no column of a higher number shows. */
			for (int i = 0; i < C_N; i++)
				for (int j = 0; j < C_N; j++)
					if (w[i] == 0 && w[j] > 0 && table[i].priority > 0)
						assert_true(table[j].priority <= table[i].priority);
		}
	}
}

static void test_layout_edges(void **state)
{
	(void)state;
	/* No flexible column: the spare cells stay unused. */
	static const struct column two[] = {{"A", 3, 5, 0, false, false},
	                                    {"B", 2, 4, 0, true, false}};
	int w[2];
	assert_int_equal(layout_columns(two, 2, 40, 2, w), 2);
	assert_int_equal(w[0], 5);
	assert_int_equal(w[1], 4);
	/* A want below min counts as min; a min below 1 as 1; negative gap 0. */
	static const struct column odd[] = {{"A", 4, 1, 0, false, false},
	                                    {"B", 0, 0, 0, false, true}};
	assert_int_equal(layout_columns(odd, 2, 10, -3, w), 2);
	assert_int_equal(w[0], 4);
	assert_int_equal(w[1], 6);
	/* Nothing to lay out. */
	assert_int_equal(layout_columns(two, 0, 80, 1, w), 0);
	/* The last of several flexible columns gets the rest. */
	static const struct column flex2[] = {
	    {"A", 2, 2, 0, false, true}, {"B", 2, 2, 0, false, true}, {"C", 2, 2, 1, false, false}};
	int w3[3];
	assert_int_equal(layout_columns(flex2, 3, 20, 1, w3), 3);
	assert_int_equal(w3[0], 2);
	assert_int_equal(w3[1], 14);
	assert_int_equal(w3[2], 2);
}

/* ---- fitting text ---- */

static void expect_fit(const char *s, int width, const char *want, size_t want_cols)
{
	char buf[256];
	size_t cols = fmt_fit(s, width, buf, sizeof(buf));
	if (strcmp(buf, want) != 0 || cols != want_cols)
		fail_msg("fmt_fit(\"%s\", %d) = \"%s\" (%zu columns), expected \"%s\" (%zu)", s,
		         width, buf, cols, want, want_cols);
}

static void test_fit_ascii(void **state)
{
	(void)state;
	expect_fit("", 5, "", 0);
	expect_fit("hello", 10, "hello", 5);
	expect_fit("hello", 5, "hello", 5);
	expect_fit("hello!", 5, "hell…", 5);
	expect_fit("hello world", 8, "hello w…", 8);
	expect_fit("hello", 1, "…", 1);
	expect_fit("hello", 0, "", 0);
	expect_fit("hello", -3, "", 0);
	/* Broken bytes and control characters never reach the terminal. */
	expect_fit("a\xff"
	           "b",
	           10, "a?b", 3);
	expect_fit("a\tb\n", 10, "a?b?", 4);
	expect_fit("\xe6\x97", 10, "??", 2); /* a cut-off sequence */
}

static void test_fit_wide(void **state)
{
	(void)state;
	/* CJK: two columns each. */
	expect_fit("日本語テキスト", 14, "日本語テキスト", 14);
	expect_fit("日本語テキスト", 20, "日本語テキスト", 14);
	expect_fit("日本語テキスト", 7, "日本語…", 7);
	/* A wide character never straddles the limit: one column unused. */
	expect_fit("日本語テキスト", 6, "日本…", 5);
	expect_fit("日本語", 2, "…", 1);
	expect_fit("a日本", 4, "a日…", 4);
	/* Emoji. */
	expect_fit("🙂🙂🙂", 6, "🙂🙂🙂", 6);
	expect_fit("🙂🙂🙂", 4, "🙂…", 3);
	expect_fit("ok 🙂 done", 6, "ok 🙂…", 6);
}

static void test_fit_combining(void **state)
{
	(void)state;
	/* "café" with a combining acute: 4 columns, 6 bytes. */
	expect_fit("cafe\xcc\x81", 4, "cafe\xcc\x81", 4);
	/* A mark stays with the character before it... */
	expect_fit("cafe\xcc\x81 au lait", 5, "cafe\xcc\x81…", 5);
	/* ...and goes with it when that character is cut. */
	expect_fit("cafe\xcc\x81 au lait", 4, "caf…", 4);
	/* Several marks on one letter. */
	expect_fit("a\xcc\x81\xcc\x82"
	           "bc",
	           2, "a\xcc\x81\xcc\x82…", 2);
	/* A zero-width joiner is zero width too. */
	expect_fit("x\xe2\x80\x8dy", 2, "x\xe2\x80\x8dy", 2);
}

static void test_fit_small_buffer(void **state)
{
	(void)state;
	char buf[8];
	/* The buffer, not the width, is the limit: cut to fit, "…" included. */
	assert_int_equal(fmt_fit("hello world", 20, buf, 6), 3);
	assert_string_equal(buf, "he…");
	assert_int_equal(fmt_fit("日本語", 10, buf, 8), 2 + 1);
	assert_string_equal(buf, "日…");
	/* Exactly enough room. */
	assert_int_equal(fmt_fit("日本", 10, buf, 7), 4);
	assert_string_equal(buf, "日本");
	/* No room for the ellipsis: a plain cut. */
	assert_int_equal(fmt_fit("hello", 3, buf, 3), 2);
	assert_string_equal(buf, "he");
	assert_int_equal(fmt_fit("hello", 3, buf, 1), 0);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(fmt_fit("hello", 3, buf, 0), 0);
	assert_int_equal(buf[0], 'x');
}

static void test_fit_c_locale(void **state)
{
	(void)state;
	/* Outside UTF-8 the ellipsis is "~" and non-ASCII bytes are "?". */
	assert_non_null(setlocale(LC_CTYPE, "C"));
	expect_fit("hello world", 8, "hello w~", 8);
	expect_fit("h\xc3\xa9", 8, "h??", 3);
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
}

static void fit_strips_bidi_overrides(void **state)
{
	(void)state;
	setlocale(LC_ALL, "C.UTF-8");
	char buf[64];
	/* U+202E RIGHT-TO-LEFT OVERRIDE and U+2066 LEFT-TO-RIGHT ISOLATE. */
	fmt_fit("a" "\xe2\x80\xae" "b" "\xe2\x81\xa6" "c", 10, buf, sizeof(buf));
	assert_string_equal(buf, "a?b?c");
}

/* Outside a UTF-8 locale the console's own characters become ASCII, so a
 * header is not a row of question marks. */
static void ascii_glyphs(void **state)
{
	(void)state;
	char buf[128];
	assert_int_equal(fmt_ascii(" tasker  Redis up │ PM2 7.0.4 │ exec 1 ", buf, sizeof(buf)),
			 strlen(" tasker  Redis up | PM2 7.0.4 | exec 1 "));
	assert_string_equal(buf, " tasker  Redis up | PM2 7.0.4 | exec 1 ");
	fmt_ascii("ID▲ NAME▼ ↺", buf, sizeof(buf));
	assert_string_equal(buf, "ID^ NAMEv R");
	fmt_ascii("✓ started  ✗ error  … waiting", buf, sizeof(buf));
	assert_string_equal(buf, "+ started  x error  ... waiting");
	fmt_ascii(" ↑↓ select  ↑ up  ↓ down  cluster×2  ── stdout ──  ▶ feed", buf,
		  sizeof(buf));
	assert_string_equal(buf, " Up/Dn select  Up up  Dn down  clusterx2  -- stdout --  > feed");
	/* Other bytes pass as they are (fmt_fit shows them as "?"). */
	fmt_ascii("caf\xc3\xa9", buf, sizeof(buf));
	assert_string_equal(buf, "caf\xc3\xa9");
	/* The buffer bounds it, and a replacement is never cut in half. */
	assert_int_equal(fmt_ascii("ab…", buf, 5), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(fmt_ascii("ab…", buf, 6), 5);
	assert_string_equal(buf, "ab...");
	assert_int_equal(fmt_ascii("abc", buf, 1), 0);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(fmt_ascii("abc", buf, 0), 0);
	assert_int_equal(buf[0], 'x');
	/* Through fmt_fit in the C locale: no question marks left. */
	assert_non_null(setlocale(LC_CTYPE, "C"));
	char ascii[128];
	fmt_ascii("│ exec 1 │ ✓ ↺ ▲", ascii, sizeof(ascii));
	fmt_fit(ascii, 40, buf, sizeof(buf));
	assert_null(strchr(buf, '?'));
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
}

int main(void)
{
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "format: the C.UTF-8 locale is missing\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fit_strips_bidi_overrides),
		cmocka_unit_test(test_bytes),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_cpu),
	    cmocka_unit_test(test_layout_table),
	    cmocka_unit_test(test_layout_never_exceeds),
	    cmocka_unit_test(test_layout_edges),
	    cmocka_unit_test(test_fit_ascii),
	    cmocka_unit_test(test_fit_wide),
	    cmocka_unit_test(test_fit_combining),
	    cmocka_unit_test(test_fit_small_buffer),
	    cmocka_unit_test(test_fit_c_locale),
	    cmocka_unit_test(ascii_glyphs),
	};
	UNIT_RUN("format", tests);
}
