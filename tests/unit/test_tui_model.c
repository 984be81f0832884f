/*
 * Unit tests for the console's pure model: the task table (sort, filter,
 * selection that follows its task) and the key decoder.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "keys.h"
#include "tasks.h"
#include "util.h"

static struct pm2_proc *make_procs(size_t n, const char *const *names, const int *ids,
				   const double *cpu)
{
	struct pm2_proc *p = xcalloc(n, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		p[i].pm_id = ids[i];
		p[i].name = xstrdup(names[i]);
		p[i].namespace = xstrdup("default");
		p[i].status = xstrdup("online");
		p[i].state = PM2_ST_ONLINE;
		p[i].exec_mode = xstrdup("fork_mode");
		p[i].pm_cwd = xstrdup("/");
		p[i].pm_exec_path = xstrdup("/bin/sleep");
		p[i].exec_interpreter = xstrdup("none");
		p[i].out_log_path = xstrdup("");
		p[i].err_log_path = xstrdup("");
		p[i].cpu = cpu ? cpu[i] : 0;
	}
	return p;
}

static void selection_follows_task(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	const char *names[] = {"api", "web", "db"};
	int ids[] = {0, 1, 2};
	tasks_replace(&t, make_procs(3, names, ids, NULL), 3, 0);
	assert_int_equal(t.selected, 0);
	tasks_move(&t, 2);
	assert_int_equal(t.selected, 2);
	/* Sorting by name moves db from row 2 to row 1: still selected. */
	tasks_sort_by(&t, COL_NAME);
	assert_int_equal(t.selected, 2);
	assert_int_equal(tasks_selected_row(&t), 1);
	const char *names2[] = {"web", "db", "api", "new"};
	int ids2[] = {1, 2, 0, 3};
	tasks_replace(&t, make_procs(4, names2, ids2, NULL), 4, 0);
	assert_int_equal(t.selected, 2);
	assert_string_equal(tasks_selected(&t)->name, "db");
	/* The selected task disappears: the selection stays on its row (1),
	 * now holding "new" (api, new, web). */
	const char *names3[] = {"web", "api", "new"};
	int ids3[] = {1, 0, 3};
	tasks_replace(&t, make_procs(3, names3, ids3, NULL), 3, 0);
	assert_int_equal(tasks_selected_row(&t), 1);
	assert_string_equal(tasks_selected(&t)->name, "new");
	tasks_free(&t);
}

static void sort_and_filter(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	const char *names[] = {"alpha", "beta", "gamma", "alphabet"};
	int ids[] = {0, 1, 2, 3};
	double cpu[] = {5, 50, 1, 50};
	tasks_replace(&t, make_procs(4, names, ids, cpu), 4, 0);
	tasks_sort_by(&t, COL_CPU); /* descending first for load columns */
	assert_true(t.descending);
	/* Equal CPU keeps pm_id order: a table must not shuffle on ties. */
	assert_string_equal(t.procs[t.view[0]].name, "beta");
	assert_string_equal(t.procs[t.view[1]].name, "alphabet");
	assert_string_equal(t.procs[t.view[3]].name, "gamma");
	tasks_sort_by(&t, COL_CPU);
	assert_false(t.descending);
	assert_string_equal(t.procs[t.view[0]].name, "gamma");
	tasks_set_filter(&t, "ALPHA");
	assert_int_equal(t.nview, 2);
	tasks_set_filter(&t, "nomatch");
	assert_int_equal(t.nview, 0);
	assert_null(tasks_selected(&t));
	tasks_move(&t, 1); /* nothing to move in: no crash */
	tasks_set_filter(&t, "");
	assert_int_equal(t.nview, 4);
	enum tasks_col c;
	assert_int_equal(tasks_col_parse("mem", &c), 0);
	assert_int_equal(c, COL_MEMORY);
	assert_int_equal(tasks_col_parse("bogus", &c), -1);
	int on, st, er, ot;
	tasks_count(&t, &on, &st, &er, &ot);
	assert_int_equal(on, 4);
	const char **tn;
	size_t n = tasks_names(&t, &tn);
	assert_int_equal(n, 4);
	free(tn);
	tasks_free(&t);
}

