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

#include <stdbool.h>
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

/* --- job datums (type "job", docs/protocol.md "Jobs") ------------------- */

/* The most steps (and rollback steps) a job may have. */
#define JOB_MAX_STEPS 64
/* The longest timeout_ms a step may set: one day. */
#define JOB_MAX_TIMEOUT_MS 86400000L
/* The most times retry_failed_steps may run a failed step again. */
#define JOB_MAX_RETRIES 10

enum job_mode { JOB_MODE_SEQUENTIAL, JOB_MODE_PARALLEL, JOB_MODE_DAG };
enum job_when { JOB_WHEN_ON_SUCCESS, JOB_WHEN_ALWAYS, JOB_WHEN_ON_FAILURE, JOB_WHEN_ON_PREVIOUS };
enum job_step_kind { JOB_STEP_BASH, JOB_STEP_DATUM };

struct job_step {
	char *name;
	char **depends_on; /* step names as written (checked by job_plan.c) */
	size_t ndeps;
	enum job_when when;	/* condition.when; on_success when absent */
	enum job_step_kind kind;
	char *command;		/* bash: the command line (trusted: the file is the host's) */
	char *cwd;		/* bash: NULL when absent */
	long timeout_ms;	/* 0: none */
	struct datum_env *env; /* bash: task.env */
	size_t nenv;
	char *datum;		/* datum: the datum reference (NAME.TYPE) */
	char **args;		/* datum: task.args */
	size_t nargs;
};

struct job_def {
	char *name; /* [b00t].name; NULL when absent */
	char *description; /* [b00t.job].description, else [b00t].hint; NULL */
	enum job_mode mode;
	bool continue_on_failure;
	int retry_failed_steps;
	bool rollback_on_failure;
	struct datum_env *env; /* [b00t.job].env */
	size_t nenv;
	struct job_step *steps; /* [[b00t.job.steps]], in file order */
	size_t nsteps;
	struct job_step *rollback; /* [[b00t.job.rollback]] */
	size_t nrollback;
};

/*
 * Reads a job datum (b00t.type "job" or absent) into *out: every field
 * above type-checked with file:line:col; a step type other than bash and
 * datum refused by name. Returns 0, or -1 with a sentence in err (*out is
 * then empty). The graph (names, dependencies, cycles) is job_plan.c's.
 */
int job_toml_load_file(const char *path, struct job_def *out, char *err, size_t errlen);
int job_toml_load_text(const char *text, size_t len, const char *source, struct job_def *out,
                       char *err, size_t errlen);
void job_def_free(struct job_def *d);

#ifdef __cplusplus
}
#endif

#endif
