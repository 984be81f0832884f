/*
 * local: the console's --local mode. It may start a private redis-server
 * (before the loop, when nothing answers at the default address), and it
 * runs an executor inside the console, but only while no other executor
 * serves the same command channel: two executors on one channel carry out
 * every command twice.
 *
 * Two signs show another executor: a subscriber of the command channel
 * (PUBSUB NUMSUB; the console itself subscribes only once its executor
 * starts) and the presence key b00t:tasker:executor:<node> (a JSON value
 * naming a pid and a channel, written every 5 s with a 30 s expiry; see
 * docs/protocol.md). Either one can be missing for a while when the other
 * executor is alive: after a Redis restart the key is gone and the other
 * executor takes up to 2 s (the bus's longest reconnect delay) to come back
 * and up to 10 s to write its key again. So the console starts its own
 * executor only after every check over LOCAL_QUIET_MS (more than 12 s) found
 * neither, counting from the latest (re)connection; and it claims the node
 * first, atomically (SET NX, or replacing exactly the stale value it read),
 * so two consoles started together cannot both start one. A key is stale
 * when it names a pid of this host that does not exist, or when nobody
 * listens on the channel and the key is neither a claim in progress
 * ("starting") nor names a live process of this host. On a private
 * redis-server of our own nobody else can be there: the executor starts at
 * once. Should our executor still find the node held by another (its own
 * check, core/exec_presence.c), it takes no command and the feed says so.
 *
 * It says in the feed why it holds back, and never drives PM2 itself (the
 * executor does) or exits the console.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
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
#include "local_addr.h"
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
	char *dir = local_addr_dir();
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
		if (local_redis_answers(url)) {
			/* For the tools given no address (core/local_addr.h). */
			char *text = xasprintf("unix://%s", sock);
			char why[300];
			if (local_addr_write(dir, text, (long)getpid(), why, sizeof(why)) < 0)
				log_warn("%s: the tools will not find this Redis by themselves", why);
			free(text);
			return 0;
		}
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
	if (app->redis_dir != NULL)
		local_addr_remove(app->redis_dir, (long)getpid());
	/* The socket file goes with the server; the directory stays for the next run. */
}


/* --- the in-process executor -------------------------------------------------------------- */

#define LOCAL_CHECK_MS 2000
#define LOCAL_QUIET_MS 13000 /* > the presence period (10 s) + the longest reconnect delay (2 s) */
#define LOCAL_CLAIM_TTL "30"

/* Replaces the stale value we read, and nothing else, in one step. */
static const char claim_script[] =
	"local v = redis.call('GET', KEYS[1]) "
	"if v == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end "
	"return false";

static void on_check_timer(struct loop *loop, void *arg);

static char *presence_key(const struct app *app)
{
	return xasprintf("b00t:tasker:executor:%s", app->cfg->node);
}

static bool refused_by_acl(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) == 0;
}

/* Says a change of what holds the console back, once, in the feed and the
 * bar; `said` tells one situation from the next. */
static void say(struct app *app, const char *said, enum msg_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(struct app *app, const char *said, enum msg_kind kind, const char *fmt, ...)
{
	if (strcmp(app->local_said, said) == 0)
		return;
	snprintf(app->local_said, sizeof(app->local_said), "%s", said);
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (kind == MSG_ERROR) {
		app_message(app, MSG_ERROR, "--local: %s", text);
	} else {
		app_feed(app, FEED_INFO, text);
		app_message(app, kind, "--local: %s", text);
	}
}

static void schedule(struct app *app)
{
	loop_timer_cancel(app->local_timer);
	app->local_timer = NULL;
	if (app->ex == NULL)
		app->local_timer = loop_timer_add(app->loop, LOCAL_CHECK_MS, on_check_timer, app);
}

/* Nothing seen so far counts: a new run of checks starts. */
static void run_broken(struct app *app)
{
	app->local_quiet_since = 0;
}

/* The presence key read, as far as it names a process on our channel. The
 * value is untrusted bytes: anything unreadable names nobody (pid 0). */
struct holder {
	long pid;
	bool starting; /* a console's claim: its executor is on its way */
	bool here;     /* the pid is a live process of this host */
	bool gone;     /* the pid was of this host and is no more */
};

/* Whether a pid named with this host (or, lacking one, with a node named
 * after this host: the default) is a process of this host. */
static bool host_is_ours(const struct app *app, const cJSON *host)
{
	char me[256];
	util_hostname(me, sizeof(me));
	if (cJSON_IsString(host))
		return strcmp(host->valuestring, me) == 0;
	return strcmp(app->cfg->node, me) == 0;
}

static struct holder presence_holder(const struct app *app, const redisReply *reply)
{
	struct holder h = {0};
	if (reply == NULL || reply->type != REDIS_REPLY_STRING)
		return h;
	cJSON *v = cJSON_ParseWithLength(reply->str, reply->len);
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(v, "channel");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(v, "pid");
	if (cJSON_IsString(ch) && strcmp(ch->valuestring, app->cfg->channel) == 0 &&
	    cJSON_IsNumber(p) && p->valuedouble >= 1 && p->valuedouble < 1e9) {
		h.pid = (long)p->valuedouble;
		h.starting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "starting"));
		bool ours = host_is_ours(app, cJSON_GetObjectItemCaseSensitive(v, "host"));
		h.here = ours && kill((pid_t)h.pid, 0) == 0;
		h.gone = ours && !h.here && errno == ESRCH;
	}
	cJSON_Delete(v);
	return h;
}

