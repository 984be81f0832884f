/*
 * exec_fleet_int: what the fleet's files share (docs/fleet.md): the state
 * of the stream intake, its Redis scripts, and the steps one file hands to
 * another. exec_fleet.c reads the streams and carries out this node's
 * entries; exec_fleet_view.c gathers the view of the fleet (live nodes,
 * task tables); exec_admit.c admits pub/sub messages into the intake;
 * exec_dispatch.c decides where each intake entry goes.
 */
#ifndef TASKER_EXEC_FLEET_INT_H
#define TASKER_EXEC_FLEET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "fleet_admit.h"
#include "fleet_route.h"
#include "loop.h"

struct bus;
struct executor;

#define GROUP "tasker"
#define READ_COUNT "100"
#define READ_BLOCK_MS "2000"
#define VIEW_EVERY_MS 1000  /* the fleet view (live nodes, task tables) */
#define CLAIM_EVERY_MS 5000 /* entries a dead dispatcher held */
#define CLAIM_IDLE_MS "10000"
#define STREAM_MAXLEN FLEET_ADMIT_MAXLEN
#define PRESENCE_MATCH "b00t:tasker:executor:*"

extern const char fleet_forward_lua[];
extern const char fleet_reply_lua[];

/* The failover definition's part of the reply script (exec_failover.c,
 * docs/fleet.md "Failover"): KEYS[5] the def hash, KEYS[6] the set of
 * names with one; ARGV[5] this node, ARGV[7] the op, ARGV[8] the
 * definition, ARGV[9] the task name, ARGV[10] and ARGV[11] the start's
 * owner and owner key (TASKER_OWNER, TASKER_OWNER_KEY). A start with failover ("def") writes
 * it, naming this node (a new epoch when it named another); a start
 * without ("plain") and a delete that deleted ("delete") remove it, a
 * not_found delete only when it names this node ("forget"); stop and
 * restart mark it stopped or active when it names this node. A key of
 * another type (not written by tasker) is left alone: the reply has gone
 * out already, and must not turn into an error. */
#define FLEET_DEF_LUA \
	"local function defop(dop) " \
	"local dnode = redis.call('HGET', KEYS[5], 'node') " \
	"if dop == 'def' then " \
	"local ep = tonumber(redis.call('HGET', KEYS[5], 'epoch')) or 0 " \
	"if dnode ~= ARGV[5] or ep < 1 then ep = ep + 1 end " \
	"redis.call('HSET', KEYS[5], 'msg', ARGV[8], 'node', ARGV[5], 'epoch', ep, " \
	"'state', 'active', 'owner', ARGV[10], 'owner_key', ARGV[11]) " \
	"redis.call('HDEL', KEYS[5], 'gone:' .. ARGV[5], 'lost_since', 'lost_node') " \
	"redis.call('SADD', KEYS[6], ARGV[9]) " \
	"elseif dop == 'plain' or dop == 'delete' or (dop == 'forget' and dnode == ARGV[5]) then " \
	"if redis.call('DEL', KEYS[5]) == 1 then redis.call('SREM', KEYS[6], ARGV[9]) end " \
	"elseif (dop == 'stop' or dop == 'restart') and dnode == ARGV[5] then " \
	"redis.call('HSET', KEYS[5], 'state', dop == 'stop' and 'stopped' or 'active') end end " \
	"if ARGV[7] ~= '' then pcall(defop, ARGV[7]) end "


struct fleet {
	struct executor *ex;
	char *prefix; /* b00t:{tasker}:<channel>: */
	char *k_commands, *k_node, *k_acting;
	char *k_defs; /* the set of task names with a failover definition */
	bool usable;	 /* the stream commands work on this Redis */
	bool complained; /* the fallback was logged */
	int64_t passing_said; /* when a passing refusal was last logged */
	bool reading;	 /* a read is in flight on the reader connection */
	bool groups;	 /* both groups exist */
	bool grouping;	 /* their creation is in flight */
	bool view_ready; /* a first view of the fleet is in: dispatch may start */
	bool view_failed; /* a step of the view being gathered failed */
	char cur_commands[48], cur_node[48]; /* "0" (pending), an id, or ">" */
	bool sent_pending_c, sent_pending_n;  /* what the read in flight asked */
	bool rewind; /* read this node's pending entries again after this read */
	bool held;   /* reading waits for commands to finish (back-pressure) */
	/* Pub/sub messages waiting for the publish connection to be admitted. */
	char **queued;
	size_t *queued_len, nqueued;
	size_t queued_bytes;
	bool queue_full_said;
	/* Entries of the node stream being carried out here: not again. */
	char **live;
	size_t nlive;
	/* The view (refreshed every VIEW_EVERY_MS). */
	char **nodes;
	size_t nnodes;
	struct fleet_task_ref *tasks;
	size_t ntasks;
	cJSON **tables; /* roots the task refs point into */
	uint64_t *table_hash; /* of each table's bytes (exec_fleet_view.c) */
	size_t ntables;
	/* A view being gathered. */
	int view_pending;
	int64_t gather_from; /* loop ms when the view being gathered began */
	int64_t view_from;   /* ... and when the installed one did */
	/* Entries a not_found waits on: answered from a view begun after them. */
	struct deferred_entry *deferred;
	size_t ndeferred;
	char **v_nodes;
	size_t v_nnodes;
	char **v_tables;
	size_t v_ntables;
	struct loop_timer *view_timer, *claim_timer;
	struct failover *failover; /* exec_failover.c */
};

/* exec_fleet.c */
char *fleet_key(const struct fleet *f, const char *what, const char *name);
bool fleet_refused(const redisReply *r);
/* Redis refused the streams: for good (fall back to direct handling) or
 * for now (retried). */
void fleet_fall_back(struct fleet *f, const redisReply *r);
void fleet_read_next(struct fleet *f);
void fleet_reader_kick(struct fleet *f);
/* The reply to a script that acknowledges: logs a refusal. */
void fleet_on_acked(struct bus *bus, redisReply *r, void *arg);

/* An intake entry whose answer waits for a fresher view (exec_dispatch.c). */
struct deferred_entry {
	char *id, *data;
	size_t len;
	int64_t read_at; /* loop ms */
};

/* exec_fleet_view.c: gathers the view every VIEW_EVERY_MS (re-arms itself);
 * fleet_view_refresh starts gathering now unless a gathering is under way. */
void fleet_strings_free(char **v, size_t n);
void fleet_view_tick(struct loop *loop, void *arg);
void fleet_view_refresh(struct fleet *f);

/* exec_failover.c: after each view installed, looks for definitions whose
 * node is lost (and moves them once the grace is over) and for local
 * copies of tasks that failed over elsewhere (and deletes them). */
void fleet_failover_tick(struct fleet *f);
void fleet_failover_free(struct fleet *f);

/* exec_admit.c */
void fleet_queue_admission(struct fleet *f, const char *data, size_t len);
void fleet_flush_admissions(struct fleet *f);

/* exec_dispatch.c: one entry of the commands stream. */
void fleet_dispatch(struct fleet *f, const char *id, const char *data, size_t len);
/* Dispatches the deferred entries again (a new view is in); frees them. */
void fleet_dispatch_deferred(struct fleet *f);
void fleet_deferred_free(struct fleet *f);

#endif
