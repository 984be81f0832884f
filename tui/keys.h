/*
 * keys: decodes the terminal's raw bytes into keys for the table view
 * (pure). The console never lets curses read the keyboard (readline owns
 * the bytes, see c-patterns.md), so escape sequences are decoded here.
 */
#ifndef TASKER_TUI_KEYS_H
#define TASKER_TUI_KEYS_H

#include <stdbool.h>
#include <stddef.h>

enum {
	KEYC_NONE = 0,
	/* Plain bytes are their own codes (1..255); named keys start here. */
	KEYC_UP = 0x1000,
	KEYC_DOWN,
	KEYC_LEFT,
	KEYC_RIGHT,
	KEYC_PGUP,
	KEYC_PGDN,
	KEYC_HOME,
	KEYC_END,
	KEYC_F1,
	KEYC_F4,
	KEYC_F6,
	KEYC_F10,
	KEYC_ESC,
	KEYC_ENTER,
	KEYC_UNKNOWN, /* a well-formed sequence we do not use */
	KEYC_MOUSE,   /* an SGR mouse report (xterm 1006): keys_mouse_last() */
};

/* The last mouse report keys_decode() read: button code (0 left, 1
 * middle, 2 right, 64 wheel up, 65 wheel down; +32 while moving), the
 * cell (0-based), and whether it was a release. */
struct keys_mouse {
	int button, x, y;
	bool release;
};
const struct keys_mouse *keys_mouse_last(void);

/*
 * Decodes one key from buf[0..len). Returns the bytes consumed (>= 1) and
 * sets *key; returns 0 when buf holds only the start of a sequence (more
 * bytes are needed). final: no more bytes are coming now, so a lone ESC is
 * the Escape key, not the start of a sequence.
 */
size_t keys_decode(const unsigned char *buf, size_t len, int final, int *key);

/*
 * Bracketed paste (xterm mode 2004): the terminal wraps pasted text in
 * ESC [ 200 ~ and ESC [ 201 ~. Returns 6 and sets *begin when buf starts
 * with one of the two markers; 0 otherwise.
 */
size_t keys_paste_marker(const unsigned char *buf, size_t len, int *begin);

/*
 * How many bytes at the end of buf[0..len) may be the start of a sequence
 * cut by the end of a read (a lone ESC, or the start of a paste marker):
 * those are held back until the next read or a short timeout.
 */
size_t keys_partial_tail(const unsigned char *buf, size_t len);

#endif
