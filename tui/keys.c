/*
 * keys: see keys.h. Knows the xterm, VT220 and rxvt spellings of the keys
 * the table uses; anything else well-formed is KEYC_UNKNOWN and ignored.
 */
#include "keys.h"

#include <string.h>

static const struct {
	const char *seq;
	int key;
} seqs[] = {
	{"\033[A", KEYC_UP},	{"\033OA", KEYC_UP},	   {"\033[B", KEYC_DOWN},   {"\033OB", KEYC_DOWN},
	{"\033[C", KEYC_RIGHT}, {"\033OC", KEYC_RIGHT},	   {"\033[D", KEYC_LEFT},   {"\033OD", KEYC_LEFT},
	{"\033[5~", KEYC_PGUP}, {"\033[6~", KEYC_PGDN},	   {"\033[H", KEYC_HOME},   {"\033OH", KEYC_HOME},
	{"\033[1~", KEYC_HOME}, {"\033[7~", KEYC_HOME},	   {"\033[F", KEYC_END},    {"\033OF", KEYC_END},
	{"\033[4~", KEYC_END},	{"\033[8~", KEYC_END},	   {"\033OP", KEYC_F1},	    {"\033[11~", KEYC_F1},
	{"\033[[A", KEYC_F1},	{"\033OS", KEYC_F4},	   {"\033[14~", KEYC_F4},   {"\033[17~", KEYC_F6},
	{"\033[21~", KEYC_F10},
};

static struct keys_mouse last_mouse;

const struct keys_mouse *keys_mouse_last(void)
{
	return &last_mouse;
}

/* "B;X;Y" of an SGR report (1-based cells); bad numbers leave it unknown. */
static void parse_mouse(const unsigned char *p, size_t n, bool release, int *key)
{
	long v[3] = {0, 0, 0};
	int k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == ';') {
			if (++k > 2)
				return;
		} else if (p[i] >= '0' && p[i] <= '9') {
			if (v[k] > 100000)
				return;
			v[k] = v[k] * 10 + (p[i] - '0');
		} else {
			return;
		}
	}
	if (k != 2 || v[1] < 1 || v[2] < 1)
		return;
	last_mouse.button = (int)v[0];
	last_mouse.x = (int)v[1] - 1;
	last_mouse.y = (int)v[2] - 1;
	last_mouse.release = release;
	*key = KEYC_MOUSE;
}

size_t keys_decode(const unsigned char *buf, size_t len, int final, int *key)
{
	*key = KEYC_NONE;
	if (len == 0)
		return 0;
	if (buf[0] == '\r' || buf[0] == '\n') {
		*key = KEYC_ENTER;
		return 1;
	}
	if (buf[0] != 0x1b) {
		*key = buf[0];
		return 1;
	}
	if (len == 1) {
		if (!final)
			return 0;
		*key = KEYC_ESC;
		return 1;
	}
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		size_t n = strlen(seqs[i].seq);
		if (len >= n && memcmp(buf, seqs[i].seq, n) == 0) {
			*key = seqs[i].key;
			return n;
		}
	}
	/* CSI: ESC [ parameters (0x30-0x3f) intermediates (0x20-0x2f) final (0x40-0x7e). */
	if (buf[1] == '[') {
		for (size_t i = 2; i < len; i++) {
			if (buf[i] >= 0x40 && buf[i] <= 0x7e) {
				*key = KEYC_UNKNOWN;
				if (len > 2 && buf[2] == '<' && (buf[i] == 'M' || buf[i] == 'm'))
					parse_mouse(buf + 3, i - 3, buf[i] == 'm', key);
				return i + 1;
			}
			if (buf[i] < 0x20 || buf[i] > 0x3f)
				break;
		}
		if (!final && len < 16)
			return 0;
	} else if (buf[1] == 'O') {
		if (len >= 3) {
			*key = KEYC_UNKNOWN;
			return 3;
		}
		if (!final)
			return 0;
	}
	/* ESC then something else: Alt+key; treat as Escape and leave the rest. */
	*key = KEYC_ESC;
	return 1;
}

static const char paste_begin[] = "\033[200~";
static const char paste_end[] = "\033[201~";
#define PASTE_MARKER_LEN 6

size_t keys_paste_marker(const unsigned char *buf, size_t len, int *begin)
{
	if (len < PASTE_MARKER_LEN)
		return 0;
	if (memcmp(buf, paste_begin, PASTE_MARKER_LEN) == 0) {
		*begin = 1;
		return PASTE_MARKER_LEN;
	}
	if (memcmp(buf, paste_end, PASTE_MARKER_LEN) == 0) {
		*begin = 0;
		return PASTE_MARKER_LEN;
	}
	return 0;
}

size_t keys_partial_tail(const unsigned char *buf, size_t len)
{
	/* The longest proper prefix of either marker that ends buf. */
	for (size_t n = PASTE_MARKER_LEN - 1; n > 0; n--) {
		if (n > len)
			continue;
		const unsigned char *t = buf + len - n;
		if (memcmp(t, paste_begin, n) == 0 || memcmp(t, paste_end, n) == 0)
			return n;
	}
	return 0;
}