/* Our executor found the node served by another executor: it takes no
 * command while that one lives (core/exec_presence.c). Said once. */
static void on_conflict(const char *why, void *arg)
{
	struct app *app = arg;
	say(app, "conflict", MSG_ERROR, "the local executor stands by: %s", why);
}

static void start_executor(struct app *app)
{
	char err[400];
	struct exec_options eo = {.pm2_home = app->pm2_home};
	loop_timer_cancel(app->local_timer);
	app->local_timer = NULL;
	app->ex = executor_new(app->loop, app->bus, app->cfg, &eo, err, sizeof(err));
	if (app->ex == NULL) {
		app_message(app, MSG_ERROR, "the local executor did not start: %s", err);
		/* Our claim names a process that serves nobody: give it back. */
		char *key = presence_key(app);
		const char *argv[2] = {"DEL", key};
		size_t lens[2] = {3, strlen(key)};
		bus_command(app->bus, 2, argv, lens, NULL, NULL);
		free(key);
		return;
	}
	executor_on_conflict(app->ex, on_conflict, app);
	/* Subscribing makes the bus "not ready" until Redis confirms the new
	 * channel; the console's state handler knows that is not an outage. */
	app->local_subscribing = true;
	app->local_subscribe_at = loop_now(app->loop);
	bus_subscribe(app->bus, app->cfg->channel);
	char text[400];
	snprintf(text, sizeof(text), "local executor started: node %s, channel %s", app->cfg->node,
		 app->cfg->channel);
	app_feed(app, FEED_INFO, text);
}

static void on_claim(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->local_claiming = false;
	if (reply == NULL || app->ex != NULL)
		return; /* Redis went away: local_redis_down started over */
	if (refused_by_acl(reply)) {
		/* An ACL without the presence keys: nobody can claim the node,
		 * and commands get carried out only if we serve them. */
		log_error("redis refused to claim the presence key b00t:tasker:executor:%s (%s); "
			  "starting the local executor without it",
			  app->cfg->node, reply->str);
		start_executor(app);
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		run_broken(app);
		say(app, "claim-error", MSG_INFO,
		    "Redis answered the claim of node %s with %.200s; trying again", app->cfg->node,
		    reply->str);
		return;
	}
	if (reply->type == REDIS_REPLY_STATUS) {
		start_executor(app);
		return;
	}
	/* nil: another console or executor wrote the key since we read it. */
	run_broken(app);
	say(app, "claimed", MSG_INFO,
	    "another console or executor claimed node %s first: this console starts no executor "
	    "of its own",
	    app->cfg->node);
}

/* Claims the node: sets the key only if it still holds what we read
 * (nothing, or a stale value), in one step. */
static void claim(struct app *app, const redisReply *seen)
{
	char *key = presence_key(app);
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "node", app->cfg->node);
	cJSON_AddStringToObject(obj, "version", TASKER_VERSION);
	cJSON_AddNumberToObject(obj, "pid", (double)getpid());
	char host[256];
	util_hostname(host, sizeof(host));
	cJSON_AddStringToObject(obj, "host", host);
	cJSON_AddStringToObject(obj, "channel", app->cfg->channel);
	cJSON_AddStringToObject(obj, "status_channel", app->cfg->status_channel);
	cJSON_AddBoolToObject(obj, "starting", true);
	char stamp[40];
	util_iso_time(util_wall_ms(), stamp, sizeof(stamp));
	cJSON_AddStringToObject(obj, "seen", stamp);
	char *value = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	int rc;
	if (seen == NULL || seen->type != REDIS_REPLY_STRING) {
		const char *argv[6] = {"SET", key, value, "NX", "EX", LOCAL_CLAIM_TTL};
		size_t lens[6] = {3, strlen(key), strlen(value), 2, 2, strlen(LOCAL_CLAIM_TTL)};
		rc = bus_command(app->bus, 6, argv, lens, on_claim, app);
	} else {
		const char *argv[7] = {"EVAL", claim_script, "1", key, seen->str, value,
				       LOCAL_CLAIM_TTL};
		size_t lens[7] = {4,	       strlen(claim_script), 1, strlen(key), seen->len,
				  strlen(value), strlen(LOCAL_CLAIM_TTL)};
		rc = bus_command(app->bus, 7, argv, lens, on_claim, app);
	}
	if (rc == 0)
		app->local_claiming = true;
	free(value);
	free(key);
}

