/*
 * slash: the k0mmand3r slash-command grammar, as a compatible superset
 * (see docs/grammar.md and shared/reference/k0mmand3r.md).
 *
 * A pure module: no IO, no clock, no globals. It turns a typed line into
 * verb / params / content, and splits command strings into argv with the
 * same quoting rules, so a value means the same thing wherever it is typed.
 */
#ifndef TASKER_SLASH_H
#define TASKER_SLASH_H

#include <stdbool.h>
#include <stddef.h>

struct slash_param {
	char *key;
	char *value;
};

/*
 * The parse of one line. NULL / has_params=false mean "none" exactly where
 * the original grammar gives none (null in JSON), which differs from empty:
 *   "/status"            verb "status", params none, content none
 *   "/verb --a=1"        params {a:1}, content ""
 *   "/status please"     params {}, content "please"
 *   "plain text"         verb none, params none, content "plain text"
 */
struct slash_line {
	char *verb;		   /* NULL: no verb */
	bool has_params;	   /* false: params is null */
	struct slash_param *params; /* in order of first appearance; last value wins */
	size_t nparams;
	char *content; /* NULL: no content */
};

/* A parse error: a sentence without trailing period, and the 1-based column
 * (in characters, not bytes) where the problem is. */
struct slash_error {
	size_t column;
	char message[160];
};

/*
 * Parses line[0..len). Returns 0 and fills *out (free with
 * slash_line_free), or -1 and fills *err (out is then empty).
 * NUL bytes and invalid UTF-8 are errors.
 */
int slash_parse(const char *line, size_t len, struct slash_line *out, struct slash_error *err);
void slash_line_free(struct slash_line *line);

/* Value of key, or NULL when absent. */
const char *slash_param_get(const struct slash_line *line, const char *key);

/*
 * Prints the parse as one JSON object {"verb":..,"params":..,"content":..}
 * with null where the grammar gives none. Returns a malloc'd string the
 * caller frees.
 */
char *slash_line_to_json(const struct slash_line *line);

/*
 * Splits a command string into argv like a shell would split words, but
 * with no expansion of any kind: whitespace separates words; "..." groups
 * with backslash escapes (\" \\ \n \t, other \x kept as is); '...' groups
 * literally; a backslash outside quotes escapes the next character; quotes
 * may appear anywhere in a word (--name="a b" gives --name=a b).
 * $, `, ;, |, &, >, < and * are ordinary characters.
 * Returns 0 and a NULL-terminated malloc'd argv (free with slash_argv_free)
 * and its count, or -1 with *err filled (unterminated quote, NUL byte).
 */
int slash_split_argv(const char *s, size_t len, char ***argv, size_t *argc,
		     struct slash_error *err);
void slash_argv_free(char **argv);

#endif
