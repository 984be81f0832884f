/*
 * exec_logs: the logs verb on the node that holds the task (docs/protocol.md,
 * section 12): the last lines of its PM2 log files in the reply, and with
 * a follow, the lines written afterwards, streamed to a Redis Stream for
 * a while (b00t:{tasker}:logs:<request_id>).
 *
 * Log files may be huge and are written while we read them. A reply reads
 * them backwards from the end in blocks, never more than LOGS_READ_MAX in
 * all, so that the loop is never held for long; a follow polls the files
 * every FOLLOW_POLL_MS and reads at most FOLLOW_READ_MAX of each per poll.
 * A file that shrank (flushed, or truncated by a log rotation) or was
 * replaced (renamed away) is read again from its start.
 *
 * Line text goes into JSON: it is cut at LOGS_LINE_MAX bytes (at a whole
 * character) and bytes that are not UTF-8, and NUL, become U+FFFD; cJSON
 * escapes the rest. Nothing here escapes for a terminal: readers do.
 *
 * Must not: read a log file whole, hold a command's in-flight slot for the
 * length of a follow (a follow runs on after its reply), or run more than
 * FOLLOW_MAX follows at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "text.h"
#include "util.h"

#define LOGS_LINE_MAX 4096          /* bytes of one line's text */
#define LOGS_REPLY_MAX (256 * 1024) /* the whole reply stays under this */
#define LOGS_REPLY_ROOM 4096        /* for the reply's other fields */
#define LOGS_READ_MAX (512 * 1024)  /* read for one reply, all files together */
#define LOGS_READ_MIN (16 * 1024)   /* per file, however many files */
#define LOGS_MAX_FILES 64           /* instances x 2 */
#define LOGS_BLOCK (64 * 1024)      /* read backwards this much at a time */
#define FOLLOW_MAX 32               /* follows at once on one executor */
#define FOLLOW_POLL_MS 200
#define FOLLOW_READ_MAX (64 * 1024)     /* per file per poll */
#define FOLLOW_LINES_MAX 500            /* entries per file per poll */
#define FOLLOW_BEHIND_MAX (1024 * 1024) /* further behind: skip ahead */
#define FOLLOW_MAXLEN "10000"           /* XADD MAXLEN ~ */
#define FOLLOW_KEEP_S 60                /* the stream outlives its follow this long */
#define FOLLOW_KEY "b00t:{tasker}:logs:"

/* One line for the reply: text is UTF-8 without NUL, at most LOGS_LINE_MAX. */
struct logs_line {
	char *text;
	size_t len;
};

struct logs_lines {
	struct logs_line *v;
	size_t n, cap;
};

struct follow_tail {
	char *path;
	bool err;
	int64_t off; /* read up to here */
	dev_t dev;
	ino_t ino;
	bool known; /* dev and ino are those of the file read */
	char *part; /* a line begun and not yet ended, LOGS_LINE_MAX at most */
	size_t npart;
	bool skipping; /* that line passed LOGS_LINE_MAX: the rest of it is dropped */
};

struct logs_follow {
	struct executor *ex;
	struct logs_follow *next;
	char *name, *key;
	struct follow_tail *tails;
	size_t ntails;
	int64_t until; /* loop time (ms) the follow ends */
	struct loop_timer *timer;
};

/* --- line text ------------------------------------------------------------- */

/* Copies p[0..len) as JSON-safe UTF-8: bytes that do not decode and NUL
 * become U+FFFD; stops before LOGS_LINE_MAX bytes of output would pass.
 * Caller frees. */
static char *line_clean(const char *p, size_t len, size_t *outlen)
{
	/* A byte becomes at most 3 (U+FFFD): no more room than that, not
	 * 4 KiB for every short line. */
	size_t room = len > LOGS_LINE_MAX / 3 ? LOGS_LINE_MAX : len * 3;
	char *out = xmalloc(room + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = text_utf8_next(p + i, len - i, &cp);
		if (n == 0 || cp == 0) {
			if (o + 3 > room)
				break;
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += n == 0 ? 1 : n;
			continue;
		}
		if (o + n > room)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* What a line costs in the reply's JSON: {"s":"out","l":"..."}, escaped. */
static size_t line_cost(const struct logs_line *l)
{
	size_t c = 20;
	for (size_t i = 0; i < l->len; i++) {
		unsigned char b = (unsigned char)l->text[i];
		if (b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n' || b == '\r' ||
		    b == '\t')
			c += 2;
		else if (b < 0x20)
			c += 6;
		else
			c++;
	}
	return c;
}

static void lines_add(struct logs_lines *ls, const char *p, size_t len)
{
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? ls->cap * 2 : 64;
		ls->v = xrealloc(ls->v, ls->cap * sizeof(*ls->v));
	}
	struct logs_line *l = &ls->v[ls->n++];
	l->text = line_clean(p, len, &l->len);
}

static void lines_free(struct logs_lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i].text);
	free(ls->v);
	ls->v = NULL;
	ls->n = ls->cap = 0;
}

