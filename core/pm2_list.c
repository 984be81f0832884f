/*
 * pm2_list: see pm2_list.h. Owns the walk of a getMonitorData reply with
 * yajl callbacks: a stack of what each open container is (the reply, its
 * args, the list, a record, its monit, its pm2_env, the app's env, the
 * app's args), the record being filled, and the records done. Everything
 * not on that path is skipped as it streams by. Does no IO.
 */
#include "pm2_list.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "util.h"

/* What an open container is. */
enum ctx {
	X_SKIP,   /* of no interest, with everything inside */
	X_ROOT,   /* the reply object: {"args": [...]} or {"error": ...} */
	X_ARGS,   /* its args array; element 0 is the list */
	X_LIST,   /* the process list; each element a record */
	X_REC,    /* {pid, name, pm_id, monit, pm2_env} */
	X_MONIT,  /* {memory, cpu} */
	X_PENV,   /* pm2_env */
	X_APPENV, /* pm2_env.env: only the names are kept */
	X_PARGS,  /* pm2_env.args */
	X_CAPTURE /* a value kept as compact JSON (an odd arg, an error object) */
};

/* The member names this parser reads, per context. */
enum key {
	K_NONE,
	K_ARGS,
	K_ERROR,
	K_PID,
	K_NAME,
	K_PM_ID,
	K_MONIT,
	K_PM2_ENV,
	K_MEMORY,
	K_CPU,
	K_NAMESPACE,
	K_STATUS,
	K_PM_UPTIME,
	K_CREATED_AT,
	K_RESTART_TIME,
	K_UNSTABLE_RESTARTS,
	K_EXEC_MODE,
	K_INSTANCES,
	K_PM_CWD,
	K_PM_EXEC_PATH,
	K_EXEC_INTERPRETER,
	K_ENV,
	K_OUT_LOG,
	K_ERR_LOG,
	K_MMR,
	K_CRON,
	K_OWNER,     /* pm2_env.env.TASKER_OWNER */
	K_OWNER_KEY, /* pm2_env.env.TASKER_OWNER_KEY */
	K_DEPENDS,   /* pm2_env.env.TASKER_DEPENDS_ON */
};

struct key_name {
	const char *name;
	enum key key;
};

static const struct key_name root_keys[] = {{"args", K_ARGS}, {"error", K_ERROR}, {NULL, K_NONE}};

static const struct key_name rec_keys[] = {
    {"pid", K_PID},     {"name", K_NAME},       {"pm_id", K_PM_ID},
    {"monit", K_MONIT}, {"pm2_env", K_PM2_ENV}, {NULL, K_NONE},
};

static const struct key_name monit_keys[] = {{"memory", K_MEMORY}, {"cpu", K_CPU}, {NULL, K_NONE}};

static const struct key_name penv_keys[] = {
    {"name", K_NAME},
    {"pm_id", K_PM_ID},
    {"namespace", K_NAMESPACE},
    {"status", K_STATUS},
    {"pm_uptime", K_PM_UPTIME},
    {"created_at", K_CREATED_AT},
    {"restart_time", K_RESTART_TIME},
    {"unstable_restarts", K_UNSTABLE_RESTARTS},
    {"exec_mode", K_EXEC_MODE},
    {"instances", K_INSTANCES},
    {"pm_cwd", K_PM_CWD},
    {"pm_exec_path", K_PM_EXEC_PATH},
    {"exec_interpreter", K_EXEC_INTERPRETER},
    {"args", K_ARGS},
    {"env", K_ENV},
    {"pm_out_log_path", K_OUT_LOG},
    {"pm_err_log_path", K_ERR_LOG},
    {"max_memory_restart", K_MMR},
    {"cron_restart", K_CRON},
    {NULL, K_NONE},
};

struct level {
	enum ctx ctx;
	enum key key; /* maps: the member being read */
	size_t index; /* arrays: elements seen */
};

