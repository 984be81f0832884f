/*
 * tool_exec / tool_ls: placeholders until the executor issue lands.
 */
#include <stdio.h>

#include "tools.h"

int tool_exec(struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "tasker exec: not built yet\n");
	return EXIT_FAIL;
}

int tool_ls(struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	fprintf(stderr, "tasker ls: not built yet\n");
	return EXIT_FAIL;
}
