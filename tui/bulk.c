/*
 * bulk: see bulk.h. The marks, the one question for many tasks, the
 * commands it sends and their outcomes; draw.c draws the panel.
 */
#include "bulk.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "command_check.h"
#include "command_target.h"
#include "keys.h"
#include "util.h"

/* A question shown less than this long ago was not read yet: a key is the
 * rest of a word or a paste, not an answer (as console.c's single one). */
#define GUARD_MS 300
#define SHOW_IDS 6 /* pm_ids listed per task in the question */

struct mark {
	char node[TASKS_NODE_MAX + 1];
	int pm_id;
	char *name;
};

enum item_state { IT_WAITING, IT_OK, IT_FAILED, IT_UNSENT };

/* One command of a bulk action: a name on a node (every instance of it
 * there is marked), or one pm_id. */
struct item {
	char *name;
	char node[TASKS_NODE_MAX + 1]; /* "" for the local PM2's rows */
	bool remote;
	int ids[SHOW_IDS];
	size_t nids;
	size_t total; /* by name: the instances of the name on its node (all marked) */
	int pm_id;    /* the first marked pm_id: what a by-pm_id item acts on */
	bool by_id;   /* sent by pm_id: the name is refused, or not all its instances are marked */
	char rid[33];
	enum item_state state;
	char *outcome; /* "stopped", "error: ..." */
};

enum panel { P_NONE, P_ASK, P_RESULT };

struct bulk {
	struct mark *marks;
	size_t nmarks;
	enum panel panel;
	const char *verb; /* "stop", "restart", "delete" */
	struct item *items;
	size_t nitems;
	int64_t asked_at;
	int64_t sent_at;
	size_t scroll;
	bool summed; /* the summary was said */
	/* What bulk_panel() last built. */
	char **lines;
	size_t nlines;
	char title[200];
	char footer[200];
	struct bulk_panel view;
};

static struct bulk *get(struct app *app)
{
	if (app->bulk == NULL)
		app->bulk = xcalloc(1, sizeof(*app->bulk));
	return app->bulk;
}

static void free_lines(struct bulk *b)
{
	for (size_t i = 0; i < b->nlines; i++)
		free(b->lines[i]);
	free(b->lines);
	b->lines = NULL;
	b->nlines = 0;
}

static void free_items(struct bulk *b)
{
	for (size_t i = 0; i < b->nitems; i++) {
		free(b->items[i].name);
		free(b->items[i].outcome);
	}
	free(b->items);
	b->items = NULL;
	b->nitems = 0;
}

void bulk_clear(struct app *app)
{
	struct bulk *b = app->bulk;
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->nmarks; i++)
		free(b->marks[i].name);
	free(b->marks);
	b->marks = NULL;
	b->nmarks = 0;
	app->dirty = true;
}

void bulk_free(struct app *app)
{
	struct bulk *b = app->bulk;
	if (b == NULL)
		return;
	bulk_clear(app);
	free_items(b);
	free_lines(b);
	free(b);
	app->bulk = NULL;
}

/* --- marks ---------------------------------------------------------------- */

static long find_mark(const struct bulk *b, const char *node, const struct pm2_proc *p)
{
	for (size_t i = 0; b != NULL && i < b->nmarks; i++)
		if (b->marks[i].pm_id == p->pm_id && strcmp(b->marks[i].node, node) == 0 &&
		    strcmp(b->marks[i].name, p->name) == 0)
			return (long)i;
	return -1;
}

bool bulk_marked(const struct app *app, const struct pm2_proc *p)
{
	return app->bulk != NULL && app->bulk->nmarks > 0 &&
	       find_mark(app->bulk, tasks_node_of(&app->tasks, p), p) >= 0;
}

size_t bulk_count(const struct app *app)
{
	return app->bulk ? app->bulk->nmarks : 0;
}

static void add_mark(struct bulk *b, const char *node, const struct pm2_proc *p)
{
	b->marks = xrealloc(b->marks, (b->nmarks + 1) * sizeof(*b->marks));
	struct mark *m = &b->marks[b->nmarks++];
	snprintf(m->node, sizeof(m->node), "%s", node);
	m->pm_id = p->pm_id;
	m->name = xstrdup(p->name);
}

