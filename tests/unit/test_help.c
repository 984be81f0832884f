/*
 * Unit tests for tui/help.c: the README's key tables are the help box's
 * table, as they are (a key added to the console and to help.c but not to
 * README.md, or the other way round, fails here).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "help.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void readme_has_every_section(void **state)
{
	(void)state;
	char *md = help_markdown();
	const char *readme = slurp("README.md");
	assert_non_null(readme);
	/* Section by section: README may put prose between them. */
	int sections = 0;
	for (char *sec = md; sec != NULL && *sec != '\0';) {
		char *next = strstr(sec + 2, "\n\n**");
		if (next != NULL)
			*next = '\0';
		while (*sec == '\n')
			sec++;
		if (strstr(readme, sec) == NULL)
			fail_msg("README.md lacks this block of the help table (tui/help.c):\n%s", sec);
		sections++;
		sec = next != NULL ? next + 2 : NULL;
	}
	assert_true(sections >= 8);
	free(md);
}

/* The man page's key list, as one block. */
static void man_page_has_the_keys(void **state)
{
	(void)state;
	char *man = help_man();
	const char *page = slurp("docs/tasker.1");
	assert_non_null(page);
	if (strstr(page, man) == NULL)
		fail_msg("docs/tasker.1 lacks the help table (tui/help.c) as this block:\n%s", man);
	free(man);
}

static void markdown_rows(void **state)
{
	(void)state;
	char *md = help_markdown();
	/* Keys each in backticks; a sentence carried on stays in its row. */
	assert_non_null(strstr(md, "| `↑↓` `j` `k` | select a row (the feed focused: scroll it) |\n"));
	assert_non_null(strstr(md, "| `s` `r` `d` | stop, restart, delete: asks first, y goes on; "
				   "every instance of the name;"));
	assert_null(strstr(md, "How it works"));
	free(md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(readme_has_every_section),
	    cmocka_unit_test(man_page_has_the_keys),
	    cmocka_unit_test(markdown_rows),
	};
	UNIT_RUN("help", tests);
}
