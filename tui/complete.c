/*
 * complete: see complete.h. It owns the lists of verbs, flags and sort
 * columns the command bar offers, and must stay pure: the console passes in
 * the task and theme names it knows.
 */
#include "complete.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const verbs[] = {
    "/start", "/run",  "/stop", "/restart", "/delete", "/remove", "/status", "/list",
    "/ps",    "/help", "/quit", "/filter",  "/sort",   "/theme",  "/clear", "/node",
};

static const char *const start_flags[] = {
    "--task=",
    "--name=",
    "--command=",
    "--args=",
    "--cwd=",
    "--instances=",
    "--max_memory_restart=",
    "--memory=",
    "--autorestart=",
    "--env_",
};

static const char *const target_flags[] = {"--task=", "--name="};

static const char *const sort_columns[] = {
    "node", "id", "name", "status", "pid", "cpu", "memory", "uptime", "restarts", "mode", "owner",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The ASCII blanks the slash parser separates words with. */
static bool is_blank(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

struct words {
	char **v;
	size_t n, cap;
};

static void words_add(struct words *w, char *s)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->v = xrealloc(w->v, w->cap * sizeof(*w->v));
	}
	w->v[w->n++] = s;
}

/* Adds each of list[0..n) that starts with prefix[0..plen). */
static void add_matching(struct words *w, const char *const *list, size_t n, const char *prefix,
                         size_t plen)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && strncmp(list[i], prefix, plen) == 0)
			words_add(w, xstrdup(list[i]));
}

/* True when the line has, in a word other than the one at skip, the flag
 * named by f ("--task=" matches "--task" and "--task=..."). */
static bool flag_present(const char *line, size_t len, size_t skip, const char *f)
{
	size_t klen = strlen(f);
	if (klen == 0 || f[klen - 1] != '=')
		return false; /* --env_ may repeat */
	klen--;
	for (size_t i = 0; i < len;) {
		while (i < len && is_blank(line[i]))
			i++;
		size_t b = i;
		while (i < len && !is_blank(line[i]))
			i++;
		if (b == i || b == skip)
			continue;
		if (i - b >= klen && strncmp(line + b, f, klen) == 0 &&
		    (i - b == klen || line[b + klen] == '='))
			return true;
	}
	return false;
}

static bool needs_quotes(const char *s)
{
	for (; *s != '\0'; s++)
		if (is_blank(*s) || *s == '"' || *s == '\'' || *s == '\\')
			return true;
	return false;
}

/* "--task=" + name, double-quoted and escaped when the name needs it. */
static char *task_word(const char *key, size_t klen, const char *name)
{
	if (!needs_quotes(name))
		return xasprintf("%.*s%s", (int)klen, key, name);
	size_t n = strlen(name);
	char *out = xmalloc(klen + 2 * n + 3);
	memcpy(out, key, klen);
	size_t o = klen;
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '"' || name[i] == '\\')
			out[o++] = '\\';
		out[o++] = name[i];
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t complete_candidates_themes(const char *line, size_t point, const char *const *tasks,
                                  size_t ntasks, const char *const *themes, size_t nthemes,
                                  char ***out, size_t *start)
{
	size_t len = strlen(line);
	if (point > len)
		point = len;
	size_t ws = point;
	while (ws > 0 && !is_blank(line[ws - 1]))
		ws--;
	*start = ws;
	*out = NULL;
	const char *word = line + ws;
	size_t wlen = point - ws;

	/* The first word: the verb when it starts with '/'. */
	size_t fs = 0;
	while (fs < len && is_blank(line[fs]))
		fs++;
	size_t fe = fs;
	while (fe < len && !is_blank(line[fe]))
		fe++;

	struct words w = {NULL, 0, 0};
	if (ws == fs && wlen > 0 && word[0] == '/') {
		add_matching(&w, verbs, COUNT(verbs), word, wlen);
	} else if (ws > fs && line[fs] == '/') {
		const char *verb = line + fs + 1;
		size_t vlen = fe - fs - 1;
		bool second = true; /* the word is the first argument */
		for (size_t i = fe; i < ws; i++)
			if (!is_blank(line[i]))
				second = false;
#define VERB_IS(v) (vlen == strlen(v) && strncmp(verb, v, vlen) == 0)
		if (wlen >= 7 &&
		    (strncmp(word, "--task=", 7) == 0 || strncmp(word, "--name=", 7) == 0)) {
			const char *p = word + 7;
			size_t plen = wlen - 7;
			if (plen > 0 && (*p == '"' || *p == '\'')) {
				p++;
				plen--;
			}
			for (size_t i = 0; i < ntasks; i++)
				if (tasks[i] != NULL && tasks[i][0] != '\0' &&
				    strncmp(tasks[i], p, plen) == 0)
					words_add(&w, task_word(word, 7, tasks[i]));
		} else if (wlen > 0 && word[0] == '-') {
			const char *const *flags = NULL;
			size_t nflags = 0;
			if (VERB_IS("start") || VERB_IS("run")) {
				flags = start_flags;
				nflags = COUNT(start_flags);
			} else if (VERB_IS("stop") || VERB_IS("restart") || VERB_IS("delete") ||
			           VERB_IS("remove")) {
				flags = target_flags;
				nflags = COUNT(target_flags);
			}
			for (size_t i = 0; i < nflags; i++)
				if (strncmp(flags[i], word, wlen) == 0 &&
				    !flag_present(line, len, ws, flags[i]))
					words_add(&w, xstrdup(flags[i]));
		} else if (second && VERB_IS("sort")) {
			add_matching(&w, sort_columns, COUNT(sort_columns), word, wlen);
		} else if (second && VERB_IS("theme")) {
			add_matching(&w, themes, nthemes, word, wlen);
		}
#undef VERB_IS
	}
	if (w.n == 0) {
		free(w.v);
		return 0;
	}
	qsort(w.v, w.n, sizeof(*w.v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < w.n; i++) {
		if (u > 0 && strcmp(w.v[u - 1], w.v[i]) == 0)
			free(w.v[i]);
		else
			w.v[u++] = w.v[i];
	}
	*out = w.v;
	return u;
}

size_t complete_candidates(const char *line, size_t point, const char *const *tasks, size_t ntasks,
                           char ***out, size_t *start)
{
	return complete_candidates_themes(line, point, tasks, ntasks, NULL, 0, out, start);
}

void complete_free(char **words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
}

size_t complete_common_prefix(char *const *words, size_t n)
{
	if (n == 0)
		return 0;
	size_t lcp = strlen(words[0]);
	for (size_t i = 1; i < n; i++) {
		size_t k = 0;
		while (k < lcp && words[i][k] == words[0][k])
			k++;
		lcp = k;
	}
	/* Do not end inside a UTF-8 sequence. */
	while (lcp > 0 && ((unsigned char)words[0][lcp] & 0xc0) == 0x80)
		lcp--;
	return lcp;
}