static void drop_mark(struct bulk *b, size_t i)
{
	free(b->marks[i].name);
	memmove(&b->marks[i], &b->marks[i + 1], (b->nmarks - i - 1) * sizeof(*b->marks));
	b->nmarks--;
}

void bulk_toggle(struct app *app, const struct pm2_proc *p)
{
	if (p == NULL)
		return;
	struct bulk *b = get(app);
	const char *node = tasks_node_of(&app->tasks, p);
	long i = find_mark(b, node, p);
	if (i >= 0)
		drop_mark(b, (size_t)i);
	else
		add_mark(b, node, p);
	app->dirty = true;
}

size_t bulk_mark_view(struct app *app)
{
	struct bulk *b = get(app);
	const struct tasks *t = &app->tasks;
	for (size_t v = 0; v < t->nview; v++) {
		const struct pm2_proc *p = &t->procs[t->view[v]];
		const char *node = tasks_node_of(t, p);
		if (find_mark(b, node, p) < 0)
			add_mark(b, node, p);
	}
	app->dirty = true;
	return t->nview;
}

void bulk_prune(struct app *app)
{
	struct bulk *b = app->bulk;
	if (b == NULL || b->nmarks == 0)
		return;
	for (size_t i = b->nmarks; i-- > 0;) {
		const struct pm2_proc *p = tasks_find(&app->tasks, b->marks[i].node, b->marks[i].pm_id);
		if (p == NULL || strcmp(p->name, b->marks[i].name) != 0)
			drop_mark(b, i);
	}
}

/* --- sending ----------------------------------------------------------------- */

bool bulk_by_pm_id(const char *name)
{
	return check_task_name(name) != NULL;
}

/* The live nodes the console's fleet view knows (lost ones do not count). */
static size_t live_nodes(const struct app *app)
{
	size_t n = 0;
	for (size_t i = 0; i < app->nnodes; i++)
		n += !app->nodes[i].lost;
	return n;
}

/* One command: by name, or by pm_id (then with expect_name, the name the
 * row showed: the executor refuses it when PM2 renumbered and another
 * process holds the number now). node: "" for the local PM2's rows. */
static void send_one(struct app *app, const char *verb, const char *name, const char *node,
		     int pm_id, bool by_id, char *rid)
{
	rid[0] = '\0';
	/* A pm_id is PM2's number on one node: say which, for a remote row;
	 * for a local one only when several nodes are live (a fleet of one
	 * needs none, and the executor serving this PM2 may run under
	 * another node name than the console's --node). */
	const char *where = node;
	if (by_id && (where == NULL || where[0] == '\0'))
		where = live_nodes(app) > 1 ? app->cfg->node : NULL;
	char idtext[16];
	snprintf(idtext, sizeof(idtext), "%d", pm_id);
	struct slash_param params[3];
	size_t n = 0;
	params[n++] = (struct slash_param){(char *)(uintptr_t)(by_id ? "pm_id" : "task"),
					   (char *)(uintptr_t)(by_id ? idtext : name)};
	/* A name past the limit is not checked (protocol.md 17): the pm_id alone. */
	if (by_id && strlen(name) > 0 && strlen(name) <= COMMAND_EXPECT_NAME_MAX)
		params[n++] = (struct slash_param){(char *)(uintptr_t) "expect_name",
						   (char *)(uintptr_t)name};
	if (where != NULL && where[0] != '\0')
		params[n++] = (struct slash_param){(char *)(uintptr_t) "node", (char *)(uintptr_t)where};
	struct slash_line l = {
		.verb = (char *)(uintptr_t)verb,
		.has_params = true,
		.params = params,
		.nparams = n,
		.content = NULL,
	};
	console_publish(app, &l, rid);
}

void bulk_send_action(struct app *app, const char *verb, const char *name, const char *node,
		      int pm_id, char *rid)
{
	send_one(app, verb, name, node, pm_id, pm_id >= 0 && bulk_by_pm_id(name), rid);
}

static void free_item_array(struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].name);
		free(items[i].outcome);
	}
	free(items);
}

