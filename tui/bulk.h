/*
 * bulk: marks and actions on many tasks at once (issue 12, item 3), and
 * how one key's action names its task (by name, or by pm_id when tasker
 * refuses the name: a process made with the pm2 CLI as "my app").
 *
 * Space marks or unmarks the selected row, * marks every row the filter
 * shows, u (or Esc) drops every mark. With marks, s, r and d ask ONE
 * question listing every marked task (a panel that scrolls), and y sends
 * one command per task (a row of another node names that node): by name
 * when every instance of the name on that node is marked ("all 4 instances
 * of api"), else one by pm_id per marked process (a name would reach the
 * unmarked instances too), and always by pm_id for a name tasker refuses;
 * the panel then shows each outcome as its reply arrives and a summary
 * ("3 ok, 1 failed"). A command by pm_id carries expect_name (the row's
 * name: the executor refuses it when PM2 renumbered). When the marks'
 * commands changed between the question and y, nothing is sent and the
 * question shows again.
 *
 * Marks are kept by node and pm_id with the name they had, so they survive
 * every refresh; a mark whose row is gone (or whose pm_id now holds another
 * name) is dropped.
 *
 * Must not: draw (draw.c draws the panel from bulk_panel()), or send
 * anything before y.
 */
#ifndef TASKER_TUI_BULK_H
#define TASKER_TUI_BULK_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct pm2_proc;

void bulk_free(struct app *app);

/* --- marks --- */
bool bulk_marked(const struct app *app, const struct pm2_proc *p);
size_t bulk_count(const struct app *app);
/* Marks p, or unmarks it when marked. */
void bulk_toggle(struct app *app, const struct pm2_proc *p);
/* Marks every row the table shows (the filter's and the node's); returns
 * how many rows that is. */
size_t bulk_mark_view(struct app *app);
void bulk_clear(struct app *app);
/* After the table changed: drops the marks whose row is gone. */
void bulk_prune(struct app *app);

/* --- acting --- */
/*
 * One key's action on one task, as the console sends it: by name, or by
 * pm_id when tasker would refuse the name (then with expect_name, and with
 * the row's node, a pm_id being per node: for a local row only when the
 * fleet view knows several live nodes). node: the row's node, "" for the
 * local PM2's.
 * Writes the request id into rid (33 bytes; "" when nothing was sent).
 */
void bulk_send_action(struct app *app, const char *verb, const char *name, const char *node,
		      int pm_id, char *rid);
/* Whether a task of this name is reached by its pm_id (tasker refuses
 * the name for a task). */
bool bulk_by_pm_id(const char *name);
/* s, r or d with marks: opens the question. False when nothing is marked. */
bool bulk_ask(struct app *app, const char *verb);
/* While the panel is open every key goes here; true when it took the key. */
bool bulk_key(struct app *app, int key);
/* A trusted reply: true when it answered one of the bulk's commands.
 * outcome: 1 success, 0 failure, -1 not final. line: the feed's text. */
bool bulk_reply(struct app *app, const char *request_id, const char *status, const char *error,
		int outcome);

/* --- what draw.c shows --- */
/* The panel, or NULL when none is open: a title and lines (each line's
 * first byte a kind: ' ' plain, '+' ok, '-' failed, '.' waiting), and the
 * first line shown. Owned by the bulk; valid until the next call. */
struct bulk_panel {
	const char *title;
	const char *const *lines;
	size_t nlines;
	size_t *scroll;
	const char *footer;
};
const struct bulk_panel *bulk_panel(struct app *app);
/* The hint line while there are marks or a panel is open, else NULL. */
const char *bulk_hints(const struct app *app);

#endif
