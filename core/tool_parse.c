/*
 * tool_parse: `tasker parse LINE` prints the parse of a slash line as one
 * JSON object. No network; exit 2 on a parse error, with the line and a
 * caret under the column on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slash.h"
#include "tools.h"
#include "util.h"

static const char parse_help[] =
	"Usage: tasker parse [OPTIONS] LINE...\n"
	"       tasker parse -            (one line per parse from stdin)\n"
	"\n"
	"Parses a slash-command line with the k0mmand3r grammar (a compatible\n"
	"superset) and prints {\"verb\":...,\"params\":...,\"content\":...} on one line,\n"
	"with null exactly where the original grammar gives none. Several LINE\n"
	"arguments are joined with spaces, except that a word starting with /VERB\n"
	"begins another command (as in tasker send): one JSON line each.\n"
	"Nothing is sent anywhere.\n"
	"\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 parsed, 2 parse error or bad usage.\n"
	"Example: tasker parse '/start --task=api --command=\"node api.js\"'\n";

/* Prints the error with the line and a caret; the caret is placed by
 * character, which matches the column the parser counts. */
static void show_error(const char *line, size_t len, const struct slash_error *e)
{
	fprintf(stderr, "tasker parse: %s\n", e->message);
	if (memchr(line, '\n', len) != NULL || len > 200)
		return;
	fprintf(stderr, "  %.*s\n  ", (int)len, line);
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue; /* a continuation byte is part of the previous character */
		if (++col >= e->column)
			break;
		fputc(line[i] == '\t' ? '\t' : ' ', stderr);
	}
	fputs("^\n", stderr);
}

static int parse_one(const char *line, size_t len)
{
	struct slash_line parsed;
	struct slash_error e;
	if (slash_parse(line, len, &parsed, &e) < 0) {
		show_error(line, len, &e);
		return EXIT_USAGE;
	}
	char *json = slash_line_to_json(&parsed);
	printf("%s\n", json);
	free(json);
	slash_line_free(&parsed);
	return EXIT_OK;
}

int tool_parse(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct option *opts = config_options(own);
	int c, rc = EXIT_OK;
	while ((c = tools_getopt(cfg, argc, argv, "+h", opts, "parse")) != -1) {
		if (c == 'h') {
			fputs(parse_help, stdout);
			free(opts);
			return EXIT_OK;
		}
		free(opts);
		return EXIT_USAGE;
	}
	free(opts);
	if (cfg->env_error[0] != '\0') {
		fprintf(stderr, "tasker parse: %s\n", cfg->env_error);
		return EXIT_USAGE;
	}
	if (optind >= argc)
		return tools_usage_error("parse", "give a LINE to parse (or - for stdin)");

	if (optind == argc - 1 && strcmp(argv[optind], "-") == 0) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				n--;
			if (parse_one(line, (size_t)n) != EXIT_OK)
				rc = EXIT_USAGE;
		}
		free(line);
		return rc;
	}

	/* Join the words of each command back with spaces: `tasker parse
	 * /start --task=x` works unquoted as long as the shell left the words
	 * alone. A word starting with /VERB begins another command, as in
	 * `tasker send`: one JSON line each. */
	for (int first = optind; first < argc;) {
		int end = tools_command_end(argc, argv, first);
		char *joined = tools_join_args(end, argv, first);
		if (parse_one(joined, strlen(joined)) != EXIT_OK)
			rc = EXIT_USAGE;
		free(joined);
		first = end;
	}
	return rc;
}