/* Drops the first k lines. */
static void lines_drop_front(struct logs_lines *ls, size_t k)
{
	if (k == 0)
		return;
	for (size_t i = 0; i < k; i++)
		free(ls->v[i].text);
	memmove(ls->v, ls->v + k, (ls->n - k) * sizeof(*ls->v));
	ls->n -= k;
}

/* --- reading the end of a file --------------------------------------------- */

/* Reads len bytes at off; -1 on an error or a file that got shorter. */
static int read_at(int fd, char *buf, size_t len, int64_t off)
{
	while (len > 0) {
		ssize_t r = pread(fd, buf, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		len -= (size_t)r;
		off += r;
	}
	return 0;
}

/*
 * Appends the last want lines of path to ls, reading backwards from the
 * end in LOGS_BLOCK blocks, at most budget bytes. *size is the file's size
 * as read (where a follow begins); *cut says that older lines were left
 * out because the budget ran out before want lines were found (a line
 * longer than the budget is left out whole). A file that is missing or
 * not a regular file gives no lines (and size 0).
 */
static void read_tail(const char *path, size_t want, size_t budget, struct logs_lines *ls,
                      int64_t *size, dev_t *dev, ino_t *ino, bool *cut)
{
	*size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	*size = st.st_size;
	*dev = st.st_dev;
	*ino = st.st_ino;
	if (want == 0 || st.st_size == 0) {
		close(fd);
		return;
	}
	char *buf = xmalloc(budget);
	int64_t start = st.st_size;
	size_t have = 0, newlines = 0;
	while (start > 0 && have < budget && newlines < want) {
		size_t blk = LOGS_BLOCK;
		if ((int64_t)blk > start)
			blk = (size_t)start;
		if (blk > budget - have)
			blk = budget - have;
		char *dst = buf + budget - have - blk;
		if (read_at(fd, dst, blk, start - (int64_t)blk) < 0)
			break; /* shorter now: keep what was read */
		start -= (int64_t)blk;
		have += blk;
		/* A newline that ends the file ends the last line: not a break. */
		size_t scan = start + (int64_t)blk == st.st_size && blk > 0 ? blk - 1 : blk;
		for (size_t i = 0; i < scan; i++)
			if (dst[i] == '\n')
				newlines++;
	}
	close(fd);
	const char *p = buf + budget - have, *end = buf + budget;
	if (start > 0) {
		/* The first bytes are the end of a line begun before them. */
		const char *nl = memchr(p, '\n', have);
		p = nl != NULL ? nl + 1 : end;
		if (newlines < want)
			*cut = true;
	}
	/* Only the last want lines are cleaned and kept: from the end, back
	 * over want newlines (a trailing one ends the last line). */
	{
		const char *q = end;
		size_t seen = 0;
		if (q > p && q[-1] == '\n')
			q--;
		while (want > 0 && q > p) {
			if (q[-1] == '\n' && ++seen == want)
				break;
			q--;
		}
		p = want > 0 ? q : end;
	}
	size_t first = ls->n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end;
		lines_add(ls, p, (size_t)(e - p));
		p = nl != NULL ? nl + 1 : end;
	}
	size_t got = ls->n - first;
	if (got > want) {
		for (size_t i = first; i < first + (got - want); i++)
			free(ls->v[i].text);
		memmove(ls->v + first, ls->v + first + (got - want), want * sizeof(*ls->v));
		ls->n = first + want;
	}
	free(buf);
}

/* --- following -------------------------------------------------------------- */

static void follow_free(struct logs_follow *f)
{
	loop_timer_cancel(f->timer);
	for (size_t i = 0; i < f->ntails; i++) {
		free(f->tails[i].path);
		free(f->tails[i].part);
	}
	free(f->tails);
	free(f->name);
	free(f->key);
	free(f);
}

static void unlink_follow(struct executor *ex, struct logs_follow *f)
{
	for (struct logs_follow **pp = &ex->follows; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			ex->nfollows--;
			return;
		}
	}
}

