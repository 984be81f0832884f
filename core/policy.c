/*
 * policy: the policy's model, its building and its evaluation (see
 * policy.h). Deny rules come first: [env] deny, then a start that would
 * replace a foreign task; then the identity's role must allow the verb, the
 * task, the ownership, the program, the cwd and the instance count. The
 * first rule that refuses gives the reason.
 *
 * Must not: parse TOML (core/policy_toml.cpp does), talk to Redis or PM2,
 * or read the clock. policy_finish() and policy_program_path() read the
 * filesystem (realpath, PATH lookups); evaluation does not.
 */
#include "policy.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The verbs a role may name; the executor's aliases (run, remove, list,
 * ps) are refused with the word to write instead. */
static const char *const known_verbs[] = {"start",  "stop", "restart", "delete",
					  "status", "logs", "result",  "job"};
#define NVERBS (sizeof(known_verbs) / sizeof(known_verbs[0]))

struct strlist {
	char **v;
	size_t n;
	bool given; /* false: the key was absent (no restriction) */
};

struct program {
	char *written;
	char *resolved; /* the form compared (policy_program_path), or NULL */
};

struct role {
	char *name;
	bool all_verbs;
	unsigned verbs; /* bit i: known_verbs[i] */
	bool own_tasks_only;
	bool foreign_tasks;
	struct strlist tasks;
	struct program *programs;
	size_t nprograms;
	bool programs_given;
	struct strlist cwd;      /* as written, normalised */
	struct strlist cwd_real; /* realpath of each, or NULL */
	int max_instances;
};

struct agent {
	char *name;
	unsigned char pk[SIG_PUBLIC_BYTES];
	char *role_name;
	const struct role *role; /* set by policy_finish */
};

struct policy {
	char *unsigned_role; /* NULL: "none" */
	const struct role *unsigned_r;
	struct agent *agents;
	size_t nagents;
	struct agent *execs; /* [executors]: node name and key (no role) */
	size_t nexecs;
	struct role *roles;
	size_t nroles;
	struct strlist env_deny;
	char *warnings;
	bool finished;
};

/* --- small helpers -------------------------------------------------------- */

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || !util_ascii_alnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!util_ascii_alnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Untrusted text for an error sentence: printable ASCII, at most 64
 * characters, anything else as '?' (a TOML key may hold any character). */
static const char *shown(const char *s, char buf[72])
{
	size_t o = 0;
	for (; *s && o < 64; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s)
		o += (size_t)snprintf(buf + o, 72 - o, "...");
	buf[o] = '\0';
	return buf;
}

