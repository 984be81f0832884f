/*
 * text_cut: see text_cut.h. Pure.
 */
#include "text_cut.h"

#include <stdio.h>
#include <string.h>

bool text_cut_middle(const char *text, int width, bool ascii, char *buf, size_t size)
{
	size_t n = strlen(text);
	bool plain = true;
	for (size_t i = 0; i < n && plain; i++)
		plain = (unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x7f;
	if (!plain || width < 5 || n <= (size_t)width) {
		snprintf(buf, size, "%s", text);
		return false;
	}
	int head = (width - 1) / 2, tail = width - 1 - head;
	snprintf(buf, size, "%.*s%s%s", head, text, ascii ? "~" : "…", text + n - (size_t)tail);
	return true;
}