static void on_end_acked(struct bus *bus, struct redisReply *r, void *arg)
{
	(void)bus;
	(void)r;
	struct executor *ex = arg;
	if (ex->unacked > 0)
		ex->unacked--;
	exec_drain_check(ex);
}

static void expire(struct logs_follow *f, int64_t secs)
{
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)secs);
	const char *argv[3] = {"EXPIRE", f->key, s};
	size_t lens[3] = {6, strlen(f->key), strlen(s)};
	bus_command(f->ex->bus, 3, argv, lens, NULL, NULL);
}

/* Writes the end entry (why: "timeout", "deleted", "error: ...") and
 * frees f. counted: Redis's answer is waited for by a shutdown. */
static void follow_end(struct logs_follow *f, const char *why, bool counted)
{
	struct executor *ex = f->ex;
	unlink_follow(ex, f);
	log_info("logs %s: follow ended (%s)", f->name, why);
	const char *argv[8] = {"XADD", f->key, "MAXLEN", "~", FOLLOW_MAXLEN, "*", "end", why};
	size_t lens[8];
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(ex->bus, 8, argv, lens, counted ? on_end_acked : NULL, ex) == 0) {
		if (counted)
			ex->unacked++;
		expire(f, FOLLOW_KEEP_S);
	} else {
		log_warn("logs %s: Redis is not reachable: the follow stream %s ends without its "
		         "end entry",
		         f->name, f->key);
	}
	follow_free(f);
}

static bool emit(struct logs_follow *f, const struct follow_tail *t, const char *p, size_t len)
{
	size_t n;
	char *text = line_clean(p, len, &n);
	const char *argv[10] = {"XADD",        f->key, "MAXLEN", "~",
	                        FOLLOW_MAXLEN, "*",    "s",      t->err ? "err" : "out",
	                        "l",           text};
	size_t lens[10];
	for (int i = 0; i < 9; i++)
		lens[i] = strlen(argv[i]);
	lens[9] = n;
	/* Redis down: the lines of that moment are lost, the follow goes on. */
	bool ok = bus_command(f->ex->bus, 10, argv, lens, NULL, NULL) == 0;
	free(text);
	return ok;
}

/* Bytes of a line being assembled; emits it when it ends (nl) or when it
 * passes LOGS_LINE_MAX (then drops the rest of it). Returns lines emitted. */
static size_t take_bytes(struct logs_follow *f, struct follow_tail *t, const char *p, size_t len,
                         bool nl)
{
	size_t emitted = 0;
	if (!t->skipping) {
		size_t room = LOGS_LINE_MAX - t->npart;
		size_t k = len < room ? len : room;
		if (t->part == NULL)
			t->part = xmalloc(LOGS_LINE_MAX);
		memcpy(t->part + t->npart, p, k);
		t->npart += k;
		if (t->npart == LOGS_LINE_MAX && (len > k || !nl)) {
			/* Cut: the line's first LOGS_LINE_MAX bytes go now. */
			emit(f, t, t->part, t->npart);
			emitted++;
			t->npart = 0;
			t->skipping = true;
		} else if (nl) {
			emit(f, t, t->part, t->npart);
			emitted++;
			t->npart = 0;
		}
	}
	if (nl)
		t->skipping = false;
	return emitted;
}

/* Reads what was added to one file since the last poll; returns the lines
 * emitted. */
