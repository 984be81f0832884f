/*
 * fleet_route: where a command goes in a fleet of executors sharing one
 * Redis (docs/fleet.md): to the node it names, to the node that holds its
 * task, to a node chosen for a new task, or nowhere, answered by the
 * dispatcher itself. Pure: decides from a view of the fleet the caller
 * gathered (live nodes, their task tables, the name's holder).
 */
#ifndef TASKER_FLEET_ROUTE_H
#define TASKER_FLEET_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define FLEET_MAX_TARGETS 64

enum fleet_verb { FLEET_START, FLEET_ACT, FLEET_STATUS };

/* A task some node's table shows. */
struct fleet_task_ref {
	const char *node;
	const char *name;
	bool active; /* online, launching, stopping or waiting to restart */
};

struct fleet_view {
	const char *const *nodes; /* live nodes on this command channel */
	size_t nnodes;
	const struct fleet_task_ref *tasks;
	size_t ntasks;
};

enum fleet_route_kind {
	FLEET_FORWARD,	/* to every node in targets */
	FLEET_RUNNING,	/* a start of a name that runs: already_running on holder */
	FLEET_NOT_FOUND,	/* no node holds the name */
	FLEET_STATUS_ALL, /* the dispatcher answers from the tables */
	FLEET_NEED_NODE,  /* by pm_id without a node in a fleet of several: refused */
};

/* Strings point into the caller's inputs. */
struct fleet_route {
	enum fleet_route_kind kind;
	const char *targets[FLEET_MAX_TARGETS];
	size_t ntargets;
	const char *holder; /* FLEET_RUNNING: where it runs */
	bool claim;	    /* a start: the name is to be held by targets[0] from now */
};

/*
 * Decides. name is NULL for status, and for a stop, restart, delete or
 * logs by pm_id (a pm_id is per node: it needs node unless the fleet is
 * one node); node is params.node or NULL;
 * holder is the node the name is recorded for (or NULL); self is the
 * deciding node, always a candidate for placement. A fleet of one (no live
 * node but self) sends everything for self to self.
 */
void fleet_route(enum fleet_verb verb, const char *name, const char *node, const char *holder,
		 const char *self, const struct fleet_view *view, struct fleet_route *out);

/* Rendezvous hashing: the node of nodes[0..n) with the highest score for
 * name (stable: a node joining moves only the names it wins). NULL when n
 * is 0. */
const char *fleet_place(const char *name, const char *const *nodes, size_t n);

#endif
