/*
 * console: placeholder until the console issue lands; it says so plainly.
 */
#include "console.h"

#include <stdio.h>

const struct option console_options[] = {
	{"local", no_argument, NULL, 'L'},
	{"theme", required_argument, NULL, 'T'},
	{"interval", required_argument, NULL, 'I'},
	{NULL, 0, NULL, 0},
};

int console_main(struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "tasker: the console is not built yet; use 'tasker watch' and 'tasker send'\n");
	return EXIT_FAIL;
}