static void strlist_push(struct strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = s ? xstrdup(s) : NULL;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static size_t count(const char *const *v)
{
	size_t n = 0;
	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

static void warn(struct policy *p, const char *line)
{
	char *w = p->warnings ? xasprintf("%s\n%s", p->warnings, line) : xstrdup(line);
	free(p->warnings);
	p->warnings = w;
}

/*
 * Normalises an absolute path by its text alone: "//" and "/./" collapse,
 * ".." removes the previous component (never above "/"), no trailing "/".
 * Returns a new string.
 */
static char *normalise(const char *path)
{
	size_t n = strlen(path);
	char *out = xmalloc(n + 2);
	size_t o = 0;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the slash before it */
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

int policy_program_path(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	if (path[0] != '/' || slash == NULL || slash[1] == '\0')
		return -1;
	char dir[PATH_MAX];
	size_t dlen = (size_t)(slash - path);
	if (dlen >= sizeof(dir))
		return -1;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	char real[PATH_MAX];
	if (realpath(dlen == 0 ? "/" : dir, real) == NULL)
		return -1;
	const char *base = slash + 1;
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -1;
	int n = snprintf(out, size, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* --- building ------------------------------------------------------------ */

struct policy *policy_new(void)
{
	return xcalloc(1, sizeof(struct policy));
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->unsigned_role);
	for (size_t i = 0; i < p->nagents; i++) {
		free(p->agents[i].name);
		free(p->agents[i].role_name);
	}
	free(p->agents);
	for (size_t i = 0; i < p->nexecs; i++)
		free(p->execs[i].name);
	free(p->execs);
	for (size_t i = 0; i < p->nroles; i++) {
		struct role *r = &p->roles[i];
		free(r->name);
		strlist_free(&r->tasks);
		for (size_t k = 0; k < r->nprograms; k++) {
			free(r->programs[k].written);
			free(r->programs[k].resolved);
		}
		free(r->programs);
		strlist_free(&r->cwd);
		strlist_free(&r->cwd_real);
	}
	free(p->roles);
	strlist_free(&p->env_deny);
	free(p->warnings);
	free(p);
}

int policy_set_unsigned_role(struct policy *p, const char *role, char *err, size_t errlen)
{
	if (strcmp(role, "none") != 0 && !name_ok(role)) {
		char b[72];
		snprintf(err, errlen, "unsigned role \"%s\" is not a role name", shown(role, b));
		return -1;
	}
	free(p->unsigned_role);
	p->unsigned_role = strcmp(role, "none") == 0 ? NULL : xstrdup(role);
	return 0;
}

int policy_add_agent(struct policy *p, const char *name, const char *key, const char *role,
                     char *err, size_t errlen)
{
	if (!name_ok(name)) {
		char b[72];
		snprintf(err, errlen,
		         "agent name \"%s\" is not 1 to 64 letters, digits, '.', '_' or '-' "
		         "starting with a letter or digit",
		         shown(name, b));
		return -1;
	}
	if (!name_ok(role)) {
		char b[72];
		snprintf(err, errlen, "agent %s: role \"%s\" is not a role name", name,
		         shown(role, b));
		return -1;
	}
	unsigned char pk[SIG_PUBLIC_BYTES];
	char why[200];
	if (sig_parse_public(key, pk, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "agent %s: key: %s", name, why);
		return -1;
	}
	for (size_t i = 0; i < p->nagents; i++) {
		if (strcmp(p->agents[i].name, name) == 0) {
			snprintf(err, errlen, "agent %s is defined twice", name);
			return -1;
		}
		if (memcmp(p->agents[i].pk, pk, SIG_PUBLIC_BYTES) == 0) {
			snprintf(err, errlen,
			         "agents %s and %s have the same key (a key names one agent)",
			         p->agents[i].name, name);
			return -1;
		}
	}
	p->agents = xrealloc(p->agents, (p->nagents + 1) * sizeof(struct agent));
	struct agent *a = &p->agents[p->nagents++];
	memset(a, 0, sizeof(*a));
	a->name = xstrdup(name);
	memcpy(a->pk, pk, SIG_PUBLIC_BYTES);
	a->role_name = xstrdup(role);
	return 0;
}

static int verb_index(const char *verb)
{
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(known_verbs[i], verb) == 0)
			return (int)i;
	return -1;
}

static int role_verbs(struct role *r, const char *const *verbs, char *err, size_t errlen)
{
	static const char *const aliases[][2] = {
	    {"run", "start"}, {"remove", "delete"}, {"list", "status"}, {"ps", "status"}};
	for (size_t i = 0; verbs[i] != NULL; i++) {
		const char *v = verbs[i];
		if (strcmp(v, "*") == 0) {
			r->all_verbs = true;
			continue;
		}
		int k = verb_index(v);
		if (k >= 0) {
			r->verbs |= 1u << k;
			continue;
		}
		for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]); a++) {
			if (strcmp(aliases[a][0], v) == 0) {
				snprintf(err, errlen,
				         "role %s: verb \"%s\" is an alias: write \"%s\"", r->name,
				         aliases[a][0], aliases[a][1]);
				return -1;
			}
		}
		char b[72];
		snprintf(err, errlen,
		         "role %s: unknown verb \"%s\" (expected start, stop, restart, delete, "
		         "status, logs, result, job or \"*\")",
		         r->name, shown(v, b));
		return -1;
	}
	return 0;
}