/* The marks as commands. A name reaches every instance of it on its node
 * (protocol.md 17): one by-name command when every instance there is
 * marked, else one by-pm_id command per marked process; a name tasker
 * refuses always goes by pm_id. */
static struct item *build_items(struct app *app, const struct bulk *b, size_t *count)
{
	struct item *items = xcalloc(b->nmarks + 1, sizeof(*items));
	size_t n = 0;
	for (size_t i = 0; i < b->nmarks; i++) {
		const struct mark *m = &b->marks[i];
		const struct pm2_proc *p = tasks_find(&app->tasks, m->node, m->pm_id);
		if (p == NULL)
			continue;
		bool by_id = bulk_by_pm_id(m->name);
		size_t total = 1;
		if (!by_id) {
			/* How many of this name's instances on the node are marked. */
			int all[SHOW_IDS];
			total = tasks_instances_on(&app->tasks, m->node, m->name, all, SHOW_IDS);
			size_t marked = 0;
			for (size_t k = 0; k < b->nmarks; k++)
				marked += strcmp(b->marks[k].node, m->node) == 0 &&
					  strcmp(b->marks[k].name, m->name) == 0 &&
					  tasks_find(&app->tasks, m->node, b->marks[k].pm_id) != NULL;
			by_id = marked < total;
		}
		struct item *it = NULL;
		for (size_t k = 0; !by_id && k < n && it == NULL; k++)
			if (!items[k].by_id && strcmp(items[k].node, m->node) == 0 &&
			    strcmp(items[k].name, m->name) == 0)
				it = &items[k];
		if (it == NULL) {
			it = &items[n++];
			it->name = xstrdup(m->name);
			snprintf(it->node, sizeof(it->node), "%s", m->node);
			it->remote = fleet_row_remote(app, p);
			it->pm_id = m->pm_id;
			it->by_id = by_id;
			it->total = by_id ? 1 : total;
		}
		if (it->nids < SHOW_IDS)
			it->ids[it->nids++] = m->pm_id;
	}
	*count = n;
	return items;
}

/* Whether two lists of commands send the same thing. */
static bool same_items(const struct item *a, size_t na, const struct item *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) != 0 || strcmp(a[i].node, b[i].node) != 0 ||
		    a[i].by_id != b[i].by_id || a[i].pm_id != b[i].pm_id ||
		    a[i].total != b[i].total || a[i].nids != b[i].nids ||
		    memcmp(a[i].ids, b[i].ids, a[i].nids * sizeof(a[i].ids[0])) != 0)
			return false;
	return true;
}

static const char *past(const char *verb)
{
	return strcmp(verb, "stop") == 0 ? "stopped" : strcmp(verb, "restart") == 0 ? "restarted"
										  : "deleted";
}

bool bulk_ask(struct app *app, const char *verb)
{
	struct bulk *b = app->bulk;
	if (b == NULL || b->nmarks == 0)
		return false;
	bulk_prune(app);
	free_items(b);
	b->items = build_items(app, b, &b->nitems);
	if (b->nitems == 0) {
		bulk_clear(app);
		return false;
	}
	b->verb = verb;
	b->panel = P_ASK;
	b->scroll = 0;
	b->asked_at = loop_now(app->loop);
	app->dirty = true;
	return true;
}

static void send_all(struct app *app, struct bulk *b)
{
	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		send_one(app, b->verb, it->name, it->remote ? it->node : "", it->pm_id, it->by_id,
			 it->rid);
		it->state = it->rid[0] ? IT_WAITING : IT_UNSENT;
		if (!it->rid[0])
			it->outcome = xstrdup("not sent (see the message bar)");
	}
	b->panel = P_RESULT;
	b->summed = false;
	b->scroll = 0;
	b->sent_at = loop_now(app->loop);
	/* Sent: the marks have done their work (a deleted row's would go anyway). */
	bulk_clear(app);
}

