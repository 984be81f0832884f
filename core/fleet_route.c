/*
 * fleet_route: see fleet_route.h. The rules are docs/fleet.md's
 * "Dispatch"; a change to one changes both.
 */
#include "fleet_route.h"

#include <stdint.h>
#include <string.h>

static uint64_t score(const char *node, const char *name)
{
	uint64_t h = 14695981039346656037ull;
	for (const char *p = node; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull; /* a separator no name holds */
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	/* FNV alone keeps the last bytes' influence low: mix it. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

const char *fleet_place(const char *name, const char *const *nodes, size_t n)
{
	const char *best = NULL;
	uint64_t best_score = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t s = score(nodes[i], name);
		if (best == NULL || s > best_score || (s == best_score && strcmp(nodes[i], best) < 0)) {
			best = nodes[i];
			best_score = s;
		}
	}
	return best;
}

static void add_target(struct fleet_route *out, const char *node)
{
	for (size_t i = 0; i < out->ntargets; i++)
		if (strcmp(out->targets[i], node) == 0)
			return;
	if (out->ntargets < FLEET_MAX_TARGETS)
		out->targets[out->ntargets++] = node;
}

static const struct fleet_task_ref *active_elsewhere(const struct fleet_view *v, const char *name,
						     const char *except)
{
	for (size_t i = 0; i < v->ntasks; i++)
		if (v->tasks[i].active && strcmp(v->tasks[i].name, name) == 0 &&
		    (except == NULL || strcmp(v->tasks[i].node, except) != 0))
			return &v->tasks[i];
	return NULL;
}

void fleet_route(enum fleet_verb verb, const char *name, const char *node, const char *holder,
		 const char *self, const struct fleet_view *view, struct fleet_route *out)
{
	memset(out, 0, sizeof(*out));
	/* A fleet of one: everything is this node's, answered from its own
	 * fresh listing (the tables lag behind PM2 by a moment). */
	bool solo = view->nnodes == 0 || (view->nnodes == 1 && strcmp(view->nodes[0], self) == 0);
	if (solo && (node == NULL || strcmp(node, self) == 0)) {
		out->kind = FLEET_FORWARD;
		out->claim = verb == FLEET_START;
		add_target(out, self);
		return;
	}
	if (verb == FLEET_STATUS) {
		if (node != NULL) {
			out->kind = FLEET_FORWARD;
			add_target(out, node);
		} else {
			out->kind = FLEET_STATUS_ALL;
		}
		return;
	}
	if (verb == FLEET_START) {
		/* Names are unique across the fleet: a start of a name that
		 * runs on some other node is answered for that node. */
		out->kind = FLEET_FORWARD;
		out->claim = true;
		/* Without a node, or naming it: the recorded holder (written
		 * with each reply) decides from its own listing:
		 * already_running, or it replaces a stopped task there. The
		 * tables run a second behind the replies, and a sender that saw
		 * its stop or delete answered must not get already_running from
		 * one. */
		if (holder != NULL && (node == NULL || strcmp(node, holder) == 0)) {
			add_target(out, holder);
			return;
		}
		const struct fleet_task_ref *t = active_elsewhere(view, name, node);
		if (t != NULL && node != NULL) {
			out->kind = FLEET_RUNNING;
			out->claim = false;
			out->holder = t->node;
			return;
		}
		/* No holder recorded: where a table shows it running answers. */
		if (t != NULL) {
			add_target(out, t->node);
			return;
		}
		if (node != NULL) {
			add_target(out, node);
			return;
		}
		for (size_t i = 0; i < view->ntasks; i++) {
			if (strcmp(view->tasks[i].name, name) == 0) {
				add_target(out, view->tasks[i].node);
				return;
			}
		}
		const char *place = fleet_place(name, view->nodes, view->nnodes);
		add_target(out, place != NULL ? place : self);
		return;
	}
	/* stop, restart, delete: where the task lives, every such node. */
	out->kind = FLEET_FORWARD;
	if (node != NULL) {
		add_target(out, node);
		return;
	}
	if (name == NULL) {
		/* By pm_id: every node has its own pm_id 3. */
		out->kind = FLEET_NEED_NODE;
		return;
	}
	if (holder != NULL)
		add_target(out, holder);
	for (size_t i = 0; i < view->ntasks; i++)
		if (strcmp(view->tasks[i].name, name) == 0)
			add_target(out, view->tasks[i].node);
	if (out->ntargets == 0)
		out->kind = FLEET_NOT_FOUND;
}