static size_t poll_tail(struct logs_follow *f, struct follow_tail *t)
{
	struct stat st;
	if (stat(t->path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* gone for now (rotated away): it may come back */
	if (!t->known || st.st_dev != t->dev || st.st_ino != t->ino || st.st_size < t->off) {
		/* Replaced or truncated: its lines start again at 0. */
		if (t->known)
			t->off = 0;
		t->npart = 0;
		t->skipping = false;
		t->dev = st.st_dev;
		t->ino = st.st_ino;
		t->known = true;
	}
	if (st.st_size == t->off)
		return 0;
	if (st.st_size - t->off > FOLLOW_BEHIND_MAX) {
		/* A flood outruns the stream: what a reader can still use is
		 * the newest, not a backlog that only grows. */
		log_warn("logs %s: %s is %lld bytes ahead of the follow; skipping to its last "
		         "%d KiB",
		         f->name, t->path, (long long)(st.st_size - t->off),
		         FOLLOW_BEHIND_MAX / 1024);
		t->off = st.st_size - FOLLOW_BEHIND_MAX;
		t->npart = 0;
		t->skipping = true; /* the line cut by the jump is not sent */
	}
	int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return 0;
	size_t want = (size_t)(st.st_size - t->off);
	if (want > FOLLOW_READ_MAX)
		want = FOLLOW_READ_MAX;
	char *buf = xmalloc(want);
	ssize_t r;
	do
		r = pread(fd, buf, want, (off_t)t->off);
	while (r < 0 && errno == EINTR);
	close(fd);
	size_t emitted = 0;
	if (r > 0) {
		size_t i = 0, n = (size_t)r;
		while (i < n && emitted < FOLLOW_LINES_MAX) {
			const char *nl = memchr(buf + i, '\n', n - i);
			size_t e = nl != NULL ? (size_t)(nl - buf) : n;
			emitted += take_bytes(f, t, buf + i, e - i, nl != NULL);
			i = nl != NULL ? e + 1 : n;
		}
		t->off += (int64_t)i; /* the rest, past FOLLOW_LINES_MAX, next time */
	}
	free(buf);
	return emitted;
}

static void on_poll(struct loop *loop, void *arg)
{
	struct logs_follow *f = arg;
	f->timer = NULL;
	size_t emitted = 0;
	for (size_t i = 0; i < f->ntails; i++)
		emitted += poll_tail(f, &f->tails[i]);
	int64_t now = loop_now(loop);
	if (emitted > 0)
		expire(f, (f->until - now) / 1000 + FOLLOW_KEEP_S + 1);
	if (now >= f->until) {
		follow_end(f, "timeout", false);
		return;
	}
	int64_t next = f->until - now < FOLLOW_POLL_MS ? f->until - now : FOLLOW_POLL_MS;
	f->timer = loop_timer_add(loop, next, on_poll, f);
}

void exec_logs_listed(struct executor *ex, const struct pm2_proc *procs, size_t n)
{
	struct logs_follow *f = ex->follows;
	while (f != NULL) {
		struct logs_follow *next = f->next;
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(procs[i].name, f->name) == 0;
		if (!found)
			follow_end(f, "deleted", false);
		f = next;
	}
}

void exec_logs_end_all(struct executor *ex, const char *why)
{
	while (ex->follows != NULL)
		follow_end(ex->follows, why, true);
}

void exec_logs_free(struct executor *ex)
{
	while (ex->follows != NULL) {
		struct logs_follow *f = ex->follows;
		ex->follows = f->next;
		follow_free(f);
	}
	ex->nfollows = 0;
}

/* --- the reply -------------------------------------------------------------- */

static bool has_path(char *const *paths, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(paths[i], p) == 0)
			return true;
	return false;
}

static cJSON *set_status(cJSON *obj, const char *status, const char *error)
{
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "status", cJSON_CreateString(status));
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "error");
	cJSON_AddStringToObject(obj, "error", error);
	return obj;
}