/* The record being read. Strings stay NULL until seen. */
struct rec {
	struct pm2_proc p;
	int rec_pm_id, env_pm_id; /* -1: absent */
	char *rec_name, *env_name;
	size_t args_cap, env_cap;
};

struct pm2_list_parser {
	yajl_handle h;
	struct level stack[PM2_LIST_MAX_DEPTH];
	size_t depth;
	bool failed;    /* malformed input: stop */
	char *why;      /* our own reason when failed by a callback */
	bool seen_root; /* the reply was an object */
	bool seen_args; /* it had an args array */
	bool seen_list; /* args[0] was an array */
	char *error;    /* the daemon's error, when it sent one */
	bool in_rec;
	struct rec rec;
	struct pm2_proc *procs;
	size_t nprocs, cap;
	/* X_CAPTURE: a value re-encoded compactly. */
	yajl_gen gen;
	size_t gen_depth; /* stack depth at which the captured value opened */
	bool gen_full;
	enum ctx gen_for; /* X_PARGS or X_ROOT (an error object) */
};

/* ---- Values ---------------------------------------------------------------- */

/* A new NUL-terminated copy of s, cut at max bytes without splitting a
 * UTF-8 sequence. */
static char *copy_cut(const unsigned char *s, size_t len, size_t max)
{
	if (len > max) {
		len = max;
		while (len > 0 && (s[len] & 0xc0) == 0x80)
			len--;
	}
	return xstrndup((const char *)s, len);
}

static char *copy_capped(const unsigned char *s, size_t len)
{
	return copy_cut(s, len, PM2_LIST_MAX_STRING);
}

/* An error message stays readable: a huge one is cut. */
#define ERROR_MAX 512

static void set_str(char **field, const unsigned char *s, size_t len)
{
	free(*field);
	*field = copy_capped(s, len);
}

/* Parses yajl's raw number text; false when it is not a finite number
 * (or absurdly long). Independent of the locale's decimal point, which the
 * console sets from the environment. */
