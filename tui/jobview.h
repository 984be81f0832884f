/*
 * jobview: the console's job view (J, /jobs): the job run records the job
 * runner keeps in Redis (b00t:{tasker}:job:<job>, the job state record of
 * docs/protocol.md "Job state records"), listed on the left, the selected
 * job's steps on the right in their order (level), with state, attempt,
 * duration and dependencies, coloured by state through the theme
 * (job-pending ... job-rollback). Read with SCAN and MGET on the console's
 * own Redis connection every second, and at once when a job_step or
 * job_status message passes on the status channel.
 *
 * Records are untrusted: a malformed one is listed with an error line,
 * never a crash; every text goes through text_escape().
 */
#ifndef TASKER_TUI_JOBVIEW_H
#define TASKER_TUI_JOBVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBVIEW_PREFIX "b00t:{tasker}:job:"
#define JOBVIEW_MAX_JOBS 200
#define JOBVIEW_MAX_STEPS 200

struct app;

struct job_step_row {
	char name[96], state[16], kind[16], task[96], deps[200];
	long attempt, level;
	int64_t started_ms, ended_ms; /* 0: not known */
	bool has_exit;
	long exit_code;
	char signal[24];
	bool rollback;
};

struct job_rec {
	char name[130]; /* from the key */
	bool ok;        /* false: err says why the record is unreadable */
	char err[200];
	char job[130], status[16], mode[16], run_id[80], node[80];
	int64_t started_ms, ended_ms;
	struct job_step_row *steps; /* steps by level (stable), then rollback */
	size_t nsteps;
};

/* Pure: parses one record (name: the key's tail) into *out; never fails
 * hard (out->ok false with err). Free with job_rec_free(). */
void job_rec_parse(const char *name, const char *json, size_t len, struct job_rec *out);
void job_rec_free(struct job_rec *r);

/* Pure: s cut to width terminal columns (fmt_fit: never mid-character)
 * and padded with blanks to exactly width columns. */
void job_fit_pad(const char *s, int width, char *buf, size_t size);
/* Pure: one step's line of the steps pane (LVL STEP STATE TRY TOOK
 * DEPENDS ON), the name in a column of 20 terminal columns. */
void job_step_line(const struct job_step_row *s, const char *took_text, char *buf, size_t size);
/* Pure: the first job the list shows, so that the selection sel (-1:
 * none) is on screen: top moved as little as possible, never past the
 * last page of n jobs in rows lines. */
size_t job_list_top(size_t top, long sel, size_t n, size_t rows);

void jobview_start(struct app *app);
/* After bus_free(). */
void jobview_free(struct app *app);
/* J or /jobs. */
void jobview_open(struct app *app);
void jobview_key(struct app *app, int key);
/* A status message of type type went by: job_step and job_status re-read. */
void jobview_message(struct app *app, const char *type);
void jobview_draw(struct app *app);

#endif
