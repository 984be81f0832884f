/*
 * deps: depends_on lists and group stop order (deps.h). Pure: no IO.
 *
 * Must not: look at PM2 or the network; decide readiness (exec_deps.c
 * does, from listings and TCP probes).
 */
#include "deps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_check.h"
#include "util.h"

void deps_free(struct deps *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static int parse_port(const char *s, size_t len, int *out)
{
	if (len == 0 || len > 5)
		return -1;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

int deps_parse(const char *text, const char *self, struct deps *out, char *err, size_t errlen)
{
	out->v = NULL;
	out->n = 0;
	if (text == NULL)
		return 0;
	if (strlen(text) > 2048) {
		snprintf(err, errlen, "params.depends_on is longer than 2048 characters");
		return -1;
	}
	const char *p = text;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(err, errlen,
			         "params.depends_on has an empty item (a comma list of task names, "
			         "each NAME or NAME:PORT)");
			goto fail;
		}
		char *item = xstrndup(p, len);
		int port = 0;
		char *colon = strchr(item, ':');
		if (colon != NULL) {
			if (parse_port(colon + 1, strlen(colon + 1), &port) < 0) {
				snprintf(err, errlen,
				         "params.depends_on: '%.80s': the port after ':' must be a "
				         "number from 1 to 65535",
				         item);
				free(item);
				goto fail;
			}
			*colon = '\0';
		}
		const char *why = check_task_name(item);
		if (why != NULL) {
			snprintf(err, errlen, "params.depends_on: '%.80s': %s", item, why);
			free(item);
			goto fail;
		}
		if (self != NULL && strcmp(item, self) == 0) {
			snprintf(err, errlen,
			         "params.depends_on: a task cannot depend on itself (%.64s)", item);
			free(item);
			goto fail;
		}
		for (size_t i = 0; i < out->n; i++) {
			if (strcmp(out->v[i].name, item) == 0) {
				snprintf(err, errlen, "params.depends_on names %.64s twice", item);
				free(item);
				goto fail;
			}
		}
		if (out->n == DEPS_MAX) {
			snprintf(err, errlen, "params.depends_on names more than %d tasks",
			         DEPS_MAX);
			free(item);
			goto fail;
		}
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = (struct dep){item, port};
		if (end == NULL)
			break;
		p = end + 1;
		if (*p == '\0') {
			snprintf(err, errlen, "params.depends_on ends with a comma");
			goto fail;
		}
	}
	return 0;
fail:
	deps_free(out);
	return -1;
}

char *deps_format(const struct deps *d)
{
	size_t cap = 1;
	for (size_t i = 0; i < d->n; i++)
		cap += strlen(d->v[i].name) + 8;
	char *s = xmalloc(cap);
	size_t off = 0;
	s[0] = '\0';
	for (size_t i = 0; i < d->n; i++) {
		int w = d->v[i].port > 0
		            ? snprintf(s + off, cap - off, "%s%s:%d", i ? "," : "", d->v[i].name,
		                       d->v[i].port)
		            : snprintf(s + off, cap - off, "%s%s", i ? "," : "", d->v[i].name);
		off += (size_t)w;
	}
	return s;
}

int deps_check_start(const struct envelope *env, char **canon, int64_t *timeout_ms, char *err,
                     size_t errlen)
{
	*canon = NULL;
	*timeout_ms = DEPS_TIMEOUT_DEFAULT_MS;
	const char *text = codec_param(env, "depends_on");
	const char *tm = codec_param(env, "depends_timeout_ms");
	if (text != NULL && codec_param_kind(env, "depends_on") != CODEC_STRING) {
		snprintf(
		    err, errlen,
		    "params.depends_on must be a string: a comma list of task names, each NAME "
		    "or NAME:PORT (e.g. \"db:5432,cache\")");
		return -1;
	}
	if (tm != NULL) {
		if (text == NULL) {
			snprintf(err, errlen,
			         "params.depends_timeout_ms goes with params.depends_on");
			return -1;
		}
		long v = 0;
		size_t i = 0;
		for (; tm[i] >= '0' && tm[i] <= '9' && i < 9; i++)
			v = v * 10 + (tm[i] - '0');
		if (i == 0 || tm[i] != '\0' ||
		    codec_param_kind(env, "depends_timeout_ms") == CODEC_BOOL || v < 100 ||
		    v > DEPS_TIMEOUT_MAX_MS) {
			snprintf(
			    err, errlen,
			    "params.depends_timeout_ms must be a whole number of milliseconds from "
			    "100 to %d",
			    DEPS_TIMEOUT_MAX_MS);
			return -1;
		}
		*timeout_ms = v;
	}
	if (text == NULL || text[strspn(text, " \t")] == '\0')
		return 0;
	const char *self = codec_param(env, "task");
	if (self == NULL)
		self = codec_param(env, "name");
	struct deps d;
	if (deps_parse(text, self, &d, err, errlen) < 0)
		return -1;
	*canon = deps_format(&d);
	deps_free(&d);
	return 0;
}

