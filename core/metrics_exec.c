/*
 * metrics_exec: see metrics_exec.h. Owns the executor's registry and the
 * copy of the last listing it keeps for scrapes.
 *
 * Must not: call PM2 or Redis, or let an untrusted word (a verb from the
 * wire) become a label value: verbs and outcomes are folded into a small
 * fixed set, so a flood of garbage cannot grow the series without bound.
 */
#include "metrics_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include "executor_int.h"
#include "exec_fleet_int.h"
#include "pm2.h"
#include "util.h"

struct metrics_exec {
	struct metrics *reg;
	char *node;
	/* Per task, rebuilt from each listing. */
	struct metrics_family *t_state, *t_restarts, *t_cpu, *t_cpu_s, *t_mem, *t_start;
	/* Per executor. */
	struct metrics_family *commands, *latency;
	struct metrics_series *in_flight, *pending, *redelivered, *expired, *policy, *reconnects,
		*pm2_errors, *tasks, *listed_at;
};

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					0.1,   0.25,   0.5,   1,    2.5,   5,    10};

/* PM2's states as label values (snake_case, one word each). */
static const struct {
	enum pm2_status st;
	const char *label;
} states[] = {
	{PM2_ST_ONLINE, "online"},	 {PM2_ST_STOPPING, "stopping"},
	{PM2_ST_STOPPED, "stopped"},	 {PM2_ST_LAUNCHING, "launching"},
	{PM2_ST_ERRORED, "errored"},	 {PM2_ST_WAITING_RESTART, "waiting_restart"},
	{PM2_ST_ONE_LAUNCH, "one_launch"}, {PM2_ST_UNKNOWN, "unknown"},
};

static struct metrics_series *single(struct metrics *reg, const char *name,
				     enum metrics_type type, const char *unit, const char *help)
{
	struct metrics_family *f = metrics_family_add(reg, name, type, unit, help, NULL, 0);
	return metrics_series(f, NULL, 0);
}

struct metrics_exec *metrics_exec_new(const char *node)
{
	struct metrics_exec *me = xcalloc(1, sizeof(*me));
	struct metrics *r = me->reg = metrics_new();
	me->node = xstrdup(node);
	struct metrics_family *build =
		metrics_family_add(r, "tasker_build", METRICS_INFO, NULL,
				   "The tasker version this executor runs (value 1).", NULL, 0);
	const char *bl[] = {"node", node, "version", TASKER_VERSION};
	metrics_series(build, bl, 2);
	me->t_state = metrics_family_add(
		r, "tasker_task_state", METRICS_GAUGE, NULL,
		"PM2's state of the task: 1 for the current state, 0 for the others.", NULL, 0);
	me->t_restarts = metrics_family_add(
		r, "tasker_task_restarts", METRICS_COUNTER, NULL,
		"Restarts of the task as PM2 counts them (reset when the task is deleted).", NULL, 0);
	me->t_cpu = metrics_family_add(
		r, "tasker_task_cpu_usage_ratio", METRICS_GAUGE, "ratio",
		"CPU use of the task's main process as PM2 last sampled it, as a ratio of one "
		"core (PM2 reports a percentage, not CPU seconds).",
		NULL, 0);
	me->t_cpu_s = metrics_family_add(
		r, "tasker_task_cpu_seconds", METRICS_COUNTER, "seconds",
		"CPU time (user + system) of the task's main process, read from /proc at the "
		"last listing (absent while it has no process).",
		NULL, 0);
	me->t_mem = metrics_family_add(r, "tasker_task_memory_bytes", METRICS_GAUGE, "bytes",
				       "Resident memory of the task's main process, as PM2 "
				       "last sampled it.",
				       NULL, 0);
	me->t_start = metrics_family_add(r, "tasker_task_start_time_seconds", METRICS_GAUGE,
					 "seconds",
					 "When the task's current process started, in seconds "
					 "since the epoch (absent while it has none).",
					 NULL, 0);
	me->tasks = single(r, "tasker_tasks", METRICS_GAUGE, NULL,
			   "Tasks in the last PM2 listing.");
	me->listed_at = single(r, "tasker_pm2_listing_timestamp_seconds", METRICS_GAUGE,
			       "seconds",
			       "When the last PM2 listing (the one the task series show) came "
			       "in, in seconds since the epoch; 0 before the first.");
	me->commands = metrics_family_add(
		r, "tasker_commands", METRICS_COUNTER, NULL,
		"Commands answered, by verb and outcome (the reply's status).", NULL, 0);
	me->latency = metrics_family_add(
		r, "tasker_command_duration_seconds", METRICS_HISTOGRAM, "seconds",
		"Time from a command being taken to its reply, by verb.", latency_bounds,
		sizeof(latency_bounds) / sizeof(latency_bounds[0]));
	me->in_flight = single(r, "tasker_commands_in_flight", METRICS_GAUGE, NULL,
			       "Commands taken and not answered yet.");
	me->expired = single(r, "tasker_commands_expired", METRICS_COUNTER, NULL,
			     "Commands answered 'expired': past their deadline before they "
			     "could be carried out.");
	me->policy = single(r, "tasker_policy_refusals", METRICS_COUNTER, NULL,
			    "Commands refused by the authority checks (policy, signature, timestamp, replay).");
	me->pending = single(r, "tasker_stream_entries_pending", METRICS_GAUGE, NULL,
			     "Entries of this node's command stream read and not acknowledged "
			     "yet.");
	me->redelivered = single(r, "tasker_stream_entries_redelivered", METRICS_COUNTER, NULL,
				 "Entries of this node's command stream read again from the "
				 "pending list (taken before, not acknowledged).");
	me->reconnects = single(r, "tasker_redis_reconnects", METRICS_COUNTER, NULL,
				"Times the Redis connection came back after being lost.");
	me->pm2_errors = single(r, "tasker_pm2_call_errors", METRICS_COUNTER, NULL,
				"Calls to the PM2 daemon that failed (an error reply, a timeout, "
				"or a lost connection).");
	return me;
}

