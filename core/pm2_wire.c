/*
 * pm2_wire: see pm2.h. Owns the bytes of rpc.sock and what is read from
 * them: the table of methods the daemon may be sent and the shape of their
 * arguments (pm2_rpc_encode, through which every request passes), a call
 * reply parsed into the reply arena, process status names, and the records
 * a `prepare` reply names. Pure: no IO, no clock; unit tests and fuzzers
 * feed it bytes. It must not let through a method or an argument shape the
 * daemon could crash on, nor getReport.
 */
#include "pm2_int.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- JSON helpers --------------------------------------------------------- */

const cJSON *pm2_json_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

const char *pm2_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = pm2_json_get(obj, key);
	return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}

/* A finite number within [lo, hi], truncated; else def. Guards the double to
 * integer conversion, which is undefined out of range. */
static bool json_num_in(const cJSON *v, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	if (!isfinite(d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

int64_t pm2_json_i64(const cJSON *obj, const char *key, int64_t def)
{
	double d;
	if (!json_num_in(pm2_json_get(obj, key), -9.0e18, 9.0e18, &d))
		return def;
	return (int64_t)d;
}

static int json_int(const cJSON *obj, const char *key, int def)
{
	double d;
	if (!json_num_in(pm2_json_get(obj, key), INT_MIN, INT_MAX, &d))
		return def;
	return (int)d;
}

int pm2_json_pm_id(const cJSON *v)
{
	double d;
	if (!json_num_in(v, 0, INT_MAX, &d) || d != (double)(int)d)
		return -1;
	return (int)d;
}

/* ---- The request encoder -------------------------------------------------- */

enum arg_kind {
	ARG_OBJECT,    /* any object: ({}) for the getters */
	ARG_ID,        /* a process id: non-negative integer or short string */
	ARG_OBJECT_ID, /* an object whose "id" is a process id */
	ARG_NOTIFY,    /* {id, action_name: string} */
	ARG_CONF,      /* a prepare conf */
};

struct method_spec {
	const char *name;
	enum arg_kind kind; /* every method here takes exactly one argument */
};

/*
 * The methods we send, each with the one argument the daemon's handler
 * expects. The RPC server appends its callback after the given arguments, so
 * a wrong count puts the callback in the wrong place and the daemon dies;
 * so does a null where an object is read (opts.id). Left out on purpose:
 * killMe and notifyKillPM2 (no reply ever), getReport (the daemon's whole
 * environment), sendSignalToProcessId (a stopped app has pid 0, and
 * process.kill(0, sig) signals the daemon's own process group: SIGTERM sent
 * "to" a stopped app shut the daemon down, measured on 7.0.4).
 */
static const struct method_spec methods[] = {
    {"ping", ARG_OBJECT},
    {"getVersion", ARG_OBJECT},
    {"getMonitorData", ARG_OBJECT},
    {"getSystemData", ARG_OBJECT},
    {"reloadLogs", ARG_OBJECT},
    {"prepare", ARG_CONF},
    {"startProcessId", ARG_ID},
    {"stopProcessId", ARG_ID},
    {"deleteProcessId", ARG_ID},
    {"resetMetaProcessId", ARG_ID},
    {"restartProcessId", ARG_OBJECT_ID},
    {"reloadProcessId", ARG_OBJECT_ID},
    {"notifyByProcessId", ARG_NOTIFY},
};

/* The table entry (static) for name, or NULL. */
static const struct method_spec *method_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	}
	return NULL;
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (n >= max || s[n] < 0x21 || s[n] > 0x7e)
			return false;
	}
	return n > 0;
}

static bool arg_is_id(const cJSON *v)
{
	double d;
	if (cJSON_IsNumber(v))
		return json_num_in(v, 0, INT_MAX, &d) && d == (double)(int)d;
	return cJSON_IsString(v) && v->valuestring != NULL && printable_ascii(v->valuestring, 64);
}