int policy_add_role(struct policy *p, const struct policy_role_spec *spec, char *err, size_t errlen)
{
	if (!name_ok(spec->name)) {
		char b[72];
		snprintf(err, errlen,
		         "role name \"%s\" is not 1 to 64 letters, digits, '.', '_' or '-' "
		         "starting with a letter or digit",
		         shown(spec->name, b));
		return -1;
	}
	if (strcmp(spec->name, "none") == 0) {
		snprintf(err, errlen, "role \"none\" is reserved: it is the absence of a role");
		return -1;
	}
	for (size_t i = 0; i < p->nroles; i++) {
		if (strcmp(p->roles[i].name, spec->name) == 0) {
			snprintf(err, errlen, "role %s is defined twice", spec->name);
			return -1;
		}
	}
	if (spec->verbs == NULL) {
		snprintf(err, errlen, "role %s has no verbs (verbs = [\"status\"], say)",
		         spec->name);
		return -1;
	}
	if (spec->max_instances < 0 || spec->max_instances > 1024) {
		snprintf(err, errlen, "role %s: max_instances must be from 1 to 1024", spec->name);
		return -1;
	}
	struct role r;
	memset(&r, 0, sizeof(r));
	r.name = xstrdup(spec->name);
	int rc = -1;
	if (role_verbs(&r, spec->verbs, err, errlen) < 0)
		goto fail;
	r.own_tasks_only = spec->own_tasks_only;
	r.foreign_tasks = spec->foreign_tasks < 0 ? r.all_verbs : spec->foreign_tasks != 0;
	r.max_instances = spec->max_instances;
	if (spec->tasks != NULL) {
		r.tasks.given = true;
		for (size_t i = 0; spec->tasks[i] != NULL; i++) {
			if (spec->tasks[i][0] == '\0') {
				snprintf(err, errlen, "role %s: an empty task glob", spec->name);
				goto fail;
			}
			strlist_push(&r.tasks, spec->tasks[i]);
		}
	}
	if (spec->programs != NULL) {
		r.programs_given = true;
		size_t n = count(spec->programs);
		r.programs = xcalloc(n ? n : 1, sizeof(struct program));
		for (size_t i = 0; i < n; i++) {
			const char *prog = spec->programs[i];
			if (prog[0] == '\0' || (strchr(prog, '/') != NULL && prog[0] != '/')) {
				char b[72];
				snprintf(err, errlen,
				         "role %s: program \"%s\" must be an absolute path or a "
				         "bare name found on PATH",
				         spec->name, shown(prog, b));
				goto fail;
			}
			r.programs[r.nprograms++].written = xstrdup(prog);
		}
	}
	if (spec->cwd != NULL) {
		r.cwd.given = true;
		for (size_t i = 0; spec->cwd[i] != NULL; i++) {
			if (spec->cwd[i][0] != '/') {
				char b[72];
				snprintf(err, errlen,
				         "role %s: cwd \"%s\" must be an absolute path", spec->name,
				         shown(spec->cwd[i], b));
				goto fail;
			}
			char *norm = normalise(spec->cwd[i]);
			strlist_push(&r.cwd, norm);
			free(norm);
		}
	}
	p->roles = xrealloc(p->roles, (p->nroles + 1) * sizeof(struct role));
	p->roles[p->nroles++] = r;
	return 0;
fail:
	free(r.name);
	strlist_free(&r.tasks);
	for (size_t k = 0; k < r.nprograms; k++)
		free(r.programs[k].written);
	free(r.programs);
	strlist_free(&r.cwd);
	return rc;
}

int policy_add_env_deny(struct policy *p, const char *glob, char *err, size_t errlen)
{
	if (glob[0] == '\0') {
		snprintf(err, errlen, "[env] deny has an empty glob");
		return -1;
	}
	p->env_deny.given = true;
	strlist_push(&p->env_deny, glob);
	return 0;
}

static const struct role *find_role(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nroles; i++)
		if (strcmp(p->roles[i].name, name) == 0)
			return &p->roles[i];
	return NULL;
}

/* The first executable regular file named name in path_env's directories. */
static char *search_path(const char *name, const char *path_env)
{
	const char *p = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 && p[0] == '/') {
			char *cand = xasprintf("%.*s/%s", (int)n, p, name);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return NULL;
}

static void resolve_role(struct policy *p, struct role *r, const char *path_env)
{
	char buf[PATH_MAX], line[600];
	for (size_t i = 0; i < r->nprograms; i++) {
		struct program *g = &r->programs[i];
		free(g->resolved);
		g->resolved = NULL;
		char *abs = g->written[0] == '/' ? normalise(g->written)
		                                 : search_path(g->written, path_env);
		if (abs == NULL) {
			char b[72];
			snprintf(line, sizeof(line),
			         "role %s: program %s is not on PATH; it allows nothing", r->name,
			         shown(g->written, b));
			warn(p, line);
			continue;
		}
		g->resolved = policy_program_path(abs, buf, sizeof(buf)) == 0 ? xstrdup(buf) : abs;
		if (g->resolved != abs)
			free(abs);
	}
	strlist_free(&r->cwd_real);
	for (size_t i = 0; i < r->cwd.n; i++)
		strlist_push(&r->cwd_real, realpath(r->cwd.v[i], buf) ? buf : NULL);
}