void metrics_exec_free(struct metrics_exec *me)
{
	if (me == NULL)
		return;
	metrics_free(me->reg);
	free(me->node);
	free(me);
}

int64_t metrics_exec_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The verbs of exec_intake.c, aliases folded; anything else is "other". */
static const char *fold_verb(const char *verb)
{
	static const char *const table[][2] = {
		{"start", "start"},   {"run", "start"},	    {"stop", "stop"},
		{"restart", "restart"}, {"delete", "delete"}, {"remove", "delete"},
		{"status", "status"}, {"list", "status"},   {"ps", "status"},
		{"logs", "logs"},     {"result", "result"},
	};
	for (size_t i = 0; verb != NULL && i < sizeof(table) / sizeof(table[0]); i++)
		if (strcasecmp(verb, table[i][0]) == 0)
			return table[i][1];
	return "other";
}

/* Outcomes are the executor's own status words; anything unexpected is
 * "other" rather than a new series. */
static const char *fold_outcome(const char *outcome)
{
	if (outcome == NULL || outcome[0] == '\0' || strlen(outcome) > 32)
		return "other";
	for (const char *p = outcome; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return "other";
	return outcome;
}

void metrics_exec_command(struct executor *ex, const char *verb, const char *outcome,
			  int64_t taken_us)
{
	struct metrics_exec *me = ex->metrics;
	if (me == NULL)
		return;
	const char *v = fold_verb(verb);
	const char *o = fold_outcome(outcome);
	const char *labels[] = {"verb", v, "outcome", o};
	metrics_add(metrics_series(me->commands, labels, 2), 1);
	if (strcmp(o, "expired") == 0)
		metrics_add(me->expired, 1);
	if (taken_us > 0) {
		double secs = (double)(metrics_exec_now_us() - taken_us) / 1e6;
		metrics_observe(metrics_series(me->latency, labels, 1), secs < 0 ? 0 : secs);
	}
}

void metrics_exec_redelivered(struct executor *ex)
{
	if (ex->metrics != NULL)
		metrics_add(ex->metrics->redelivered, 1);
}

void metrics_exec_reconnect(struct executor *ex)
{
	if (ex->metrics != NULL)
		metrics_add(ex->metrics->reconnects, 1);
}

void metrics_exec_policy_refused(struct executor *ex)
{
	if (ex->metrics != NULL)
		metrics_add(ex->metrics->policy, 1);
}

/* utime + stime of a process of this host, from /proc/PID/stat (fields 14
 * and 15, counted after the command name's closing parenthesis, which
 * may itself hold spaces and parentheses). */
static bool proc_cpu_seconds(int pid, double *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *fp = fopen(path, "re");
	if (fp == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	if (p == NULL)
		return false;
	unsigned long long utime = 0, stime = 0;
	/* After ") ": state, then 10 fields, then utime and stime. */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return false;
	long hz = sysconf(_SC_CLK_TCK);
	*out = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
	return true;
}

void metrics_exec_tasks(struct executor *ex, const struct pm2_proc *procs, size_t n)
{
	struct metrics_exec *me = ex->metrics;
	if (me == NULL)
		return;
	metrics_family_clear(me->t_state);
	metrics_family_clear(me->t_restarts);
	metrics_family_clear(me->t_cpu);
	metrics_family_clear(me->t_cpu_s);
	metrics_family_clear(me->t_mem);
	metrics_family_clear(me->t_start);
	for (size_t i = 0; i < n; i++) {
		const struct pm2_proc *p = &procs[i];
		char id[16];
		snprintf(id, sizeof(id), "%d", p->pm_id);
		const char *l[8] = {"node", me->node, "task", p->name, "pm_id", id, "state", NULL};
		for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
			l[7] = states[s].label;
			metrics_set(metrics_series_append(me->t_state, l, 4),
				    p->state == states[s].st ? 1 : 0);
		}
		metrics_set(metrics_series_append(me->t_restarts, l, 3),
			    p->restart_time > 0 ? p->restart_time : 0);
		metrics_set(metrics_series_append(me->t_cpu, l, 3), p->cpu / 100.0);
		double cpu_s;
		if (p->pid > 0 && proc_cpu_seconds(p->pid, &cpu_s))
			metrics_set(metrics_series_append(me->t_cpu_s, l, 3), cpu_s);
		metrics_set(metrics_series_append(me->t_mem, l, 3), (double)p->memory);
		/* pm_uptime is when the current process started; a stopped task
		 * has none worth showing. */
		if (p->pm_uptime > 0 && p->pid > 0)
			metrics_set(metrics_series_append(me->t_start, l, 3),
				    (double)p->pm_uptime / 1000.0);
	}
	metrics_set(me->tasks, (double)n);
	metrics_set(me->listed_at, (double)util_wall_ms() / 1000.0);
}

char *metrics_exec_render(struct executor *ex, enum metrics_format fmt, size_t *len)
{
	struct metrics_exec *me = ex->metrics;
	if (me == NULL) {
		*len = 0;
		return xstrdup("");
	}
	/* Figures read where they live, at the time of the scrape. */
	metrics_set(me->in_flight, (double)ex->ncommands);
	metrics_set(me->pending, ex->fleet != NULL ? (double)ex->fleet->nlive : 0);
	metrics_set(me->pm2_errors, (double)pm2_client_errors(ex->pm2));
	return metrics_render(me->reg, fmt, len);
}