static const char *arg_check(enum arg_kind kind, const cJSON *v)
{
	switch (kind) {
	case ARG_OBJECT:
		return cJSON_IsObject(v) ? NULL : "the argument must be an object";
	case ARG_ID:
		return arg_is_id(v) ? NULL : "the argument must be a process id";
	case ARG_OBJECT_ID:
		return cJSON_IsObject(v) && arg_is_id(pm2_json_get(v, "id"))
		           ? NULL
		           : "the argument must be an object with a process id";
	case ARG_NOTIFY:
		if (!cJSON_IsObject(v) || !arg_is_id(pm2_json_get(v, "id")) ||
		    !cJSON_IsString(pm2_json_get(v, "action_name")))
			return "the argument must be {id, action_name}";
		return NULL;
	case ARG_CONF:
		if (!cJSON_IsObject(v))
			return "the conf must be an object";
		if (!cJSON_IsObject(pm2_json_get(v, "env")))
			return "the conf has no env object";
		if (!cJSON_IsString(pm2_json_get(v, "pm_pid_path")))
			return "the conf has no pm_pid_path";
		if (!cJSON_IsString(pm2_json_get(v, "pm_exec_path")) ||
		    !cJSON_IsString(pm2_json_get(v, "name")))
			return "the conf has no name or pm_exec_path";
		return NULL;
	}
	return "unknown argument kind";
}

char *pm2_rpc_encode(const char *method, const cJSON *args, const char *id, size_t *len,
                     const char **err)
{
	const char *dummy;
	if (err == NULL)
		err = &dummy;
	const struct method_spec *spec = method ? method_find(method) : NULL;
	if (spec == NULL) {
		*err = "not a method tasker sends to PM2";
		return NULL;
	}
	if (!cJSON_IsArray(args)) {
		*err = "the arguments must be a JSON array";
		return NULL;
	}
	if (cJSON_GetArraySize(args) != 1) {
		*err = "wrong number of arguments for this method";
		return NULL;
	}
	const char *why = arg_check(spec->kind, cJSON_GetArrayItem(args, 0));
	if (why != NULL) {
		*err = why;
		return NULL;
	}
	if (id == NULL || !printable_ascii(id, PM2_MAX_ID)) {
		*err = "the request id must be 1 to 64 printable ASCII bytes";
		return NULL;
	}
	char *printed = cJSON_PrintUnformatted(args);
	if (printed == NULL)
		abort();
	/* The method comes from the table above: no escaping needed. */
	char *call =
	    xasprintf("j:{\"type\":\"call\",\"method\":\"%s\",\"args\":%s}", spec->name, printed);
	cJSON_free(printed);
	char *sid = xasprintf("s:%s", id);
	struct amp_arg parts[2] = {{call, strlen(call)}, {sid, strlen(sid)}};
	char *frame = amp_encode(parts, 2, len);
	free(call);
	free(sid);
	if (frame == NULL)
		*err = "the request is too large";
	return frame;
}

/* ---- Reply parsing -------------------------------------------------------- */

/*
 * Reply trees live in an arena. A listing of 100 processes is a tree of
 * some 20,000 cJSON nodes, and the console parses one every second: one
 * malloc and one free per node was half of its CPU. cJSON's allocator hooks
 * are process-wide (the one reason for mutable state at file scope here),
 * so they point at the arena only while a reply is parsed or deleted; the
 * arena is emptied when no reply tree is left in it. Replies are parsed and
 * freed one at a time on the loop, so that is after every reply.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_CHUNK ((size_t)1 << 20)
#define ARENA_KEEP ((size_t)8 << 20)

static struct arena_chunk *arena_head;
static size_t arena_trees;

static void *arena_malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = arena_head;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL; /* cJSON reports it as a failed parse */
		c->next = arena_head;
		c->used = 0;
		c->cap = cap;
		arena_head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(void *p)
{
	(void)p; /* all at once, in arena_release */
}

static void arena_hooks(bool on)
{
	cJSON_Hooks h = {arena_malloc, arena_free};
	cJSON_InitHooks(on ? &h : NULL);
}

static void arena_release(void)
{
	if (arena_trees == 0 || --arena_trees > 0 || arena_head == NULL)
		return;
	/* Keep one chunk as large as all of this round's, so the next reply
	 * of the same size fits without a malloc; give back anything huge. */
	size_t total = 0;
	for (struct arena_chunk *c = arena_head; c != NULL; c = c->next)
		total += c->cap;
	if (arena_head->next != NULL || total > ARENA_KEEP) {
		while (arena_head != NULL) {
			struct arena_chunk *next = arena_head->next;
			free(arena_head);
			arena_head = next;
		}
		size_t cap = total > ARENA_KEEP ? ARENA_CHUNK : total;
		arena_head = malloc(sizeof(*arena_head) + cap);
		if (arena_head == NULL)
			return;
		arena_head->next = NULL;
		arena_head->cap = cap;
	}
	arena_head->used = 0;
}