static void scrolling(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	const char *names[20];
	int ids[20];
	char buf[20][8];
	for (int i = 0; i < 20; i++) {
		snprintf(buf[i], sizeof(buf[i]), "t%02d", i);
		names[i] = buf[i];
		ids[i] = i;
	}
	tasks_replace(&t, make_procs(20, names, ids, NULL), 20, 0);
	tasks_end(&t);
	tasks_scroll_into_view(&t, 5);
	assert_int_equal(t.top, 15);
	tasks_home(&t);
	tasks_scroll_into_view(&t, 5);
	assert_int_equal(t.top, 0);
	tasks_move(&t, 7);
	tasks_scroll_into_view(&t, 5);
	assert_int_equal(t.top, 3);
	tasks_move(&t, -100);
	assert_int_equal(t.selected, 0);
	tasks_free(&t);
}

static void keys(void **state)
{
	(void)state;
	int k;
	assert_int_equal(keys_decode((const unsigned char *)"\033[A", 3, 1, &k), 3);
	assert_int_equal(k, KEYC_UP);
	assert_int_equal(keys_decode((const unsigned char *)"\033OB", 3, 1, &k), 3);
	assert_int_equal(k, KEYC_DOWN);
	assert_int_equal(keys_decode((const unsigned char *)"\033[5~x", 5, 1, &k), 4);
	assert_int_equal(k, KEYC_PGUP);
	assert_int_equal(keys_decode((const unsigned char *)"\033[21~", 5, 1, &k), 5);
	assert_int_equal(k, KEYC_F10);
	assert_int_equal(keys_decode((const unsigned char *)"\033OP", 3, 1, &k), 3);
	assert_int_equal(k, KEYC_F1);
	/* A lone ESC is the Escape key only when nothing more is coming. */
	assert_int_equal(keys_decode((const unsigned char *)"\033", 1, 0, &k), 0);
	assert_int_equal(keys_decode((const unsigned char *)"\033", 1, 1, &k), 1);
	assert_int_equal(k, KEYC_ESC);
	/* A partial CSI waits; an unknown complete one is consumed whole. */
	assert_int_equal(keys_decode((const unsigned char *)"\033[1;5", 5, 0, &k), 0);
	assert_int_equal(keys_decode((const unsigned char *)"\033[1;5Cq", 7, 1, &k), 6);
	assert_int_equal(k, KEYC_UNKNOWN);
	assert_int_equal(keys_decode((const unsigned char *)"\r", 1, 1, &k), 1);
	assert_int_equal(k, KEYC_ENTER);
	assert_int_equal(keys_decode((const unsigned char *)"q", 1, 1, &k), 1);
	assert_int_equal(k, 'q');
	/* Alt+x: Escape, then x on its own. */
	assert_int_equal(keys_decode((const unsigned char *)"\033x", 2, 1, &k), 1);
	assert_int_equal(k, KEYC_ESC);
}

static void paste_markers(void **state)
{
	(void)state;
	int begin = -1;
	const unsigned char *b = (const unsigned char *)"\033[200~system\033[201~";
	assert_int_equal(keys_paste_marker(b, 18, &begin), 6);
	assert_int_equal(begin, 1);
	assert_int_equal(keys_paste_marker(b + 12, 6, &begin), 6);
	assert_int_equal(begin, 0);
	assert_int_equal(keys_paste_marker(b, 5, &begin), 0);
	assert_int_equal(keys_paste_marker((const unsigned char *)"\033[A", 3, &begin), 0);
	/* Tails cut by a read: held back whole, whatever their length. */
	assert_int_equal(keys_partial_tail((const unsigned char *)"ab\033", 3), 1);
	assert_int_equal(keys_partial_tail((const unsigned char *)"ab\033[20", 5), 3);
	assert_int_equal(keys_partial_tail((const unsigned char *)"\033[201", 5), 5);
	assert_int_equal(keys_partial_tail((const unsigned char *)"ab", 2), 0);
	assert_int_equal(keys_partial_tail((const unsigned char *)"\033[A", 3), 0);
	assert_int_equal(keys_partial_tail((const unsigned char *)"", 0), 0);
}