int policy_finish(struct policy *p, const char *path_env, char *err, size_t errlen)
{
	if (p->unsigned_role != NULL) {
		p->unsigned_r = find_role(p, p->unsigned_role);
		if (p->unsigned_r == NULL) {
			snprintf(err, errlen,
			         "[unsigned] role \"%s\" is not defined (add [roles.%s], "
			         "or write \"none\")",
			         p->unsigned_role, p->unsigned_role);
			return -1;
		}
	}
	for (size_t i = 0; i < p->nagents; i++) {
		struct agent *a = &p->agents[i];
		a->role = find_role(p, a->role_name);
		if (a->role == NULL) {
			snprintf(err, errlen,
			         "agent %s: role \"%s\" is not defined (add [roles.%s])", a->name,
			         a->role_name, a->role_name);
			return -1;
		}
	}
	free(p->warnings);
	p->warnings = NULL;
	for (size_t i = 0; i < p->nroles; i++)
		resolve_role(p, &p->roles[i], path_env);
	p->finished = true;
	return 0;
}

const char *policy_warnings(const struct policy *p)
{
	return p->warnings;
}

/* --- asking -------------------------------------------------------------- */

const char *policy_agent_for_key(const struct policy *p, const unsigned char pk[SIG_PUBLIC_BYTES])
{
	for (size_t i = 0; i < p->nagents; i++)
		if (memcmp(p->agents[i].pk, pk, SIG_PUBLIC_BYTES) == 0)
			return p->agents[i].name;
	return NULL;
}

int policy_add_executor(struct policy *p, const char *node, const char *key, char *err,
                        size_t errlen)
{
	if (!name_ok(node)) {
		char b[72];
		snprintf(err, errlen,
		         "executor name \"%s\" is not a node name (1 to 64 letters, digits, '.', '_' "
		         "or '-')",
		         shown(node, b));
		return -1;
	}
	unsigned char pk[SIG_PUBLIC_BYTES];
	char why[200];
	if (sig_parse_public(key, pk, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "executor %s: key: %s", node, why);
		return -1;
	}
	for (size_t i = 0; i < p->nexecs; i++) {
		if (strcmp(p->execs[i].name, node) == 0 ||
		    memcmp(p->execs[i].pk, pk, SIG_PUBLIC_BYTES) == 0) {
			snprintf(err, errlen, "executor %s: its name or key is listed twice", node);
			return -1;
		}
	}
	p->execs = xrealloc(p->execs, (p->nexecs + 1) * sizeof(struct agent));
	struct agent *a = &p->execs[p->nexecs++];
	memset(a, 0, sizeof(*a));
	a->name = xstrdup(node);
	memcpy(a->pk, pk, SIG_PUBLIC_BYTES);
	return 0;
}

const char *policy_executor_for_key(const struct policy *p,
                                    const unsigned char pk[SIG_PUBLIC_BYTES])
{
	for (size_t i = 0; i < p->nexecs; i++)
		if (memcmp(p->execs[i].pk, pk, SIG_PUBLIC_BYTES) == 0)
			return p->execs[i].name;
	return NULL;
}

bool policy_agent_has_key(const struct policy *p, const char *agent,
                          const unsigned char pk[SIG_PUBLIC_BYTES])
{
	for (size_t i = 0; i < p->nagents; i++)
		if (strcmp(p->agents[i].name, agent) == 0)
			return memcmp(p->agents[i].pk, pk, SIG_PUBLIC_BYTES) == 0;
	return false;
}

size_t policy_nagents(const struct policy *p)
{
	return p->nagents;
}

size_t policy_nroles(const struct policy *p)
{
	return p->nroles;
}