bool pm2_arg_prefix(const struct amp_arg *a, char p)
{
	/* ptr is NULL for an argument that was streamed rather than kept. */
	return a->ptr != NULL && a->len >= 2 && a->ptr[0] == p && a->ptr[1] == ':';
}

int pm2_reply_parse(const struct amp_frame *frame, struct pm2_reply *out, const char **err)
{
	const char *dummy;
	if (err == NULL)
		err = &dummy;
	memset(out, 0, sizeof(*out));
	if (frame->argc < 1 || !pm2_arg_prefix(&frame->args[frame->argc - 1], 's')) {
		*err = "reply without an id";
		return -1;
	}
	const struct amp_arg *ida = &frame->args[frame->argc - 1];
	out->id = xstrndup(ida->ptr + 2, ida->len - 2);
	if (frame->argc != 2 || !pm2_arg_prefix(&frame->args[0], 'j')) {
		out->error = xstrdup("malformed reply from the PM2 daemon");
		return 0;
	}
	/* The tree and what is built in it below come from the arena. */
	arena_hooks(true);
	arena_trees++;
	out->arena = true;
	out->root = cJSON_ParseWithLength(frame->args[0].ptr + 2, frame->args[0].len - 2);
	const cJSON *e = pm2_json_get(out->root, "error");
	cJSON *a =
	    cJSON_IsObject(out->root) ? cJSON_GetObjectItemCaseSensitive(out->root, "args") : NULL;
	if (out->root == NULL) {
		out->error = xstrdup("unparseable reply from the PM2 daemon");
	} else if (e != NULL && !cJSON_IsNull(e)) {
		if (cJSON_IsString(e) && e->valuestring != NULL) {
			out->error = xstrdup(e->valuestring[0] ? e->valuestring : "error");
		} else {
			char *s = cJSON_PrintUnformatted(e);
			if (s == NULL)
				abort();
			/* Keep a message readable: a huge error object is cut. */
			out->error = xstrndup(s, strlen(s) > 512 ? 512 : strlen(s));
			cJSON_free(s);
		}
	} else if (cJSON_IsArray(a)) {
		if (cJSON_GetArraySize(a) == 0) {
			cJSON *null = cJSON_CreateNull();
			if (null == NULL || !cJSON_AddItemToArray(a, null))
				abort();
		}
		out->result = cJSON_GetArrayItem(a, 0);
	} else {
		out->error = xstrdup("reply without args from the PM2 daemon");
	}
	arena_hooks(false);
	return 0;
}

void pm2_reply_free(struct pm2_reply *r)
{
	free(r->id);
	free(r->error);
	if (r->arena) {
		arena_hooks(true);
		cJSON_Delete(r->root);
		arena_hooks(false);
		arena_release();
	}
	memset(r, 0, sizeof(*r));
}

/* ---- Process records ------------------------------------------------------ */

static const char *const status_names[] = {
    [PM2_ST_UNKNOWN] = "unknown",
    [PM2_ST_ONLINE] = "online",
    [PM2_ST_STOPPING] = "stopping",
    [PM2_ST_STOPPED] = "stopped",
    [PM2_ST_LAUNCHING] = "launching",
    [PM2_ST_ERRORED] = "errored",
    [PM2_ST_WAITING_RESTART] = "waiting restart",
    [PM2_ST_ONE_LAUNCH] = "one-launch-status",
};

enum pm2_status pm2_status_parse(const char *s)
{
	for (size_t i = 1; s != NULL && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(s, status_names[i]) == 0)
			return (enum pm2_status)i;
	}
	return PM2_ST_UNKNOWN;
}

const char *pm2_status_name(enum pm2_status st)
{
	if ((size_t)st >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[st];
}

size_t pm2_started(const cJSON *result, int *pm_ids, int *pids, size_t max)
{
	size_t n = 0;
	if (!cJSON_IsArray(result))
		return 0;
	const cJSON *rec;
	cJSON_ArrayForEach(rec, result)
	{
		if (n == max)
			break;
		int id = pm2_json_pm_id(pm2_json_get(pm2_json_get(rec, "pm2_env"), "pm_id"));
		if (id < 0)
			continue;
		pm_ids[n] = id;
		if (pids != NULL) {
			int pid = json_int(pm2_json_get(rec, "process"), "pid", 0);
			pids[n] = pid > 0 ? pid : json_int(rec, "pid", 0);
		}
		n++;
	}
	return n;
}
