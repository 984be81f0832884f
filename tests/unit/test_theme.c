/*
 * Unit tests for tui/theme.c: the shipped theme files (read from themes/
 * relative to the repository root, where the tests run), the file grammar
 * and its error messages with line numbers, the search path (through a
 * private XDG_CONFIG_HOME and HOME under /tmp), name validation, listing,
 * and the monochrome fallback.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "theme.h"
#include "util.h"

/* ---- helpers ---- */

/* Reads a whole file into a malloc'd string; fails the test if it cannot. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run the tests from the repository root)", path);
	char *buf = xmalloc(65536);
	size_t n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* A theme whose every style is a value no file can produce, so a test can
 * tell which elements a text set. */
static void sentinel(struct theme *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "sentinel");
	for (int e = 0; e < TH_COUNT; e++)
		t->el[e] = (struct theme_style){999, 999, 0xffffu};
}

static void parse_ok(const char *text, struct theme *t)
{
	char err[256] = "";
	if (theme_parse(text, strlen(text), "test.theme", t, err, sizeof(err)) != 0)
		fail_msg("parse of \"%s\" failed: %s", text, err);
}

/* Expects text to be refused with exactly the message want, and *t left
 * as it was. */
static void parse_err(const char *text, const char *want)
{
	struct theme t, before;
	theme_builtin(&t);
	before = t;
	char err[256] = "";
	if (theme_parse(text, strlen(text), "themes/x.theme", &t, err, sizeof(err)) != -1)
		fail_msg("\"%s\" was accepted, expected \"%s\"", text, want);
	if (strcmp(err, want) != 0)
		fail_msg("error for \"%s\" is \"%s\", expected \"%s\"", text, err, want);
	assert_memory_equal(&t, &before, sizeof(t));
}

static void assert_style(const struct theme *t, enum theme_elem e, int fg, int bg, unsigned attrs)
{
	const struct theme_style *s = &t->el[e];
	if (s->fg != fg || s->bg != bg || s->attrs != attrs)
		fail_msg("%s is {%d, %d, 0x%x}, expected {%d, %d, 0x%x}", theme_elem_name(e), s->fg,
		         s->bg, s->attrs, fg, bg, attrs);
}

static void assert_themes_equal(const struct theme *a, const struct theme *b)
{
	for (int e = 0; e < TH_COUNT; e++)
		assert_style(a, (enum theme_elem)e, b->el[e].fg, b->el[e].bg, b->el[e].attrs);
}

/* Loads a shipped file on top of the sentinel, failing unless it parses
 * and sets every element. */
