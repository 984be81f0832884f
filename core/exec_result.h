/*
 * exec_result: the result of a one-shot task (autorestart false) kept in
 * Redis and announced (docs/protocol.md, section 14). When PM2 says such a
 * task exited by itself, the executor writes its exit code (or the
 * signal that ended it, from the daemon's log), start and end time, duration and the last
 * RESULT_LINES lines of its stdout and stderr to RESULT_PREFIX<task> with
 * a TTL, and publishes the same object (type task_result) on the status
 * channel.
 */
#ifndef TASKER_EXEC_RESULT_H
#define TASKER_EXEC_RESULT_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct executor;
struct pm2_event;

#define RESULT_PREFIX "b00t:{tasker}:result:"
#define RESULT_LINES 50
#define RESULT_TTL_S (7 * 24 * 3600)

/* A process event from PM2 (untrusted): an "exit" of a task whose
 * autorestart is false, that the view knows under that pm_id and name,
 * becomes a result shortly after (its last output flushed). */
void exec_result_exit(struct executor *ex, const struct pm2_event *ev);

/* The last max lines of the file at path (read from its last 64 KiB):
 * each cut at 1000 bytes, bad UTF-8 and NUL as U+FFFD. A new array
 * (empty when the file cannot be read). */
cJSON *result_tail_lines(const char *path, size_t max);

/* A result command (/result --task=x, judged by the policy already):
 * answers with the stored result (a task_status reply, status ok with
 * "result", or not_found) once Redis has answered; entry (may be NULL):
 * the stream entry to acknowledge with the reply. */
struct exec_entry;
void exec_result_answer(struct executor *ex, const struct exec_entry *entry, const char *verb_word,
			const char *name, const char *request_id, const char *agent_id);

#endif