int deps_check_stop(const struct envelope *env, bool *group, char *err, size_t errlen)
{
	*group = false;
	const char *s = codec_param(env, "with_deps");
	if (s == NULL)
		return 0;
	if (env->verb == NULL || strcmp(env->verb, "stop") != 0) {
		snprintf(err, errlen,
		         "params.with_deps is a stop parameter (stop a task, then what it depends "
		         "on)");
		return -1;
	}
	if (codec_param_kind(env, "with_deps") != CODEC_NUMBER &&
	    (strcmp(s, "true") == 0 || strcmp(s, "") == 0 || strcmp(s, "false") == 0)) {
		*group = strcmp(s, "false") != 0;
		return 0;
	}
	snprintf(err, errlen, "params.with_deps must be true or false");
	return -1;
}

/* --- group stop ------------------------------------------------------------ */

struct plan {
	const struct deps_node *nodes;
	size_t n;
	char **post; /* start order: dependencies first */
	size_t npost;
	int depth;
};

/* The recorded list of the first process named name that has one. */
static const char *deps_of(const struct plan *pl, const char *name)
{
	for (size_t i = 0; i < pl->n; i++)
		if (strcmp(pl->nodes[i].name, name) == 0 && pl->nodes[i].depends_on != NULL)
			return pl->nodes[i].depends_on;
	return NULL;
}

static bool in_list(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

static void visit(struct plan *pl, const char *name, char ***seen, size_t *nseen)
{
	if (in_list(*seen, *nseen, name) || pl->depth > 64)
		return;
	*seen = xrealloc(*seen, (*nseen + 1) * sizeof(char *));
	(*seen)[(*nseen)++] = xstrdup(name);
	struct deps d;
	char err[200];
	if (deps_parse(deps_of(pl, name), NULL, &d, err, sizeof(err)) == 0) {
		pl->depth++;
		for (size_t i = 0; i < d.n; i++)
			visit(pl, d.v[i].name, seen, nseen);
		pl->depth--;
		deps_free(&d);
	}
	pl->post = xrealloc(pl->post, (pl->npost + 1) * sizeof(char *));
	pl->post[pl->npost++] = xstrdup(name);
}

static bool names(const char *depends_on, const char *name)
{
	struct deps d;
	char err[200];
	if (depends_on == NULL || deps_parse(depends_on, NULL, &d, err, sizeof(err)) < 0)
		return false;
	bool found = false;
	for (size_t i = 0; i < d.n && !found; i++)
		found = strcmp(d.v[i].name, name) == 0;
	deps_free(&d);
	return found;
}

size_t deps_stop_plan(const struct deps_node *nodes, size_t n, const char *root,
                      struct deps_step **out)
{
	struct plan pl = {.nodes = nodes, .n = n};
	char **seen = NULL;
	size_t nseen = 0;
	visit(&pl, root, &seen, &nseen);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	struct deps_step *steps = xcalloc(pl.npost, sizeof(*steps));
	char **stopped = xcalloc(pl.npost, sizeof(char *));
	size_t nstopped = 0;
	for (size_t k = 0; k < pl.npost; k++) {
		char *name = pl.post[pl.npost - 1 - k];
		steps[k].name = name;
		if (k == 0) {
			stopped[nstopped++] = name;
			continue;
		}
		for (size_t i = 0; i < n && steps[k].kept_by == NULL; i++) {
			const struct deps_node *nd = &nodes[i];
			if (!nd->active || strcmp(nd->name, name) == 0 ||
			    in_list(stopped, nstopped, nd->name))
				continue;
			if (names(nd->depends_on, name))
				steps[k].kept_by = xstrdup(nd->name);
		}
		if (steps[k].kept_by == NULL)
			stopped[nstopped++] = name;
	}
	free(stopped);
	free(pl.post);
	*out = steps;
	return pl.npost;
}

void deps_steps_free(struct deps_step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].name);
		free(s[i].kept_by);
	}
	free(s);
}