static void on_numsub(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->local_numsub = -2; /* unreadable: the check is void */
	if (reply == NULL)
		return;
	if (refused_by_acl(reply)) {
		app->local_numsub = -1;
	} else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
		   reply->element[1]->type == REDIS_REPLY_INTEGER) {
		app->local_numsub = reply->element[1]->integer;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		say(app, "numsub-error", MSG_INFO,
		    "Redis answered PUBSUB NUMSUB with %.200s; asking again", reply->str);
	}
}

static void on_presence(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->local_checking = false;
	/* A check sent before an outage says nothing about after it. */
	if (reply == NULL || app->ex != NULL || !app->redis_ok ||
	    app->local_check_gen != app->local_gen)
		return;
	long long n = app->local_numsub;
	if (n == -2) {
		run_broken(app); /* said by on_numsub */
		return;
	}
	bool key_refused = refused_by_acl(reply);
	if (reply->type == REDIS_REPLY_ERROR && !key_refused) {
		/* LOADING, BUSY, ...: this says nothing about other executors. */
		run_broken(app);
		say(app, "get-error", MSG_INFO,
		    "Redis answered the read of the presence key with %.200s; asking again",
		    reply->str);
		return;
	}
	if (key_refused || n == -1) {
		static bool logged;
		if (!logged)
			log_error("redis refused %s (%s): --local decides on what it can read",
				  key_refused ? "to read the presence key" : "PUBSUB NUMSUB",
				  key_refused ? reply->str : "NOPERM");
		logged = true;
	}
	struct holder h = key_refused ? (struct holder){0} : presence_holder(app, reply);
	long pid = h.pid;
	/* Nobody listening makes a key stale, unless it is a claim whose
	 * executor is on its way (a console's "starting" claim, or a live
	 * process of this host): between a claim and its SUBSCRIBE nobody
	 * listens yet, and taking the key then would start a second executor. */
	bool stale = pid != 0 && (h.gone || pid == (long)getpid() ||
				  (n == 0 && !h.starting && !h.here));
	char said[64];
	if (pid != 0 && !stale) {
		run_broken(app);
		snprintf(said, sizeof(said), "pid:%ld", pid);
		say(app, said, MSG_INFO,
		    "executor pid %ld already serves node %s on %s: this console starts none of its "
		    "own (every command would run twice)",
		    pid, app->cfg->node, app->cfg->channel);
		return;
	}
	if (n > 0) {
		run_broken(app);
		snprintf(said, sizeof(said), "sub:%lld", n);
		say(app, said, MSG_INFO,
		    "%lld client(s) already listen on %s (an executor of another node, or a "
		    "watcher): this console starts no executor of its own while one does",
		    n, app->cfg->channel);
		return;
	}
	/* Nobody, as far as this check can tell. */
	int64_t now = loop_now(app->loop);
	bool private_redis = app->redis_pid > 0;
	if (app->local_quiet_since == 0) {
		app->local_quiet_since = now;
		if (!private_redis && pid != 0) {
			snprintf(said, sizeof(said), "stale:%ld", pid);
			say(app, said, MSG_WAIT,
			    "stale presence key of node %s (pid %ld no longer listens on %s): this "
			    "console starts its own executor in about %d s unless another shows up",
			    app->cfg->node, pid, app->cfg->channel, LOCAL_QUIET_MS / 1000 + 1);
		} else if (!private_redis) {
			say(app, "nobody", MSG_WAIT,
			    "no executor serves node %s on %s: this console starts its own in about "
			    "%d s unless one shows up",
			    app->cfg->node, app->cfg->channel, LOCAL_QUIET_MS / 1000 + 1);
		}
	}
	if (private_redis || now - app->local_quiet_since >= LOCAL_QUIET_MS)
		claim(app, reply->type == REDIS_REPLY_STRING ? reply : NULL);
}

static void check_now(struct app *app)
{
	schedule(app);
	if (app->ex != NULL || app->local_checking || app->local_claiming || !app->redis_ok ||
	    !bus_can_command(app->bus))
		return;
	char *key = presence_key(app);
	const char *nargv[3] = {"PUBSUB", "NUMSUB", app->cfg->channel};
	size_t nlens[3] = {6, 6, strlen(app->cfg->channel)};
	const char *gargv[2] = {"GET", key};
	size_t glens[2] = {3, strlen(key)};
	/* One connection answers in order: the GET's reply completes the check. */
	if (bus_command(app->bus, 3, nargv, nlens, on_numsub, app) == 0 &&
	    bus_command(app->bus, 2, gargv, glens, on_presence, app) == 0) {
		app->local_checking = true;
		app->local_check_gen = app->local_gen;
	}
	free(key);
}

static void on_check_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct app *app = arg;
	app->local_timer = NULL;
	check_now(app);
}

void local_start(struct app *app)
{
	if (app->local)
		schedule(app);
}

void local_redis_up(struct app *app)
{
	if (!app->local || app->ex != NULL)
		return;
	run_broken(app);
	check_now(app);
}

void local_redis_down(struct app *app)
{
	if (!app->local)
		return;
	app->local_gen++;
	run_broken(app);
	/* After the outage, whatever holds us back is news again. */
	app->local_said[0] = '\0';
}