static bool under(const char *path, const char *prefix)
{
	if (prefix == NULL)
		return false;
	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	size_t n = strlen(prefix);
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool is_acting(const char *verb)
{
	return strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0 ||
	       strcmp(verb, "restart") == 0 || strcmp(verb, "delete") == 0;
}

/* Fills out as a refusal; the reason is one sentence. */
__attribute__((format(printf, 2, 3))) static void deny(struct policy_decision *out, const char *fmt,
                                                       ...)
{
	va_list ap;
	va_start(ap, fmt);
	out->allow = false;
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* The deny rules that hold whatever the role: [env] deny, and a start
 * never replacing a task tasker did not start. True when one refused. */
static bool deny_rules(const struct policy *p, const struct policy_request *req,
                       struct policy_decision *out)
{
	for (size_t i = 0; i < req->nenv; i++) {
		const char *name = req->env_names[i];
		for (size_t k = 0; k < p->env_deny.n; k++) {
			if (fnmatch(p->env_deny.v[k], name, 0) == 0) {
				deny(out,
				     "the environment variable %.128s is denied by [env] deny "
				     "\"%.64s\"",
				     name, p->env_deny.v[k]);
				return true;
			}
		}
	}
	if (strcmp(req->verb, "start") == 0 && req->task != NULL &&
	    req->owner_kind == POLICY_TASK_FOREIGN) {
		deny(out,
		     "a start never replaces %.64s: PM2 has a task of that name that tasker did "
		     "not start (a foreign task)",
		     req->task);
		return true;
	}
	return false;
}

static bool role_allows_verb(const struct role *r, const char *verb)
{
	if (r->all_verbs)
		return true;
	int k = verb_index(verb);
	return k >= 0 && (r->verbs & (1u << k)) != 0;
}

static bool same_owner(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The role's start rules: program, cwd, instances. True when one refused. */
static bool start_rules(const struct role *r, const struct policy_request *req,
                        struct policy_decision *out)
{
	if (r->programs_given) {
		bool ok = false;
		for (size_t i = 0; !ok && i < r->nprograms; i++)
			ok = req->program != NULL && r->programs[i].resolved != NULL &&
			     strcmp(r->programs[i].resolved, req->program) == 0;
		if (!ok) {
			deny(out,
			     "the program %.200s is not among role %s's programs ([roles.%s] "
			     "programs)",
			     req->program ? req->program : "(unknown)", r->name, r->name);
			return true;
		}
	}
	if (r->cwd.given) {
		bool ok = false;
		for (size_t i = 0; !ok && i < r->cwd.n; i++)
			ok = req->cwd != NULL &&
			     (under(req->cwd, r->cwd.v[i]) || under(req->cwd, r->cwd_real.v[i]));
		if (!ok) {
			deny(out,
			     "the cwd %.200s is outside role %s's cwd prefixes ([roles.%s] cwd)",
			     req->cwd ? req->cwd : "(unknown)", r->name, r->name);
			return true;
		}
	}
	if (r->max_instances > 0 && req->instances > r->max_instances) {
		deny(out,
		     "role %s may start at most %d instances ([roles.%s] max_instances); "
		     "this start asks for %d",
		     r->name, r->max_instances, r->name, req->instances);
		return true;
	}
	return false;
}

void policy_eval(const struct policy *p, const struct policy_request *req,
                 struct policy_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (!p->finished || req->verb == NULL) {
		deny(out, "the policy cannot judge this command");
		return;
	}
	const struct role *r = NULL;
	const char *who = req->agent ? req->agent : "unsigned";
	if (req->agent == NULL) {
		if (p->unsigned_r == NULL) {
			deny(out, "unsigned commands are refused ([unsigned] role = \"none\")");
			return;
		}
		r = p->unsigned_r;
	} else {
		for (size_t i = 0; i < p->nagents && r == NULL; i++)
			if (strcmp(p->agents[i].name, req->agent) == 0)
				r = p->agents[i].role;
		if (r == NULL) {
			deny(out, "agent %.64s is not in the policy", req->agent);
			return;
		}
	}
	out->role = r->name;
	if (deny_rules(p, req, out))
		return;
	if (!role_allows_verb(r, req->verb)) {
		deny(out, "role %s (%s) may not %.32s ([roles.%s] verbs)", r->name, who, req->verb,
		     r->name);
		return;
	}
	if (req->task != NULL) {
		if (r->tasks.given) {
			bool ok = false;
			for (size_t i = 0; !ok && i < r->tasks.n; i++)
				ok = fnmatch(r->tasks.v[i], req->task, 0) == 0;
			if (!ok) {
				deny(out,
				     "the task %.64s is outside role %s's task globs ([roles.%s] "
				     "tasks)",
				     req->task, r->name, r->name);
				return;
			}
		}
		if (is_acting(req->verb) && req->owner_kind == POLICY_TASK_FOREIGN &&
		    !r->foreign_tasks) {
			deny(out,
			     "%.64s was not started through tasker (a foreign task): role %s "
			     "may not act on it ([roles.%s] foreign_tasks)",
			     req->task, r->name, r->name);
			return;
		}
		if (is_acting(req->verb) && req->owner_kind == POLICY_TASK_OWNED &&
		    r->own_tasks_only && !same_owner(req->owner, req->agent)) {
			deny(out,
			     "%.64s belongs to %.64s: role %s acts only on its own tasks "
			     "([roles.%s] own_tasks_only)",
			     req->task, req->owner ? req->owner : "unsigned senders", r->name,
			     r->name);
			return;
		}
	}
	if (strcmp(req->verb, "start") == 0 && start_rules(r, req, out))
		return;
	out->allow = true;
	snprintf(out->reason, sizeof(out->reason), "role %s (%s) may %.32s%s%.64s", r->name, who,
	         req->verb, req->task ? " " : "", req->task ? req->task : "");
}