static bool number_value(const char *s, size_t len, double *out)
{
	char buf[128];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *dp = localeconv()->decimal_point;
	if (dp != NULL && dp[0] != '\0' && dp[0] != '.' && dp[1] == '\0') {
		char *dot = strchr(buf, '.');
		if (dot != NULL)
			*dot = dp[0];
	}
	char *end;
	errno = 0;
	double d = strtod(buf, &end);
	if (*end != '\0' || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static bool in_range(double d, double lo, double hi)
{
	return d >= lo && d <= hi;
}

static void push_string(char ***arr, size_t *n, size_t *cap, size_t max, char *s)
{
	if (*n >= max) {
		free(s);
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	(*arr)[(*n)++] = s;
}

/* ---- Records --------------------------------------------------------------- */

static void rec_begin(struct pm2_list_parser *lp)
{
	memset(&lp->rec, 0, sizeof(lp->rec));
	lp->rec.rec_pm_id = lp->rec.env_pm_id = -1;
	lp->in_rec = true;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees what one record owns (any string may still be NULL here). */
static void proc_clear(struct pm2_proc *p)
{
	free(p->name);
	free(p->namespace);
	free(p->status);
	free(p->exec_mode);
	free(p->pm_cwd);
	free(p->pm_exec_path);
	free(p->exec_interpreter);
	strings_free(p->args, p->nargs);
	strings_free(p->env_names, p->nenv);
	free(p->owner);
	free(p->owner_key);
	free(p->depends_on);
	free(p->out_log_path);
	free(p->err_log_path);
	free(p->cron);
}

void pm2_procs_free(struct pm2_proc *procs, size_t n)
{
	if (procs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		proc_clear(&procs[i]);
	free(procs);
}

static void rec_discard(struct rec *r)
{
	free(r->rec_name);
	free(r->env_name);
	proc_clear(&r->p);
	memset(r, 0, sizeof(*r));
}

static char *or_empty(char *s)
{
	return s != NULL ? s : xstrdup("");
}

static void rec_end(struct pm2_list_parser *lp)
{
	struct rec *r = &lp->rec;
	lp->in_rec = false;
	int id = r->rec_pm_id >= 0 ? r->rec_pm_id : r->env_pm_id;
	if (id < 0) {
		rec_discard(r);
		return;
	}
	struct pm2_proc *p = &r->p;
	p->pm_id = id;
	/* The record's own name wins when it is a string. */
	if (r->rec_name != NULL) {
		p->name = r->rec_name;
		free(r->env_name);
	} else {
		p->name = or_empty(r->env_name);
	}
	r->rec_name = r->env_name = NULL;
	p->namespace = or_empty(p->namespace);
	p->status = or_empty(p->status);
	p->state = pm2_status_parse(p->status);
	p->exec_mode = or_empty(p->exec_mode);
	p->cluster = strcmp(p->exec_mode, "cluster_mode") == 0;
	p->pm_cwd = or_empty(p->pm_cwd);
	p->pm_exec_path = or_empty(p->pm_exec_path);
	p->exec_interpreter = or_empty(p->exec_interpreter);
	p->out_log_path = or_empty(p->out_log_path);
	p->err_log_path = or_empty(p->err_log_path);
	if (p->nargs == 0) {
		free(p->args);
		p->args = NULL;
	}
	if (p->nenv == 0) {
		free(p->env_names);
		p->env_names = NULL;
	}
	if (lp->nprocs == lp->cap) {
		lp->cap = lp->cap ? lp->cap * 2 : 16;
		lp->procs = xrealloc(lp->procs, lp->cap * sizeof(*lp->procs));
	}
	lp->procs[lp->nprocs++] = *p;
	memset(r, 0, sizeof(*r));
}

/* A process id as pm2 writes it: integral, 0..INT_MAX; else -1. */
static int pm_id_value(double d)
{
	if (!in_range(d, 0, INT_MAX) || d != (double)(int)d)
		return -1;
	return (int)d;
}

/* A scalar inside a record, its monit or its pm2_env. s is the string or
 * the number's text; is_num says which. */
static void rec_scalar(struct pm2_list_parser *lp, enum ctx ctx, enum key key, bool is_str,
                       bool is_num, const unsigned char *s, size_t len)
{
	struct rec *r = &lp->rec;
	struct pm2_proc *p = &r->p;
	double d = 0;
	bool num = is_num && number_value((const char *)s, len, &d);
	if (ctx == X_REC) {
		if (key == K_PID && num && in_range(d, INT_MIN, INT_MAX))
			p->pid = (int)d;
		else if (key == K_PM_ID && num)
			r->rec_pm_id = pm_id_value(d);
		else if (key == K_NAME && is_str)
			set_str(&r->rec_name, s, len);
		return;
	}
	if (ctx == X_MONIT) {
		if (key == K_MEMORY && num && in_range(d, 0, 1.8e19))
			p->memory = (uint64_t)d;
		else if (key == K_CPU && num && in_range(d, 0, 1e9))
			p->cpu = d;
		return;
	}
	/* X_PENV */
	if (is_str) {
		switch (key) {
		case K_NAME:
			set_str(&r->env_name, s, len);
			break;
		case K_NAMESPACE:
			set_str(&p->namespace, s, len);
			break;
		case K_STATUS:
			set_str(&p->status, s, len);
			break;
		case K_EXEC_MODE:
			set_str(&p->exec_mode, s, len);
			break;
		case K_PM_CWD:
			set_str(&p->pm_cwd, s, len);
			break;
		case K_PM_EXEC_PATH:
			set_str(&p->pm_exec_path, s, len);
			break;
		case K_EXEC_INTERPRETER:
			set_str(&p->exec_interpreter, s, len);
			break;
		case K_OUT_LOG:
			set_str(&p->out_log_path, s, len);
			break;
		case K_ERR_LOG:
			set_str(&p->err_log_path, s, len);
			break;
		case K_CRON:
			if (len > 0 && len <= 200)
				set_str(&p->cron, s, len);
			break;
		case K_MMR: {
			/* Older confs may carry digits as a string. */
			char buf[32];
			p->max_memory_restart = 0;
			if (len > 0 && len < sizeof(buf)) {
				memcpy(buf, s, len);
				buf[len] = '\0';
				char *end;
				errno = 0;
				unsigned long long v = strtoull(buf, &end, 10);
				if (errno == 0 && *end == '\0' && buf[0] >= '0' && buf[0] <= '9')
					p->max_memory_restart = v;
			}
			break;
		}
		default:
			break;
		}
		return;
	}
	if (!num)
		return;
	switch (key) {
	case K_PM_ID:
		r->env_pm_id = pm_id_value(d);
		break;
	case K_PM_UPTIME:
		if (in_range(d, -9.0e18, 9.0e18))
			p->pm_uptime = (int64_t)d;
		break;
	case K_CREATED_AT:
		if (in_range(d, -9.0e18, 9.0e18))
			p->created_at = (int64_t)d;
		break;
	case K_RESTART_TIME:
		if (in_range(d, INT_MIN, INT_MAX))
			p->restart_time = (int)d;
		break;
	case K_UNSTABLE_RESTARTS:
		if (in_range(d, INT_MIN, INT_MAX))
			p->unstable_restarts = (int)d;
		break;
	case K_INSTANCES:
		if (in_range(d, INT_MIN, INT_MAX))
			p->instances = (int)d;
		break;
	case K_MMR:
		p->max_memory_restart = in_range(d, 0, 1.8e19) ? (uint64_t)d : 0;
		break;
	default:
		break;
	}
}

/* ---- Capturing a value as JSON ------------------------------------------------ */

static void capture_begin(struct pm2_list_parser *lp, enum ctx for_ctx)
{
	lp->gen = yajl_gen_alloc(NULL);
	if (lp->gen == NULL)
		abort();
	lp->gen_full = false;
	lp->gen_for = for_ctx;
}

/* Stops re-encoding once the text passes the cap; the prefix is kept. */
static void capture_check(struct pm2_list_parser *lp, yajl_gen_status st)
{
	const unsigned char *buf;
	size_t len;
	if (st != yajl_gen_status_ok ||
	    (yajl_gen_get_buf(lp->gen, &buf, &len) == yajl_gen_status_ok &&
	     len > PM2_LIST_MAX_STRING))
		lp->gen_full = true;
}

/* The captured text goes where it was for; the generator is freed. */
static void capture_end(struct pm2_list_parser *lp)
{
	const unsigned char *buf = NULL;
	size_t len = 0;
	yajl_gen_get_buf(lp->gen, &buf, &len);
	if (buf == NULL)
		buf = (const unsigned char *)"";
	char *s = copy_cut(buf, len, lp->gen_for == X_ROOT ? ERROR_MAX : PM2_LIST_MAX_STRING);
	yajl_gen_free(lp->gen);
	lp->gen = NULL;
	if (lp->gen_for == X_PARGS && lp->in_rec) {
		struct pm2_proc *p = &lp->rec.p;
		push_string(&p->args, &p->nargs, &lp->rec.args_cap, PM2_LIST_MAX_ARGS, s);
	} else if (lp->gen_for == X_ROOT) {
		free(lp->error);
		lp->error = s;
	} else {
		free(s);
	}
}

/* ---- yajl callbacks --------------------------------------------------------- */

static struct level *top(struct pm2_list_parser *lp)
{
	return lp->depth > 0 ? &lp->stack[lp->depth - 1] : NULL;
}

static int fail(struct pm2_list_parser *lp, const char *why)
{
	if (lp->why == NULL)
		lp->why = xstrdup(why);
	return 0;
}

/* After a complete value inside an array, count it. */
static void value_done(struct pm2_list_parser *lp)
{
	struct level *t = top(lp);
	if (t != NULL && (t->ctx == X_ARGS || t->ctx == X_LIST || t->ctx == X_PARGS))
		t->index++;
}

/* A scalar value: string (is_str), number text (is_num), or a literal
 * (true, false, null) given as text. */
static int on_scalar(struct pm2_list_parser *lp, bool is_str, bool is_num, const unsigned char *s,
                     size_t len)
{
	struct level *t = top(lp);
	if (t == NULL)
		return fail(lp, "the reply is not a JSON object");
	switch (t->ctx) {
	case X_CAPTURE: {
		if (lp->gen_full)
			break;
		yajl_gen_status st;
		if (is_str)
			st = yajl_gen_string(lp->gen, s, len);
		else if (is_num)
			st = yajl_gen_number(lp->gen, (const char *)s, len);
		else if (len == 4 && memcmp(s, "null", 4) == 0)
			st = yajl_gen_null(lp->gen);
		else
			st = yajl_gen_bool(lp->gen, len == 4);
		capture_check(lp, st);
		break;
	}
	case X_ROOT:
		if (t->key == K_ERROR && !(len == 4 && !is_str && memcmp(s, "null", 4) == 0)) {
			free(lp->error);
			lp->error = copy_cut(s, len, ERROR_MAX);
		}
		break;
	case X_REC:
	case X_MONIT:
	case X_PENV:
		if (lp->in_rec)
			rec_scalar(lp, t->ctx, t->key, is_str, is_num, s, len);
		break;
	case X_APPENV:
		if (lp->in_rec && is_str && len <= 1024 && (t->key == K_OWNER || t->key == K_OWNER_KEY))
			set_str(t->key == K_OWNER ? &lp->rec.p.owner : &lp->rec.p.owner_key, s, len);
		else if (lp->in_rec && is_str && len <= 2048 && t->key == K_DEPENDS)
			set_str(&lp->rec.p.depends_on, s, len);
		break;
	case X_PARGS:
		if (lp->in_rec) {
			struct pm2_proc *p = &lp->rec.p;
			push_string(&p->args, &p->nargs, &lp->rec.args_cap, PM2_LIST_MAX_ARGS,
			            copy_capped(s, len));
		}
		break;
	default:
		break;
	}
	value_done(lp);
	return 1;
}

static int cb_null(void *ctx)
{
	return on_scalar(ctx, false, false, (const unsigned char *)"null", 4);
}

static int cb_boolean(void *ctx, int b)
{
	return on_scalar(ctx, false, false, (const unsigned char *)(b ? "true" : "false"),
	                 b ? 4 : 5);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	return on_scalar(ctx, false, true, (const unsigned char *)s, len);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return on_scalar(ctx, true, false, s, len);
}

/* What a container opening here is, from where it opens. */
static enum ctx child_ctx(struct pm2_list_parser *lp, bool is_map)
{
	struct level *t = top(lp);
	if (t == NULL)
		return is_map ? X_ROOT : X_SKIP;
	switch (t->ctx) {
	case X_CAPTURE:
		return X_CAPTURE;
	case X_ROOT:
		if (t->key == K_ARGS && !is_map)
			return X_ARGS;
		if (t->key == K_ERROR)
			return X_CAPTURE;
		return X_SKIP;
	case X_ARGS:
		return t->index == 0 && !is_map ? X_LIST : X_SKIP;
	case X_LIST:
		return is_map ? X_REC : X_SKIP;
	case X_REC:
		if (t->key == K_MONIT && is_map)
			return X_MONIT;
		if (t->key == K_PM2_ENV && is_map)
			return X_PENV;
		return X_SKIP;
	case X_PENV:
		if (t->key == K_ENV && is_map)
			return X_APPENV;
		if (t->key == K_ARGS && !is_map)
			return X_PARGS;
		return X_SKIP;
	case X_PARGS:
		return X_CAPTURE;
	default:
		return X_SKIP;
	}
}

static int on_open(struct pm2_list_parser *lp, bool is_map)
{
	if (lp->depth == PM2_LIST_MAX_DEPTH)
		return fail(lp, "the reply is nested too deeply");
	struct level *t = top(lp);
	enum ctx c = child_ctx(lp, is_map);
	if (c == X_CAPTURE) {
		if (t->ctx != X_CAPTURE) {
			capture_begin(lp, t->ctx == X_ROOT ? X_ROOT : X_PARGS);
			lp->gen_depth = lp->depth;
		}
		if (!lp->gen_full)
			capture_check(lp, is_map ? yajl_gen_map_open(lp->gen)
			                         : yajl_gen_array_open(lp->gen));
	}
	if (c == X_ROOT)
		lp->seen_root = true;
	else if (c == X_ARGS)
		lp->seen_args = true;
	else if (c == X_LIST)
		lp->seen_list = true;
	else if (c == X_REC)
		rec_begin(lp);
	lp->stack[lp->depth++] = (struct level){c, K_NONE, 0};
	return 1;
}

static int on_close(struct pm2_list_parser *lp, bool is_map)
{
	if (lp->depth == 0)
		return fail(lp, "unbalanced reply");
	struct level *t = &lp->stack[--lp->depth];
	if (t->ctx == X_CAPTURE) {
		if (!lp->gen_full)
			capture_check(lp, is_map ? yajl_gen_map_close(lp->gen)
			                         : yajl_gen_array_close(lp->gen));
		if (lp->depth == lp->gen_depth)
			capture_end(lp);
	} else if (t->ctx == X_REC && lp->in_rec) {
		rec_end(lp);
	}
	value_done(lp);
	return 1;
}

static int cb_start_map(void *ctx)
{
	return on_open(ctx, true);
}

static int cb_end_map(void *ctx)
{
	return on_close(ctx, true);
}

static int cb_start_array(void *ctx)
{
	return on_open(ctx, false);
}

static int cb_end_array(void *ctx)
{
	return on_close(ctx, false);
}

static enum key key_lookup(const struct key_name *table, const unsigned char *s, size_t len)
{
	for (; table->name != NULL; table++) {
		if (len > 0 && table->name[0] == (char)s[0] && strlen(table->name) == len &&
		    memcmp(table->name, s, len) == 0)
			return table->key;
	}
	return K_NONE;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct pm2_list_parser *lp = ctx;
	struct level *t = top(lp);
	switch (t->ctx) {
	case X_ROOT:
		t->key = key_lookup(root_keys, s, len);
		break;
	case X_REC:
		t->key = key_lookup(rec_keys, s, len);
		break;
	case X_MONIT:
		t->key = key_lookup(monit_keys, s, len);
		break;
	case X_PENV:
		t->key = key_lookup(penv_keys, s, len);
		break;
	case X_APPENV:
		if (lp->in_rec && len <= 1024) {
			struct pm2_proc *p = &lp->rec.p;
			push_string(&p->env_names, &p->nenv, &lp->rec.env_cap,
			            PM2_LIST_MAX_ENV_NAMES, xstrndup((const char *)s, len));
		}
		/* The one pair of values kept: who started the task. */
		t->key = len == 12 && memcmp(s, "TASKER_OWNER", 12) == 0       ? K_OWNER
		         : len == 16 && memcmp(s, "TASKER_OWNER_KEY", 16) == 0 ? K_OWNER_KEY
		         : len == 17 && memcmp(s, "TASKER_DEPENDS_ON", 17) == 0 ? K_DEPENDS
		                                                                 : K_NONE;
		break;
	case X_CAPTURE:
		if (!lp->gen_full)
			capture_check(lp, yajl_gen_string(lp->gen, s, len));
		break;
	default:
		break;
	}
	return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

/* ---- The parser ------------------------------------------------------------- */

struct pm2_list_parser *pm2_list_parser_new(void)
{
	struct pm2_list_parser *lp = xcalloc(1, sizeof(*lp));
	lp->h = yajl_alloc(&callbacks, NULL, lp);
	if (lp->h == NULL)
		abort();
	/* The daemon's bytes pass through as they are, as cJSON would take
	 * them: an app's env value that is not UTF-8 must not void the list. */
	yajl_config(lp->h, yajl_dont_validate_strings, 1);
	return lp;
}

void pm2_list_parser_free(struct pm2_list_parser *lp)
{
	if (lp == NULL)
		return;
	if (lp->h != NULL)
		yajl_free(lp->h);
	if (lp->gen != NULL)
		yajl_gen_free(lp->gen);
	if (lp->in_rec)
		rec_discard(&lp->rec);
	pm2_procs_free(lp->procs, lp->nprocs);
	free(lp->error);
	free(lp->why);
	free(lp);
}

/* Marks the parse failed, with yajl's words when we have none. */
static void parse_failed(struct pm2_list_parser *lp, const unsigned char *buf, size_t len)
{
	lp->failed = true;
	if (lp->why != NULL)
		return;
	unsigned char *msg = yajl_get_error(lp->h, 0, buf, len);
	char *s = msg != NULL ? (char *)msg : NULL;
	/* yajl ends its message with a newline. */
	size_t n = s != NULL ? strlen(s) : 0;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	lp->why = n > 0 ? xstrndup(s, n) : xstrdup("malformed JSON");
	if (msg != NULL)
		yajl_free_error(lp->h, msg);
}

int pm2_list_parser_feed(struct pm2_list_parser *lp, const char *buf, size_t len)
{
	if (lp->failed)
		return -1;
	if (len == 0)
		return 0;
	const unsigned char *u = (const unsigned char *)buf;
	if (yajl_parse(lp->h, u, len) != yajl_status_ok) {
		parse_failed(lp, u, len);
		return -1;
	}
	return 0;
}

int pm2_list_parser_finish(struct pm2_list_parser *lp, struct pm2_proc **procs, size_t *n,
                           char **error)
{
	*procs = NULL;
	*n = 0;
	*error = NULL;
	if (!lp->failed && yajl_complete_parse(lp->h) != yajl_status_ok)
		parse_failed(lp, NULL, 0);
	if (lp->failed) {
		*error = xasprintf("unparseable reply from the PM2 daemon (%s)", lp->why);
		return -1;
	}
	if (lp->error != NULL) {
		*error = lp->error[0] != '\0' ? lp->error : xstrdup("error");
		if (*error != lp->error)
			free(lp->error);
		lp->error = NULL;
		return -1;
	}
	if (!lp->seen_root || !lp->seen_args) {
		*error = xstrdup("reply without args from the PM2 daemon");
		return -1;
	}
	if (!lp->seen_list) {
		*error = xstrdup("the process list is not an array");
		return -1;
	}
	*procs = lp->procs ? lp->procs : xcalloc(1, sizeof(**procs));
	*n = lp->nprocs;
	lp->procs = NULL;
	lp->nprocs = lp->cap = 0;
	return 0;
}

/* ---- From a parsed tree ------------------------------------------------------ */

int pm2_procs_parse(const cJSON *list, struct pm2_proc **out, size_t *n, const char **err)
{
	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(list)) {
		if (err != NULL)
			*err = "the process list is not an array";
		return -1;
	}
	/* One reader of records in the tree: the tree goes back to text and
	 * through the streaming parser, wrapped as a reply. */
	char *text = cJSON_PrintUnformatted(list);
	if (text == NULL)
		abort();
	struct pm2_list_parser *lp = pm2_list_parser_new();
	pm2_list_parser_feed(lp, "{\"args\":[", 9);
	pm2_list_parser_feed(lp, text, strlen(text));
	pm2_list_parser_feed(lp, "]}", 2);
	cJSON_free(text);
	char *why = NULL;
	int rc = pm2_list_parser_finish(lp, out, n, &why);
	pm2_list_parser_free(lp);
	if (rc < 0) {
		/* cJSON printed it, so it is JSON: only a cap could refuse it. */
		free(why);
		if (err != NULL)
			*err = "the process list could not be read";
		return -1;
	}
	return 0;
}
