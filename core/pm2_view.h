/*
 * pm2_view: what PM2's processes are, as last seen, kept live from the
 * daemon's own events (pub.sock) between full listings, so that a command
 * can decide without asking the daemon for its whole process list.
 *
 * Owns: a table of processes keyed by pm_id (name, status, pid, restarts),
 * how a process event changes it, how a full listing is merged into it
 * without undoing what was learnt while that listing was on its way, and
 * which entries cannot be trusted (a process in flux: PM2 may be
 * restarting it, or someone announced a delete).
 *
 * Pure: no IO, no clock. Whether the view as a whole can be trusted (the
 * event socket up since a listing, no failed call since) is the caller's
 * business (exec_view.c); this module only keeps the table.
 *
 * Ordering: every change is stamped with a sequence number. A listing is
 * requested at some sequence number (pm2_view_seq); when it arrives, an
 * entry changed after that point keeps what the view learnt (it is newer
 * than, or as new as, what the listing could have seen), every other entry
 * takes the listing's word, and an entry the listing lacks is dropped.
 */
#ifndef TASKER_PM2_VIEW_H
#define TASKER_PM2_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm2.h"

struct pm2_view;

/* A new, empty view; free it with pm2_view_free. */
struct pm2_view *pm2_view_new(void);
void pm2_view_free(struct pm2_view *v);

/* The sequence number to remember when a listing is requested. */
uint64_t pm2_view_seq(const struct pm2_view *v);

/* Merges a full listing requested at sequence number since (see above).
 * procs stay the caller's. */
void pm2_view_listed(struct pm2_view *v, const struct pm2_proc *procs, size_t n, uint64_t since);

/* Applies one event from pub.sock (untrusted: anything not a process event
 * with a pm_id and a name is ignored). */
void pm2_view_event(struct pm2_view *v, const struct pm2_event *ev);

/* What a call of ours established: pm_id now runs name with status st (a
 * prepare or a restart answered, a stop answered), or pm_id is gone (a
 * delete answered). pid 0: unknown or none. */
void pm2_view_set(struct pm2_view *v, int pm_id, const char *name, enum pm2_status st, int pid);
void pm2_view_gone(struct pm2_view *v, int pm_id);

/*
 * The processes named name, as records filled with what the view knows
 * (pm_id, name, status and its text, pid, restart_time; every other field
 * empty). The strings are borrowed from the view: valid until its next
 * change. Returns how many there are (at most max are written);
 * *uncertain is set when any of them is in flux, and the caller should
 * ask the daemon instead.
 */
size_t pm2_view_find(const struct pm2_view *v, const char *name, struct pm2_proc *out, size_t max,
                     bool *uncertain);

/* Processes in the view (not counting those known to be gone). */
size_t pm2_view_count(const struct pm2_view *v);

#endif