static void load_shipped(const char *name, struct theme *t)
{
	char path[128];
	snprintf(path, sizeof(path), "themes/%s.theme", name);
	size_t len;
	char *text = slurp(path, &len);
	char err[256] = "";
	sentinel(t);
	if (theme_parse(text, len, path, t, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free(text);
	for (int e = 0; e < TH_COUNT; e++)
		if (t->el[e].fg == 999)
			fail_msg("%s does not set %s", path, theme_elem_name((enum theme_elem)e));
	assert_string_equal(t->name, name);
}

static bool status_attrs_distinct(const struct theme *t)
{
	for (int i = TH_STATUS_ONLINE; i <= TH_STATUS_OTHER; i++)
		for (int j = i + 1; j <= TH_STATUS_OTHER; j++)
			if (t->el[i].attrs == t->el[j].attrs)
				return false;
	return true;
}

/* A private directory under /tmp for the search-path tests; rm -r at the end. */
struct sandbox {
	char root[64];
	char *saved_xdg, *saved_home;
};

static void sandbox_open(struct sandbox *sb)
{
	snprintf(sb->root, sizeof(sb->root), "/tmp/tasker-theme-XXXXXX");
	assert_non_null(mkdtemp(sb->root));
	const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
	sb->saved_xdg = x ? xstrdup(x) : NULL;
	sb->saved_home = h ? xstrdup(h) : NULL;
}

static void sandbox_close(struct sandbox *sb)
{
	char *cmd = xasprintf("rm -rf '%s'", sb->root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	if (sb->saved_xdg)
		setenv("XDG_CONFIG_HOME", sb->saved_xdg, 1);
	else
		unsetenv("XDG_CONFIG_HOME");
	if (sb->saved_home)
		setenv("HOME", sb->saved_home, 1);
	else
		unsetenv("HOME");
	free(sb->saved_xdg);
	free(sb->saved_home);
}

/* Writes text to root/rel, creating the directories on the way. */
static void sandbox_write(struct sandbox *sb, const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", sb->root, rel);
	for (char *p = path + strlen(sb->root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

/* ---- the shipped files ---- */

static void test_default_file_is_builtin(void **state)
{
	(void)state;
	struct theme t, b;
	load_shipped("default", &t);
	theme_builtin(&b);
	assert_themes_equal(&t, &b);
	assert_string_equal(b.name, "default");
}

static void test_light_file(void **state)
{
	(void)state;
	struct theme t;
	load_shipped("light", &t);
	/* No white or yellow (plain or bright) text on the terminal's own,
	 * presumably light, background. */
	for (int e = 0; e < TH_COUNT; e++) {
		short fg = t.el[e].fg;
		if (t.el[e].bg == -1 && (fg == 7 || fg == 15 || fg == 3 || fg == 11))
			fail_msg("light: %s has fg %d on the default background",
			         theme_elem_name((enum theme_elem)e), fg);
	}
}

static void test_mono_file(void **state)
{
	(void)state;
	struct theme t, b;
	load_shipped("mono", &t);
	for (int e = 0; e < TH_COUNT; e++) {
		assert_int_equal(t.el[e].fg, -1);
		assert_int_equal(t.el[e].bg, -1);
	}
	assert_true(status_attrs_distinct(&t));
	/* mono.theme is what NO_COLOR does to the default theme. */
	theme_builtin(&b);
	theme_monochrome(&b);
	assert_themes_equal(&t, &b);
}

static void test_high_contrast_file(void **state)
{
	(void)state;
	struct theme t;
	load_shipped("high-contrast", &t);
	/* Every element sets both colours so it does not depend on the
	 * terminal's own, and every status is bold. */
	for (int e = 0; e < TH_COUNT; e++) {
		assert_true(t.el[e].fg >= 0);
		assert_true(t.el[e].bg >= 0);
	}
	for (int e = TH_STATUS_ONLINE; e <= TH_STATUS_OTHER; e++)
		if (e != TH_STATUS_STOPPED)
			assert_true(t.el[e].attrs & THEME_ATTR_BOLD);
	assert_int_equal(t.el[TH_STATUS_ONLINE].fg, 10); /* bright-green */
}

/* ---- the grammar ---- */

static void test_elem_names(void **state)
{
	(void)state;
	for (int e = 0; e < TH_COUNT; e++) {
		const char *n = theme_elem_name((enum theme_elem)e);
		assert_true(strlen(n) > 0);
		for (const char *p = n; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
		for (int f = e + 1; f < TH_COUNT; f++)
			assert_string_not_equal(n, theme_elem_name((enum theme_elem)f));
	}
	assert_string_equal(theme_elem_name(TH_ROW_SELECTED), "row-selected");
	assert_string_equal(theme_elem_name(TH_STATUS_LAUNCHING), "status-launching");
	assert_string_equal(theme_elem_name(TH_COUNT), "?");
}

static void test_comments_and_blanks(void **state)
{
	(void)state;
	struct theme t;
	theme_builtin(&t);
	parse_ok("# a comment\n"
	         "\n"
	         "   \t  \n"
	         "  # indented comment\n"
	         "row red blue bold # trailing comment\n"
	         "header\tgreen\tdefault\r\n" /* tabs and CRLF */
	         "hint 1 2",                  /* no final newline */
	         &t);
	assert_style(&t, TH_ROW, 1, 4, THEME_ATTR_BOLD);
	assert_style(&t, TH_HEADER, 2, -1, 0);
	assert_style(&t, TH_HINT, 1, 2, 0);
	/* An empty text changes nothing. */
	struct theme b;
	theme_builtin(&b);
	parse_ok("", &b);
	theme_builtin(&t);
	assert_themes_equal(&t, &b);
}

static void test_override_order(void **state)
{
	(void)state;
	struct theme t, b;
	theme_builtin(&t);
	theme_builtin(&b);
	parse_ok("row red default bold\nrow green default\n", &t);
	assert_style(&t, TH_ROW, 2, -1, 0);
	/* Elements the text does not mention keep the value underneath. */
	for (int e = 0; e < TH_COUNT; e++)
		if (e != TH_ROW)
			assert_memory_equal(&t.el[e], &b.el[e], sizeof(t.el[e]));
	/* A second text applies on top of the first. */
	parse_ok("header blue default\n", &t);
	assert_style(&t, TH_ROW, 2, -1, 0);
	assert_style(&t, TH_HEADER, 4, -1, 0);
	assert_string_equal(t.name, "default");
}

static void test_colours(void **state)
{
	(void)state;
	static const char *const names[8] = {"black", "red",     "green", "yellow",
	                                     "blue",  "magenta", "cyan",  "white"};
	struct theme t;
	for (int c = 0; c < 8; c++) {
		char line[96];
		theme_builtin(&t);
		snprintf(line, sizeof(line), "row %s bright-%s", names[c], names[c]);
		parse_ok(line, &t);
		assert_style(&t, TH_ROW, c, c + 8, 0);
	}
	theme_builtin(&t);
	parse_ok("row 0 255\nhint 007 default\nborder DEFAULT Bright-Red", &t);
	assert_style(&t, TH_ROW, 0, 255, 0);
	assert_style(&t, TH_HINT, 7, -1, 0);
	assert_style(&t, TH_BORDER, -1, 9, 0);

	parse_err("row 256 default", "themes/x.theme line 1: colour 256 out of range (0..255)");
	parse_err("row default 99999999999999999999",
	          "themes/x.theme line 1: colour 99999999999999999999 out of range (0..255)");
	parse_err("row -1 default", "themes/x.theme line 1: unknown colour '-1'");
	parse_err("row bright-default default",
	          "themes/x.theme line 1: unknown colour 'bright-default'");
	parse_err("row bright- default", "themes/x.theme line 1: unknown colour 'bright-'");
	parse_err("row 0x10 default", "themes/x.theme line 1: unknown colour '0x10'");
	parse_err("row grey default", "themes/x.theme line 1: unknown colour 'grey'");
}

static void test_attributes(void **state)
{
	(void)state;
	struct theme t;
	theme_builtin(&t);
	parse_ok("row default default bold,dim,reverse,underline,standout,italic,blink", &t);
	assert_style(&t, TH_ROW, -1, -1,
	             THEME_ATTR_BOLD | THEME_ATTR_DIM | THEME_ATTR_REVERSE | THEME_ATTR_UNDERLINE |
	                 THEME_ATTR_STANDOUT | THEME_ATTR_ITALIC | THEME_ATTR_BLINK);
	/* Blanks after commas, blank-separated lists and any case are fine. */
	parse_ok("row default default bold, Underline REVERSE", &t);
	assert_style(&t, TH_ROW, -1, -1,
	             THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE | THEME_ATTR_REVERSE);
	/* "none", and no attributes at all, both clear them. */
	parse_ok("row default default none\nheader red blue", &t);
	assert_style(&t, TH_ROW, -1, -1, 0);
	assert_style(&t, TH_HEADER, 1, 4, 0);
	parse_err("row default default bold,none",
	          "themes/x.theme line 1: 'none' cannot be combined with other attributes");
	parse_err("row default default bold,shiny",
	          "themes/x.theme line 1: unknown attribute 'shiny'");
}

static void test_errors_with_line_numbers(void **state)
{
	(void)state;
	parse_err("# my theme\n\nrow red default\n\n\n\nheader purpel default\n",
	          "themes/x.theme line 7: unknown colour 'purpel'");
	parse_err("row red default\nrows red default\n",
	          "themes/x.theme line 2: unknown element 'rows'");
	parse_err("row red\n", "themes/x.theme line 1: 'row' needs a background colour");
	parse_err("\nrow\n",
	          "themes/x.theme line 2: 'row' needs a foreground and a background colour");
	parse_err("row red\r\n", "themes/x.theme line 1: 'row' needs a background colour");
	parse_err("row a b c d e f g h i j k l m n o p q",
	          "themes/x.theme line 1: unknown colour 'a'");
	parse_err("row 1 2 bold bold bold bold bold bold bold bold bold bold bold bold bold bold",
	          "themes/x.theme line 1: too many fields");
	/* The name directive: first, and not empty. */
	parse_err("row red default\nname late\n",
	          "themes/x.theme line 2: 'name' must come before the elements");
	parse_err("name   \n", "themes/x.theme line 1: 'name' needs a theme name");
	/* A token is shown printable and cut short. */
	parse_err("row \x01\x7f default", "themes/x.theme line 1: unknown colour '?\?'");
	parse_err("row aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa default",
	          "themes/x.theme line 1: unknown colour "
	          "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");

	/* A NUL byte inside the text. */
	struct theme t;
	theme_builtin(&t);
	char err[128];
	static const char nul[] = "row red default\nhint\0 red default\n";
	assert_int_equal(theme_parse(nul, sizeof(nul) - 1, "n.theme", &t, err, sizeof(err)), -1);
	assert_string_equal(err, "n.theme line 2: NUL byte");
	/* No source name: "theme". */
	assert_int_equal(theme_parse("oops", 4, NULL, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "theme line 1: unknown element 'oops'");
	/* A tiny error buffer is still terminated. */
	char small[8];
	assert_int_equal(theme_parse("oops", 4, NULL, &t, small, sizeof(small)), -1);
	assert_string_equal(small, "theme l");
}

static void test_name_directive(void **state)
{
	(void)state;
	struct theme t;
	theme_builtin(&t);
	parse_ok("# comment first is fine\n\nname  Solarized dark  \nrow red default\n", &t);
	assert_string_equal(t.name, "Solarized dark");
	assert_style(&t, TH_ROW, 1, -1, 0);
	parse_ok("name Thème # with a comment\n", &t);
	assert_string_equal(t.name, "Thème");
	parse_err("name \xff\xfe\n", "themes/x.theme line 1: the theme name is not valid UTF-8");
	parse_err("name "
	          "0123456789012345678901234567890123456789012345678901234567890123\n",
	          "themes/x.theme line 1: theme name longer than 63 bytes");
}

/* ---- monochrome ---- */

static void test_monochrome(void **state)
{
	(void)state;
	static const char *const shipped[] = {"default", "light", "mono", "high-contrast"};
	for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
		struct theme t;
		load_shipped(shipped[i], &t);
		theme_monochrome(&t);
		for (int e = 0; e < TH_COUNT; e++) {
			assert_int_equal(t.el[e].fg, -1);
			assert_int_equal(t.el[e].bg, -1);
		}
		if (!status_attrs_distinct(&t))
			fail_msg("%s: statuses alike without colour", shipped[i]);
		assert_int_not_equal(t.el[TH_ROW].attrs, t.el[TH_ROW_SELECTED].attrs);
		assert_int_not_equal(t.el[TH_HEADER].attrs, t.el[TH_HEADER_ALERT].attrs);
		assert_true(t.el[TH_STATUS_ERRORED].attrs & THEME_ATTR_REVERSE);
	}

	/* The theme's own attributes are kept where they do no harm. */
	struct theme t;
	theme_builtin(&t);
	parse_ok("row red blue italic\nstatus-online green default underline", &t);
	theme_monochrome(&t);
	assert_style(&t, TH_ROW, -1, -1, THEME_ATTR_ITALIC);
	assert_style(&t, TH_STATUS_ONLINE, -1, -1, THEME_ATTR_BOLD | THEME_ATTR_UNDERLINE);
	assert_style(&t, TH_STATUS_ERRORED, -1, -1, THEME_ATTR_BOLD | THEME_ATTR_REVERSE);

	/* A theme that told statuses apart by colour alone gets the fixed
	 * attributes. */
	theme_builtin(&t);
	parse_ok("status-online green default bold\n"
	         "status-stopped white default bold\n"
	         "status-errored red default bold\n"
	         "status-launching yellow default bold\n"
	         "status-other blue default bold\n"
	         "row default default\n"
	         "row-selected default blue\n",
	         &t);
	theme_monochrome(&t);
	assert_true(status_attrs_distinct(&t));
	assert_style(&t, TH_STATUS_ONLINE, -1, -1, THEME_ATTR_BOLD);
	assert_style(&t, TH_STATUS_STOPPED, -1, -1, THEME_ATTR_DIM);
	assert_style(&t, TH_STATUS_ERRORED, -1, -1, THEME_ATTR_BOLD | THEME_ATTR_REVERSE);
	assert_style(&t, TH_STATUS_LAUNCHING, -1, -1, THEME_ATTR_UNDERLINE);
	assert_style(&t, TH_STATUS_OTHER, -1, -1, 0);
	assert_style(&t, TH_ROW_SELECTED, -1, -1, THEME_ATTR_REVERSE);
}

/* ---- loading and the search path ---- */

static void test_load_rejects_bad_names(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "../x",  "a/b",     "/etc/passwd",
	    "",      "x.theme", "two words",
	    "naïve", ".",       "0123456789012345678901234567890123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct theme t, b;
		char err[256] = "";
		memset(&t, 0x55, sizeof(t));
		assert_int_equal(theme_load(bad[i], &t, err, sizeof(err)), -1);
		if (strstr(err, "invalid theme name") == NULL)
			fail_msg("theme_load(\"%s\"): \"%s\"", bad[i], err);
		theme_builtin(&b);
		assert_memory_equal(&t, &b, sizeof(t));
	}
	/* The longest allowed name is merely not found. */
	struct theme t;
	char err[512];
	assert_int_equal(
	    theme_load("012345678901234567890123456789012345678901234567890123456789012", &t, err,
	               sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "not found"));
}

static void test_load_shipped_from_cwd(void **state)
{
	(void)state;
	struct sandbox sb;
	sandbox_open(&sb);
	setenv("XDG_CONFIG_HOME", sb.root, 1); /* empty: ./themes is found */
	struct theme t, want;
	char err[256] = "";
	assert_int_equal(theme_load("light", &t, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	load_shipped("light", &want);
	assert_themes_equal(&t, &want);
	assert_string_equal(t.name, "light");
	assert_int_equal(theme_load("default", &t, err, sizeof(err)), 0);
	theme_builtin(&want);
	assert_themes_equal(&t, &want);
	sandbox_close(&sb);
}

static void test_load_via_xdg(void **state)
{
	(void)state;
	struct sandbox sb;
	sandbox_open(&sb);
	setenv("XDG_CONFIG_HOME", sb.root, 1);
	sandbox_write(&sb, "tasker/themes/mine.theme", "row red default\n");
	/* A user file of a shipped name comes first. */
	sandbox_write(&sb, "tasker/themes/light.theme", "name my light\nrow blue default\n");
	sandbox_write(&sb, "tasker/themes/broken.theme", "row red default\nhint red\n");
	sandbox_write(&sb, "tasker/themes/not a name.theme", "");
	sandbox_write(&sb, "tasker/themes/notes.txt", "");
	char *dir = xasprintf("%s/tasker/themes/dir.theme", sb.root);
	assert_int_equal(mkdir(dir, 0755), 0);
	free(dir);

	struct theme t, b;
	char err[512] = "";
	theme_builtin(&b);
	assert_int_equal(theme_load("mine", &t, err, sizeof(err)), 0);
	assert_string_equal(t.name, "mine");
	assert_style(&t, TH_ROW, 1, -1, 0);
	assert_style(&t, TH_HEADER, b.el[TH_HEADER].fg, b.el[TH_HEADER].bg, b.el[TH_HEADER].attrs);

	assert_int_equal(theme_load("light", &t, err, sizeof(err)), 0);
	assert_string_equal(t.name, "my light");
	assert_style(&t, TH_ROW, 4, -1, 0);

	/* A broken file: the built-in default and the file and line. */
	memset(&t, 0, sizeof(t));
	assert_int_equal(theme_load("broken", &t, err, sizeof(err)), -1);
	char *want = xasprintf("%s/tasker/themes/broken.theme line 2: 'hint' needs a background "
	                       "colour",
	                       sb.root);
	assert_string_equal(err, want);
	free(want);
	assert_memory_equal(&t, &b, sizeof(t));

	assert_int_equal(theme_load("dir", &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dir.theme is not a regular file"));
	assert_memory_equal(&t, &b, sizeof(t));

	/* Not found: every place searched is named. */
	assert_int_equal(theme_load("nosuch", &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "theme 'nosuch' not found"));
	char *xdg = xasprintf("%s/tasker/themes", sb.root);
	assert_non_null(strstr(err, xdg));
	free(xdg);
	assert_non_null(strstr(err, TASKER_SHAREDIR "/themes"));
	assert_non_null(strstr(err, "./themes"));
	assert_memory_equal(&t, &b, sizeof(t));

	/* A FIFO does not hang the load. */
	char *fifo = xasprintf("%s/tasker/themes/fifo.theme", sb.root);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	free(fifo);
	assert_int_equal(theme_load("fifo", &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "fifo.theme is not a regular file"));

	/* The list: shipped, the user's, "default"; sorted, unique, valid
	 * names of regular files only. */
	char **names = NULL;
	size_t n = theme_list(&names);
	static const char *const expect[] = {"broken", "default", "high-contrast",
	                                     "light",  "mine",    "mono"};
	for (size_t i = 0; i + 1 < n; i++)
		assert_true(strcmp(names[i], names[i + 1]) < 0);
	for (size_t k = 0; k < sizeof(expect) / sizeof(expect[0]); k++) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], expect[k]) == 0)
				found = true;
		if (!found)
			fail_msg("theme_list lacks %s", expect[k]);
	}
	for (size_t i = 0; i < n; i++) {
		assert_null(strchr(names[i], ' '));
		assert_string_not_equal(names[i], "dir");
		assert_string_not_equal(names[i], "fifo");
	}
	theme_list_free(names, n);
	sandbox_close(&sb);
}

static void test_load_via_home(void **state)
{
	(void)state;
	struct sandbox sb;
	sandbox_open(&sb);
	/* A relative XDG_CONFIG_HOME is ignored, as the XDG spec says. */
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	setenv("HOME", sb.root, 1);
	sandbox_write(&sb, ".config/tasker/themes/homey.theme", "hint green default\n");
	struct theme t;
	char err[512] = "";
	assert_int_equal(theme_load("homey", &t, err, sizeof(err)), 0);
	assert_style(&t, TH_HINT, 2, -1, 0);
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(theme_load("homey", &t, err, sizeof(err)), 0);
	sandbox_close(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_file_is_builtin),
	    cmocka_unit_test(test_light_file),
	    cmocka_unit_test(test_mono_file),
	    cmocka_unit_test(test_high_contrast_file),
	    cmocka_unit_test(test_elem_names),
	    cmocka_unit_test(test_comments_and_blanks),
	    cmocka_unit_test(test_override_order),
	    cmocka_unit_test(test_colours),
	    cmocka_unit_test(test_attributes),
	    cmocka_unit_test(test_errors_with_line_numbers),
	    cmocka_unit_test(test_name_directive),
	    cmocka_unit_test(test_monochrome),
	    cmocka_unit_test(test_load_rejects_bad_names),
	    cmocka_unit_test(test_load_shipped_from_cwd),
	    cmocka_unit_test(test_load_via_xdg),
	    cmocka_unit_test(test_load_via_home),
	};
	UNIT_RUN("theme", tests);
}