/* Says the summary once every command is answered. */
static void maybe_sum(struct app *app, struct bulk *b)
{
	size_t ok = 0, failed = 0;
	for (size_t i = 0; i < b->nitems; i++) {
		if (b->items[i].state == IT_WAITING)
			return;
		if (b->items[i].state == IT_OK)
			ok++;
		else
			failed++;
	}
	if (b->summed)
		return;
	b->summed = true;
	char text[200];
	snprintf(text, sizeof(text), "bulk %s: %zu ok, %zu failed", b->verb, ok, failed);
	if (failed > 0) {
		app_message(app, MSG_ERROR, "%s", text);
	} else {
		app_message(app, MSG_OK, "%s", text);
		app_feed(app, FEED_OK, text);
	}
}

bool bulk_reply(struct app *app, const char *request_id, const char *status, const char *error,
		int outcome)
{
	struct bulk *b = app->bulk;
	if (b == NULL || request_id == NULL || outcome < 0)
		return false;
	for (size_t i = 0; i < b->nitems; i++) {
		struct item *it = &b->items[i];
		if (it->state != IT_WAITING || strcmp(it->rid, request_id) != 0)
			continue;
		it->state = outcome == 1 ? IT_OK : IT_FAILED;
		free(it->outcome);
		if (error != NULL && error[0] != '\0')
			it->outcome = xasprintf("%s: %s", status ? status : "error", error);
		else
			it->outcome = xstrdup(status ? status : "done");
		maybe_sum(app, b);
		app->dirty = true;
		return true;
	}
	return false;
}

/* --- keys ----------------------------------------------------------------- */

static size_t page_rows(const struct app *app)
{
	int r = app->table_rows + app->feed_rows - 6;
	return r > 1 ? (size_t)r : 1;
}

/* Scroll keys move the list; true when key was one. */
static bool scroll_key(struct app *app, struct bulk *b, int key)
{
	size_t page = page_rows(app);
	size_t max = b->nitems > page ? b->nitems - page : 0;
	switch (key) {
	case KEYC_UP:
	case 'k':
		if (b->scroll > 0)
			b->scroll--;
		break;
	case KEYC_DOWN:
	case 'j':
		if (b->scroll < max)
			b->scroll++;
		break;
	case KEYC_PGUP:
		b->scroll = b->scroll > page ? b->scroll - page : 0;
		break;
	case KEYC_PGDN:
		b->scroll = b->scroll + page < max ? b->scroll + page : max;
		break;
	case KEYC_HOME:
		b->scroll = 0;
		break;
	case KEYC_END:
		b->scroll = max;
		break;
	default:
		return false;
	}
	app->dirty = true;
	return true;
}

bool bulk_key(struct app *app, int key)
{
	struct bulk *b = app->bulk;
	if (b == NULL || b->panel == P_NONE)
		return false;
	if (b->panel == P_ASK && loop_now(app->loop) - b->asked_at < GUARD_MS)
		return true; /* typed before the question showed */
	if (scroll_key(app, b, key))
		return true;
	if (b->panel == P_ASK) {
		if (key == 'y' || key == 'Y') {
			/* The table moved since the question (an instance came or
			 * went, a pm_id holds another name): ask again, never send
			 * what was not asked. */
			bulk_prune(app);
			size_t n;
			struct item *now = build_items(app, b, &n);
			if (!same_items(now, n, b->items, b->nitems)) {
				free_items(b);
				b->items = now;
				b->nitems = n;
				b->asked_at = loop_now(app->loop);
				b->scroll = 0;
				if (n == 0) {
					b->panel = P_NONE;
					bulk_clear(app);
				}
				app_message(app, MSG_INFO,
					    n == 0 ? "the marked tasks are gone: nothing was %s"
						   : "the marked tasks changed: nothing was %s yet, "
						     "read the question again",
					    past(b->verb));
				app->dirty = true;
				return true;
			}
			free_item_array(now, n);
			send_all(app, b);
		} else {
			app_message(app, MSG_INFO, "cancelled: nothing was %s (only y goes on); the marks stay",
				    past(b->verb));
			b->panel = P_NONE;
			free_items(b);
		}
	} else {
		/* The result panel closes on any other key; the replies still
		 * to come go on into the feed and the summary. */
		b->panel = P_NONE;
	}
	app->dirty = true;
	return true;
}

/* --- what draw.c shows ----------------------------------------------------- */