cJSON *exec_logs_answer(struct executor *ex, cJSON *obj, const char *name, const char *request_id,
                        const cJSON *args, const struct pm2_proc *procs, size_t n)
{
	long want = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(args, "lines"));
	long follow = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(args, "follow"));
	if (want < 0)
		want = 0;
	if (follow < 0)
		follow = 0;

	/* Every log file of the name's processes (instances may share one). */
	char *paths[LOGS_MAX_FILES];
	bool is_err[LOGS_MAX_FILES];
	size_t npaths = 0;
	int first_id = -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(procs[i].name, name) != 0)
			continue;
		if (first_id < 0)
			first_id = procs[i].pm_id;
		const char *p[2] = {procs[i].out_log_path, procs[i].err_log_path};
		for (int k = 0; k < 2; k++) {
			if (p[k][0] == '\0' || npaths == LOGS_MAX_FILES ||
			    has_path(paths, npaths, p[k]))
				continue;
			is_err[npaths] = k == 1;
			paths[npaths++] = (char *)(uintptr_t)p[k];
		}
	}
	if (first_id < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "no task named %s", name);
		return set_status(obj, "not_found", msg);
	}
	/* A command by pm_id carries it already (exec_reply.c): one key. */
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "pm_id");
	cJSON_AddNumberToObject(obj, "pm_id", first_id);
	if (follow > 0 && (ex->draining || ex->nfollows >= FOLLOW_MAX)) {
		char msg[200];
		if (ex->draining)
			snprintf(msg, sizeof(msg), "this executor is shutting down: no follow");
		else
			snprintf(msg, sizeof(msg),
			         "busy: %d logs follows run on this node already; try again later",
			         FOLLOW_MAX);
		return set_status(obj, ex->draining ? "error" : "busy", msg);
	}

	/* The last lines of each stream, then a fair share of want for each
	 * when both together have more: a stream with fewer than half keeps
	 * all of its lines. */
	struct logs_lines out = {0}, err = {0};
	bool cut = false;
	size_t budget = npaths > 0 ? LOGS_READ_MAX / npaths : LOGS_READ_MAX;
	if (budget < LOGS_READ_MIN)
		budget = LOGS_READ_MIN;
	int64_t sizes[LOGS_MAX_FILES];
	dev_t devs[LOGS_MAX_FILES];
	ino_t inos[LOGS_MAX_FILES];
	for (size_t i = 0; i < npaths; i++) {
		devs[i] = 0;
		inos[i] = 0;
		read_tail(paths[i], (size_t)want, budget, is_err[i] ? &err : &out, &sizes[i],
		          &devs[i], &inos[i], &cut);
	}
	size_t w = (size_t)want;
	if (out.n + err.n > w) {
		size_t keep_err = w - (out.n < w ? out.n : w);
		if (keep_err < w / 2)
			keep_err = w / 2;
		if (keep_err > err.n)
			keep_err = err.n;
		size_t keep_out = w - keep_err;
		if (keep_out > out.n)
			keep_out = out.n;
		lines_drop_front(&out, out.n - keep_out);
		lines_drop_front(&err, err.n - keep_err);
	}
	/* Under LOGS_REPLY_MAX: the oldest lines go, from the longer stream. */
	size_t total = LOGS_REPLY_ROOM + strlen(name) + (request_id ? 2 * strlen(request_id) : 0);
	for (size_t i = 0; i < out.n; i++)
		total += line_cost(&out.v[i]);
	for (size_t i = 0; i < err.n; i++)
		total += line_cost(&err.v[i]);
	size_t drop_out = 0, drop_err = 0;
	while (total > LOGS_REPLY_MAX && drop_out + drop_err < out.n + err.n) {
		bool from_out = out.n - drop_out >= err.n - drop_err;
		struct logs_lines *ls = from_out ? &out : &err;
		size_t *d = from_out ? &drop_out : &drop_err;
		total -= line_cost(&ls->v[*d]);
		(*d)++;
		cut = true;
	}
	lines_drop_front(&out, drop_out);
	lines_drop_front(&err, drop_err);

	cJSON *arr = cJSON_AddArrayToObject(obj, "lines");
	for (int k = 0; k < 2; k++) {
		struct logs_lines *ls = k == 0 ? &out : &err;
		for (size_t i = 0; i < ls->n; i++) {
			cJSON *l = cJSON_CreateObject();
			cJSON_AddStringToObject(l, "s", k == 0 ? "out" : "err");
			cJSON_AddStringToObject(l, "l", ls->v[i].text);
			cJSON_AddItemToArray(arr, l);
		}
	}
	cJSON_AddBoolToObject(obj, "truncated", cut);
	lines_free(&out);
	lines_free(&err);
	if (follow == 0)
		return obj;

	/* The follow: from where the reply's reading ended. */
	struct logs_follow *f = xcalloc(1, sizeof(*f));
	f->ex = ex;
	f->name = xstrdup(name);
	char rid[33];
	if (request_id == NULL)
		util_random_id(rid);
	f->key = xasprintf("%s%s", FOLLOW_KEY, request_id ? request_id : rid);
	f->tails = xcalloc(npaths ? npaths : 1, sizeof(*f->tails));
	f->ntails = npaths;
	for (size_t i = 0; i < npaths; i++) {
		struct follow_tail *t = &f->tails[i];
		t->path = xstrdup(paths[i]);
		t->err = is_err[i];
		t->off = sizes[i];
		t->dev = devs[i];
		t->ino = inos[i];
		t->known = inos[i] != 0 || devs[i] != 0;
	}
	f->until = loop_now(ex->loop) + follow * 1000;
	f->timer = loop_timer_add(ex->loop, FOLLOW_POLL_MS, on_poll, f);
	f->next = ex->follows;
	ex->follows = f;
	ex->nfollows++;
	cJSON_AddStringToObject(obj, "stream", f->key);
	log_info("logs %s: following for %ld s on %s", name, follow, f->key);
	return obj;
}
