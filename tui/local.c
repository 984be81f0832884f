/*
 * local: the console's --local mode. It may start a private redis-server
 * (before the loop, when nothing answers at the default address), and it
 * runs an executor inside the console, but only while no other live
 * executor of the same node serves the same command channel: two
 * executors on one channel carry out every command twice.
 *
 * Executors announce themselves with the presence key
 * b00t:tasker:executor:<node> (core/executor.c, docs/protocol.md): a JSON
 * value naming its pid and channel, written every 10 s with a 30 s expiry.
 * This file reads that key when Redis is ready and on every executor scan,
 * starts the in-process executor when the key names no other live one, and
 * says on screen why it holds back or what it found. It never drives PM2
 * itself (the executor does) and never exits the console.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "app.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* --- a private redis-server ------------------------------------------------------------- */

bool local_redis_answers(const struct redis_url *url)
{
	struct timeval tv = {0, 300000};
	redisContext *c = url->is_unix ? redisConnectUnixWithTimeout(url->path, tv)
				       : redisConnectWithTimeout(url->host, url->port, tv);
	bool ok = false;
	if (c != NULL && c->err == 0) {
		redisReply *r = redisCommand(c, "PING");
		/* NOAUTH means a server is there: ours to use, with a password. */
		ok = r != NULL && (r->type == REDIS_REPLY_STATUS ||
				   (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0));
		if (r != NULL)
			freeReplyObject(r);
	}
	if (c != NULL)
		redisFree(c);
	return ok;
}

int local_redis_start(struct app *app, struct redis_url *url, char *err, size_t errlen)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char *dir = rt && rt[0] == '/' ? xasprintf("%s/tasker", rt)
				       : xasprintf("/tmp/tasker-%u", (unsigned)getuid());
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	struct stat st;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s is not a private directory of ours", dir);
		free(dir);
		return -1;
	}
	char *sock = xasprintf("%s/redis-%d.sock", dir, (int)getpid());
	char *logf = xasprintf("%s/redis-%d.log", dir, (int)getpid());
	/* posix_spawn wants char *const[]: writable copies of the words. */
	const char *words[] = {"redis-server", "--port", "0", "--unixsocket", sock,
			       "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
			       "--dir", dir, "--logfile", logf};
	enum { NWORDS = sizeof(words) / sizeof(words[0]) };
	char *argv[NWORDS + 1];
	for (size_t i = 0; i < NWORDS; i++)
		argv[i] = xstrdup(words[i]);
	argv[NWORDS] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int rc = posix_spawnp(&pid, "redis-server", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (size_t i = 0; i < NWORDS; i++)
		free(argv[i]);
	free(logf);
	if (rc != 0) {
		snprintf(err, errlen, "cannot run redis-server: %s (install it: apt-get install "
				      "redis-server)", strerror(rc));
		free(sock);
		free(dir);
		return -1;
	}
	redis_url_free(url);
	memset(url, 0, sizeof(*url));
	url->is_unix = true;
	url->path = sock;
	app->redis_pid = pid;
	app->redis_dir = dir;
	/* Before curses: a short blocking wait is fine and keeps the loop simple. */
	for (int i = 0; i < 100; i++) {
		if (local_redis_answers(url))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			app->redis_pid = 0;
			snprintf(err, errlen, "redis-server exited at once (see %s)", dir);
			return -1;
		}
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "redis-server did not answer on %s within 5 s", sock);
	return -1;
}

void local_redis_stop(struct app *app)
{
	if (app->redis_pid <= 0)
		return;
	kill(app->redis_pid, SIGTERM);
	waitpid(app->redis_pid, NULL, 0);
	app->redis_pid = 0;
	/* The socket file goes with the server; the directory stays for the next run. */
}


/* --- the in-process executor -------------------------------------------------------------- */

/* The pid of a live executor other than ours that this node's presence key
 * names on our command channel; 0 when there is none. The value is
 * untrusted bytes: anything unreadable names nobody. */
static long other_executor(const struct app *app, const redisReply *reply)
{
	if (reply == NULL || reply->type != REDIS_REPLY_STRING)
		return 0;
	cJSON *v = cJSON_ParseWithLength(reply->str, reply->len);
	long pid = 0;
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(v, "channel");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(v, "pid");
	if (cJSON_IsString(ch) && strcmp(ch->valuestring, app->cfg->channel) == 0 &&
	    cJSON_IsNumber(p) && p->valuedouble >= 1 && p->valuedouble < 1e9 &&
	    (long)p->valuedouble != (long)getpid())
		pid = (long)p->valuedouble;
	cJSON_Delete(v);
	return pid;
}

static void start_executor(struct app *app)
{
	char err[400];
	struct exec_options eo = {.pm2_home = app->pm2_home};
	app->ex = executor_new(app->loop, app->bus, app->cfg, &eo, err, sizeof(err));
	if (app->ex == NULL) {
		app_message(app, MSG_ERROR, "the local executor did not start: %s", err);
		return;
	}
	/* Subscribing makes the bus "not ready" until Redis confirms the new
	 * channel; the console's state handler knows that is not an outage. */
	app->local_subscribing = true;
	bus_subscribe(app->bus, app->cfg->channel);
	char text[400];
	snprintf(text, sizeof(text), "local executor started: node %s, channel %s", app->cfg->node,
		 app->cfg->channel);
	app_feed(app, FEED_INFO, text);
}

static void on_presence(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->local_checking = false;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		/* Redis went away (asked again when it is back), or an ACL
		 * forbids the key: then nobody can tell, and an executor of our
		 * own is the only way commands get carried out. */
		if (reply != NULL && app->ex == NULL) {
			log_error("redis refused to read the presence key b00t:tasker:executor:%s: %s",
				  app->cfg->node, reply->str);
			start_executor(app);
		}
		return;
	}
	long other = other_executor(app, reply);
	char text[500];
	if (app->ex == NULL && other != 0) {
		if (app->local_held_by != other) {
			snprintf(text, sizeof(text),
				 "executor pid %ld already serves node %s on %s: this console starts "
				 "none of its own (every command would run twice)",
				 other, app->cfg->node, app->cfg->channel);
			app_feed(app, FEED_INFO, text);
			app_message(app, MSG_INFO, "--local: %s", text);
		}
		app->local_held_by = other;
		return;
	}
	if (app->ex == NULL) {
		if (app->local_held_by != 0) {
			snprintf(text, sizeof(text), "executor pid %ld of node %s is gone",
				 app->local_held_by, app->cfg->node);
			app_feed(app, FEED_INFO, text);
		}
		app->local_held_by = 0;
		start_executor(app);
		return;
	}
	if (other != 0 && other != app->local_warned_pid) {
		/* Started after ours: both write the same key, and both carry out
		 * every command. Only a person can decide which one goes. */
		app->local_warned_pid = other;
		app_message(app, MSG_ERROR,
			    "executor pid %ld also serves node %s on %s: every command runs twice; "
			    "stop it, or quit this console",
			    other, app->cfg->node, app->cfg->channel);
	}
}

void local_check(struct app *app)
{
	if (!app->local || app->local_checking || !bus_can_command(app->bus))
		return;
	char key[200];
	snprintf(key, sizeof(key), "b00t:tasker:executor:%s", app->cfg->node);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	if (bus_command(app->bus, 2, argv, lens, on_presence, app) == 0)
		app->local_checking = true;
}