static char *item_line(const struct app *app, const struct bulk *b, const struct item *it)
{
	char ids[100] = "";
	size_t o = 0;
	for (size_t k = 0; k < it->nids && o < sizeof(ids); k++)
		o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%d", k ? ", " : "", it->ids[k]);
	if (it->total > it->nids && o < sizeof(ids))
		snprintf(ids + o, sizeof(ids) - o, ", ...");
	char on[TASKS_NODE_MAX + 16] = "";
	if (it->remote || (it->by_id && app->nnodes > 1))
		snprintf(on, sizeof(on), " on node %s", it->node);
	/* A name reaches every instance: the question says so (as ask() does). */
	char all[120] = "";
	if (!it->by_id && it->total > 1)
		snprintf(all, sizeof(all), "all %zu instances of ", it->total);
	if (b->panel == P_ASK)
		return xasprintf("  %s%s (pm_id%s %s%s)%s", all, it->name, it->nids > 1 ? "s" : "",
				 ids, it->by_id ? ", by its pm_id" : "", on);
	char which[40] = "";
	if (it->by_id)
		snprintf(which, sizeof(which), " (pm_id %d)", it->pm_id);
	else if (it->total > 1)
		snprintf(which, sizeof(which), " (%zu instances)", it->total);
	char kind = it->state == IT_OK ? '+' : it->state == IT_WAITING ? '.' : '-';
	const char *mark = it->state == IT_OK ? "✓" : it->state == IT_WAITING ? "…" : "✗";
	const char *what = it->state == IT_WAITING
				   ? (loop_now(app->loop) - b->sent_at > APP_REPLY_WAIT_MS
					      ? "no answer yet"
					      : "waiting")
				   : it->outcome;
	return xasprintf("%c%s %s%s%s: %s", kind, mark, it->name, which, on, what ? what : "");
}

const struct bulk_panel *bulk_panel(struct app *app)
{
	struct bulk *b = app->bulk;
	if (b == NULL || b->panel == P_NONE)
		return NULL;
	free_lines(b);
	b->lines = xcalloc(b->nitems + 1, sizeof(char *));
	size_t ok = 0, failed = 0;
	for (size_t i = 0; i < b->nitems; i++) {
		b->lines[b->nlines++] = item_line(app, b, &b->items[i]);
		ok += b->items[i].state == IT_OK;
		failed += b->items[i].state == IT_FAILED || b->items[i].state == IT_UNSENT;
	}
	const char *Verb = strcmp(b->verb, "stop") == 0 ? "Stop" : strcmp(b->verb, "restart") == 0 ? "Restart"
													: "Delete";
	if (b->panel == P_ASK) {
		snprintf(b->title, sizeof(b->title), " %s %zu marked task%s? ", Verb, b->nitems,
			 b->nitems == 1 ? "" : "s");
		snprintf(b->footer, sizeof(b->footer), "y: %s all %zu%s   ↑↓ PgUp PgDn: scroll   any other key: cancel",
			 b->verb, b->nitems,
			 strcmp(b->verb, "delete") == 0 ? " (removed from PM2)" : "");
	} else {
		size_t answered = ok + failed;
		snprintf(b->title, sizeof(b->title), " bulk %s: %zu of %zu answered · %zu ok, %zu failed ",
			 b->verb, answered, b->nitems, ok, failed);
		snprintf(b->footer, sizeof(b->footer), "↑↓ PgUp PgDn: scroll   any other key: close");
	}
	b->view = (struct bulk_panel){b->title, (const char *const *)b->lines, b->nlines, &b->scroll,
				      b->footer};
	return &b->view;
}

const char *bulk_hints(const struct app *app)
{
	static char buf[200];
	const struct bulk *b = app->bulk;
	if (b == NULL)
		return NULL;
	if (b->panel == P_ASK)
		return " y go on  ↑↓ PgUp PgDn scroll the list  any other key: cancel";
	if (b->panel == P_RESULT)
		return " ↑↓ PgUp PgDn scroll  any other key: close (outcomes go on in the feed)";
	if (b->nmarks == 0)
		return NULL;
	snprintf(buf, sizeof(buf),
		 " %zu marked: s stop  r restart  d delete them  Space mark  * mark shown  u unmark all  "
		 "? help  q quit",
		 b->nmarks);
	return buf;
}
