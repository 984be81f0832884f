/*
 * history_ring: see history_ring.h. Pure; owns the series it allocates.
 */
#include "history_ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void hist_ring_init(struct hist_ring *h)
{
	memset(h, 0, sizeof(*h));
}

static void series_free(struct hist_series *s)
{
	if (s != NULL)
		free(s->name);
	free(s);
}

void hist_ring_free(struct hist_ring *h)
{
	for (size_t i = 0; i < h->n; i++)
		series_free(h->s[i]);
	free(h->s);
	memset(h, 0, sizeof(*h));
}

static int key_cmp(const char *node_a, int id_a, const char *node_b, int id_b)
{
	int c = strcmp(node_a, node_b);
	if (c != 0)
		return c;
	return (id_a > id_b) - (id_a < id_b);
}

/* The index of (node, pm_id), or where it would go (*found false). */
static size_t locate(const struct hist_ring *h, const char *node, int pm_id, bool *found)
{
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(h->s[mid]->node, h->s[mid]->pm_id, node, pm_id);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const struct hist_series *hist_ring_find(const struct hist_ring *h, const char *node, int pm_id)
{
	bool found;
	size_t i = locate(h, node ? node : "", pm_id, &found);
	return found ? h->s[i] : NULL;
}

static struct hist_series *series_for(struct hist_ring *h, const char *node, int pm_id)
{
	bool found;
	size_t i = locate(h, node, pm_id, &found);
	if (found)
		return h->s[i];
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->s = xrealloc(h->s, h->cap * sizeof(*h->s));
	}
	memmove(h->s + i + 1, h->s + i, (h->n - i) * sizeof(*h->s));
	struct hist_series *s = xcalloc(1, sizeof(*s));
	snprintf(s->node, sizeof(s->node), "%s", node);
	s->pm_id = pm_id;
	s->last_restarts = -1;
	h->s[i] = s;
	h->n++;
	return s;
}

static void push(struct hist_series *s, const struct pm2_proc *p)
{
	bool online = p->state == PM2_ST_ONLINE;
	double cpu = online && p->cpu > 0 ? p->cpu : 0;
	uint64_t kb = online ? p->memory / 1024 : 0;
	int delta = s->last_restarts >= 0 && p->restart_time > s->last_restarts
			    ? p->restart_time - s->last_restarts
			    : 0;
	s->last_restarts = p->restart_time;
	s->cpu[s->head] = (float)(cpu < 1e6 ? cpu : 1e6);
	s->mem_kb[s->head] = kb < UINT32_MAX ? (uint32_t)kb : UINT32_MAX;
	s->restarts[s->head] = (unsigned char)(delta < 255 ? delta : 255);
	s->head = (s->head + 1) % HIST_SAMPLES;
	if (s->count < HIST_SAMPLES)
		s->count++;
}

void hist_ring_sample(struct hist_ring *h, const struct tasks *t)
{
	h->gen++;
	for (size_t i = 0; i < t->nprocs; i++) {
		const struct pm2_proc *p = &t->procs[i];
		struct hist_series *s = series_for(h, tasks_node_of(t, p), p->pm_id);
		if (s->gen == h->gen)
			continue; /* one sample a tick, should a key repeat */
		s->gen = h->gen;
		if (s->name == NULL || strcmp(s->name, p->name ? p->name : "") != 0) {
			/* Another process holds the pm_id now (PM2 renumbered):
			 * its graph starts here, not after the other one's. */
			free(s->name);
			s->name = xstrdup(p->name ? p->name : "");
			s->count = s->head = 0;
			s->last_restarts = -1;
		}
		if (!tasks_lost(t, p))
			push(s, p);
	}
	size_t k = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->s[i]->gen == h->gen)
			h->s[k++] = h->s[i];
		else
			series_free(h->s[i]);
	}
	h->n = k;
}

size_t hist_series_last(const struct hist_series *s, size_t max, float *cpu, float *mem_kb,
			unsigned char *restarts)
{
	size_t n = s->count < max ? s->count : max;
	size_t start = (s->head + HIST_SAMPLES - n) % HIST_SAMPLES;
	for (size_t i = 0; i < n; i++) {
		size_t j = (start + i) % HIST_SAMPLES;
		if (cpu)
			cpu[i] = s->cpu[j];
		if (mem_kb)
			mem_kb[i] = (float)s->mem_kb[j];
		if (restarts)
			restarts[i] = s->restarts[j];
	}
	return n;
}