static void feed_ring(void **state)
{
	(void)state;
	struct feed f;
	feed_init(&f, 3);
	feed_add(&f, "t1", FEED_OK, "one");
	feed_add(&f, "t2", FEED_OK, "two\nlines\there");
	assert_string_equal(feed_get(&f, 1)->text, "two lines here");
	feed_add(&f, "t3", FEED_ERROR, "three");
	feed_add(&f, "t4", FEED_INFO, "four");
	assert_int_equal(f.count, 3);
	assert_string_equal(feed_get(&f, 0)->text, "two lines here");
	assert_string_equal(feed_get(&f, 2)->text, "four");
	assert_null(feed_get(&f, 3));
	feed_scroll(&f, 10, 2);
	assert_int_equal(f.scroll, 1);
	feed_scroll(&f, -10, 2);
	assert_int_equal(f.scroll, 0);
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	feed_add(&f, "t5", FEED_INFO, big); /* truncated, not overflowed */
	assert_true(strlen(feed_get(&f, 2)->text) < sizeof(big));
	feed_clear(&f);
	assert_int_equal(f.count, 0);
	feed_free(&f);
}

/* A key on one row acts on the task's name, so on every instance of it:
 * the question must name them all, whatever the filter shows. */
static void instances_by_name(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	const char *names[] = {"web", "api", "web", "web"};
	int ids[] = {9, 1, 5, 2};
	tasks_replace(&t, make_procs(4, names, ids, NULL), 4, 0);
	tasks_set_filter(&t, "api");
	int got[5] = {-1, -1, -1, -1, -1};
	assert_int_equal(tasks_instances(&t, "web", got, 5), 3);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], 5);
	assert_int_equal(got[2], 9);
	assert_int_equal(got[3], -1);
	/* Fewer slots than instances: the count is whole, the ids the lowest. */
	int two[2];
	assert_int_equal(tasks_instances(&t, "web", two, 2), 3);
	assert_int_equal(two[0], 2);
	assert_int_equal(two[1], 5);
	assert_int_equal(tasks_instances(&t, "web", NULL, 0), 3);
	assert_int_equal(tasks_instances(&t, "api", got, 5), 1);
	assert_int_equal(got[0], 1);
	assert_int_equal(tasks_instances(&t, "nope", got, 5), 0);
	/* Names match whole, not as a prefix or a pattern. */
	assert_int_equal(tasks_instances(&t, "we", got, 5), 0);
	tasks_free(&t);
}

/* The fleet: pm_ids repeat across nodes; the selection is (node, pm_id),
 * the node filter narrows the view, instances count within one node. */
static void nodes_and_selection(void **state)
{
	(void)state;
	struct tasks t;
	tasks_init(&t);
	const char *names[] = {"api", "api", "job"};
	const int ids[] = {0, 0, 1};
	char **nodes = xcalloc(3, sizeof(char *));
	nodes[0] = xstrdup("n1");
	nodes[1] = xstrdup("n2");
	nodes[2] = xstrdup("n2");
	bool *lost = xcalloc(3, sizeof(bool));
	lost[1] = true;
	tasks_replace_nodes(&t, make_procs(3, names, ids, NULL), nodes, lost, 3);
	assert_string_equal(t.selected_node, "n1");
	tasks_move(&t, 1);
	assert_int_equal(t.selected, 0);
	assert_string_equal(t.selected_node, "n2");
	assert_true(tasks_lost(&t, tasks_selected(&t)));
	assert_string_equal(tasks_node_of(&t, tasks_selected(&t)), "n2");
	int got[4];
	assert_int_equal(tasks_instances(&t, "api", got, 4), 2);
	assert_int_equal(tasks_instances_on(&t, "n2", "api", got, 4), 1);
	assert_non_null(tasks_find(&t, "n2", 1));
	assert_null(tasks_find(&t, "n1", 1));
	tasks_set_node_filter(&t, "n2");
	assert_int_equal(t.nview, 2);
	assert_string_equal(t.selected_node, "n2");
	tasks_set_node_filter(&t, "n1");
	assert_int_equal(t.nview, 1);
	assert_string_equal(t.selected_node, "n1"); /* the old row is not shown */
	tasks_set_node_filter(&t, "");
	assert_int_equal(t.nview, 3);
	enum tasks_col c;
	assert_int_equal(tasks_col_parse("node", &c), 0);
	assert_int_equal(c, COL_NODE);
	tasks_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(selection_follows_task),
		cmocka_unit_test(sort_and_filter),
		cmocka_unit_test(scrolling),
		cmocka_unit_test(keys),
		cmocka_unit_test(paste_markers),
		cmocka_unit_test(feed_ring),
		cmocka_unit_test(instances_by_name),
		cmocka_unit_test(nodes_and_selection),
	};
	UNIT_RUN("tui_model", tests);
}
