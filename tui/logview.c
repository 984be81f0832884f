/*
 * logview: see logview.h. Everything here is untrusted text (log files a
 * task writes, lines from another node): lines are bounded, controls are
 * replaced, and reads are bounded (LV_READ_MAX per file per read).
 */
#include "logview.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "util.h"

#define LV_READ_MAX (4 * 1024 * 1024) /* bytes read from the end at open */
#define LV_POLL_MAX (1024 * 1024)     /* bytes taken per poll per file */

void logview_init(struct logview *lv)
{
	memset(lv, 0, sizeof(*lv));
	lv->out_off = lv->err_off = -1;
}

void logview_clear(struct logview *lv)
{
	for (size_t i = 0; lv->ring && i < lv->count; i++)
		free(lv->ring[(lv->head + i) % LOGVIEW_MAX].text);
	lv->head = lv->count = lv->top = 0;
	lv->follow = true;
	lv->searching = false;
	lv->input[0] = lv->note[0] = lv->pattern[0] = '\0';
	lv->out_path[0] = lv->err_path[0] = '\0';
	lv->out_off = lv->err_off = -1;
}

void logview_free(struct logview *lv)
{
	logview_clear(lv);
	free(lv->ring);
	lv->ring = NULL;
}

void logview_add(struct logview *lv, bool err, const char *line, size_t len)
{
	if (lv->ring == NULL)
		lv->ring = xcalloc(LOGVIEW_MAX, sizeof(*lv->ring));
	if (len > LOGVIEW_LINE_MAX)
		len = LOGVIEW_LINE_MAX;
	char *s = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		s[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	s[len] = '\0';
	if (lv->count == LOGVIEW_MAX) {
		free(lv->ring[lv->head].text);
		lv->ring[lv->head].text = s;
		lv->ring[lv->head].err = err;
		lv->head = (lv->head + 1) % LOGVIEW_MAX;
		if (lv->top > 0)
			lv->top--; /* the window stays on the same lines */
	} else {
		struct logview_line *l = &lv->ring[(lv->head + lv->count) % LOGVIEW_MAX];
		l->text = s;
		l->err = err;
		lv->count++;
	}
}

const struct logview_line *logview_at(const struct logview *lv, size_t i)
{
	if (i >= lv->count)
		return NULL;
	return &lv->ring[(lv->head + i) % LOGVIEW_MAX];
}

/* --- local files ------------------------------------------------------------ */

/* Bytes [from, size) of path, at most max from the end, cut to whole lines
 * (from the first newline when the read starts inside the file; up to the
 * last newline). *next is where the next read starts. */
static char *read_span(const char *path, long long from, size_t max, size_t *len, long long *next)
{
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	long long size = (long long)st.st_size;
	if (from < 0 || from > size)
		from = 0; /* truncated or rotated: start again */
	bool cut = false;
	if (size - from > (long long)max) {
		from = size - (long long)max;
		cut = true;
	}
	size_t want = (size_t)(size - from);
	char *buf = xmalloc(want + 1);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, (off_t)from + (off_t)got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	size_t start = 0;
	if (cut) {
		char *nl = memchr(buf, '\n', got);
		start = nl ? (size_t)(nl - buf) + 1 : got;
	}
	size_t end = got;
	while (end > start && buf[end - 1] != '\n')
		end--; /* a line still being written waits for the next read */
	*next = from + (long long)end;
	memmove(buf, buf + start, end - start);
	*len = end - start;
	buf[*len] = '\0';
	return buf;
}

/* The PM2 stamp a line starts with ("2026-12-01T14:48:05" or with a
 * space), normalized into key[20]; false when it has none. */
static bool stamp_of(const char *p, size_t len, char key[20])
{
	static const char pat[] = "dddd-dd-dd?dd:dd:dd";
	if (len < 19)
		return false;
	for (int i = 0; i < 19; i++) {
		char c = pat[i];
		if (c == 'd' && !isdigit((unsigned char)p[i]))
			return false;
		if (c == '?' && p[i] != 'T' && p[i] != ' ')
			return false;
		if (c != 'd' && c != '?' && p[i] != c)
			return false;
	}
	memcpy(key, p, 19);
	key[10] = 'T';
	key[19] = '\0';
	return true;
}

struct span {
	const char *p;
	size_t len;
	char key[20]; /* the stamp of the latest stamped line so far */
	bool err;
};

static bool next_line(struct span *s, const char **line, size_t *n)
{
	if (s->len == 0)
		return false;
	const char *nl = memchr(s->p, '\n', s->len);
	size_t k = nl ? (size_t)(nl - s->p) : s->len;
	*line = s->p;
	*n = k;
	s->p += nl ? k + 1 : k;
	s->len -= nl ? k + 1 : k;
	return true;
}

static bool has_stamp(const char *p, size_t len)
{
	char key[20];
	const char *nl = memchr(p, '\n', len);
	return stamp_of(p, nl ? (size_t)(nl - p) : len, key);
}

/* Adds out's lines and err's, merged by stamp when both are stamped (a
 * line without one keeps the time of the line before it), else out first. */
static void merge(struct logview *lv, const char *out, size_t olen, const char *err, size_t elen)
{
	struct span s[2] = {{out, olen, "", false}, {err, elen, "", true}};
	bool stamped = olen > 0 && elen > 0 && has_stamp(out, olen) && has_stamp(err, elen);
	const char *line[2] = {NULL, NULL};
	size_t n[2] = {0, 0};
	bool have[2];
	for (int i = 0; i < 2; i++) {
		have[i] = next_line(&s[i], &line[i], &n[i]);
		if (have[i])
			stamp_of(line[i], n[i], s[i].key);
	}
	while (have[0] || have[1]) {
		int k;
		if (!have[1])
			k = 0;
		else if (!have[0])
			k = 1;
		else if (!stamped)
			k = 0;
		else
			k = strcmp(s[0].key, s[1].key) <= 0 ? 0 : 1;
		logview_add(lv, s[k].err, line[k], n[k]);
		have[k] = next_line(&s[k], &line[k], &n[k]);
		if (have[k])
			stamp_of(line[k], n[k], s[k].key);
	}
}

static bool read_both(struct logview *lv, size_t max)
{
	size_t olen = 0, elen = 0;
	char *o = NULL, *e = NULL;
	if (lv->out_path[0])
		o = read_span(lv->out_path, lv->out_off, max, &olen, &lv->out_off);
	if (lv->err_path[0] && strcmp(lv->err_path, lv->out_path) != 0)
		e = read_span(lv->err_path, lv->err_off, max, &elen, &lv->err_off);
	merge(lv, o ? o : "", olen, e ? e : "", elen);
	free(o);
	free(e);
	return olen + elen > 0;
}

void logview_local_open(struct logview *lv, const char *out_path, const char *err_path)
{
	snprintf(lv->out_path, sizeof(lv->out_path), "%s", out_path ? out_path : "");
	snprintf(lv->err_path, sizeof(lv->err_path), "%s", err_path ? err_path : "");
	lv->out_off = lv->err_off = -1;
	read_both(lv, LV_READ_MAX);
}

bool logview_local_poll(struct logview *lv)
{
	if (!lv->out_path[0] && !lv->err_path[0])
		return false;
	return read_both(lv, LV_POLL_MAX);
}

/* --- window and keys ---------------------------------------------------------- */

void logview_clamp(struct logview *lv, size_t rows)
{
	size_t last = lv->count > rows ? lv->count - rows : 0;
	if (lv->follow || lv->top > last)
		lv->top = last;
}

const char *logview_match(const char *text, const char *pattern)
{
	return pattern[0] ? strcasestr(text, pattern) : NULL;
}

/* The next line from top (exclusive) in direction dir holding the pattern. */
static void find(struct logview *lv, int dir, bool from_top)
{
	if (!lv->pattern[0])
		return;
	size_t i = lv->top;
	if (from_top && dir > 0 && logview_match(logview_at(lv, i) ? logview_at(lv, i)->text : "",
						 lv->pattern)) {
		lv->note[0] = '\0';
		return;
	}
	for (size_t k = 0; k < lv->count; k++) {
		if (dir > 0) {
			if (i + 1 >= lv->count)
				break;
			i++;
		} else {
			if (i == 0)
				break;
			i--;
		}
		if (logview_match(logview_at(lv, i)->text, lv->pattern)) {
			lv->top = i;
			lv->follow = false;
			lv->note[0] = '\0';
			return;
		}
	}
	snprintf(lv->note, sizeof(lv->note), "pattern not found%s: %.100s",
		 dir > 0 ? " below" : " above", lv->pattern);
}

bool logview_key(struct logview *lv, int key, size_t rows)
{
	size_t page = rows > 1 ? rows - 1 : 1;
	if (lv->searching) {
		size_t n = strlen(lv->input);
		if (key == KEYC_ENTER) {
			lv->searching = false;
			if (lv->input[0])
				snprintf(lv->pattern, sizeof(lv->pattern), "%s", lv->input);
			find(lv, 1, true);
		} else if (key == KEYC_ESC || key == 7 /* ^G */) {
			lv->searching = false;
		} else if (key == 127 || key == 8) {
			if (n > 0) {
				n--;
				while (n > 0 && ((unsigned char)lv->input[n] & 0xc0) == 0x80)
					n--;
				lv->input[n] = '\0';
			} else {
				lv->searching = false;
			}
		} else if (key >= 0x20 && key < 0x100 && key != 0x7f && n + 1 < sizeof(lv->input)) {
			lv->input[n] = (char)key;
			lv->input[n + 1] = '\0';
		}
		return true;
	}
	switch (key) {
	case KEYC_UP:
	case 'k':
	case 'y':
		lv->follow = false;
		if (lv->top > 0)
			lv->top--;
		break;
	case KEYC_DOWN:
	case 'j':
	case 'e':
		lv->top++;
		break;
	case KEYC_PGUP:
	case 'b':
	case 2: /* ^B */
		lv->follow = false;
		lv->top = lv->top > page ? lv->top - page : 0;
		break;
	case KEYC_PGDN:
	case ' ':
	case 'f':
	case 6: /* ^F */
		lv->top += page;
		break;
	case KEYC_HOME:
	case 'g':
	case '<':
		lv->follow = false;
		lv->top = 0;
		break;
	case KEYC_END:
	case 'G':
	case '>':
		lv->top = lv->count;
		break;
	case 'F':
		lv->follow = !lv->follow;
		break;
	case '/':
		lv->searching = true;
		lv->input[0] = '\0';
		lv->note[0] = '\0';
		break;
	case 'n':
		find(lv, 1, false);
		break;
	case 'N':
		find(lv, -1, false);
		break;
	default:
		return false;
	}
	logview_clamp(lv, rows);
	return true;
}
