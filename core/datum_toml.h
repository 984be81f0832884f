/*
 * datum_toml: reads a b00t datum file (TOML, `<name>.<type>.toml`, see
 * docs/protocol.md "Datums") with toml++ and gives what a start needs:
 * name, type, command or script, args, env, cwd. The C interface of
 * core/datum_toml.cpp; no exception crosses it.
 *
 * Lenient about keys it does not use (upstream datums carry many: hint,
 * aliases, usage, ...), strict about the ones it does: a wrong type is an
 * error with file:line:col. Broken TOML is an error with file:line:col and
 * toml++'s own words. Nothing is half-read: on error *out is empty.
 */
#ifndef TASKER_DATUM_TOML_H
#define TASKER_DATUM_TOML_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest datum file read. */
#define DATUM_TOML_MAX_BYTES (1 << 20)

struct datum_env {
	char *key;
	char *value;
};

struct datum {
	char *name;    /* [b00t].name; NULL when absent */
	char *type;    /* [b00t].type; NULL when absent */
	char *command; /* [b00t].command, else [b00t].script; NULL: neither */
	char **args;   /* [b00t].args */
	size_t nargs;
	struct datum_env *env; /* top-level [env], then [b00t].env over it */
	size_t nenv;
	char *cwd; /* [b00t].cwd; NULL when absent */
	/* [b00t].depends_on: names of datums (or tasks) it needs running */
	char **depends_on;
	size_t ndeps;
};

/*
 * Reads the datum at path into *out. Returns 0, or -1 with a sentence in
 * err ("FILE:LINE:COL: what is wrong", or "FILE: why"); *out is then empty.
 */
int datum_toml_load_file(const char *path, struct datum *out, char *err, size_t errlen);
/* The same for text[0..len); source names it in errors. */
int datum_toml_load_text(const char *text, size_t len, const char *source, struct datum *out,
                         char *err, size_t errlen);
void datum_free(struct datum *d);

#ifdef __cplusplus
}
#endif

#endif
