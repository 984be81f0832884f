/*
 * text_cut: fitting a name into a narrow column by cutting it in the
 * middle, "payments-rec…-eu-west-1": instances of one service often differ
 * only at the end, so both ends stay. Shared by the console's table and
 * `tasker ls`. Pure: no IO, no locale.
 */
#ifndef TASKER_TEXT_CUT_H
#define TASKER_TEXT_CUT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Writes text into buf (size > 0), cut in the middle to width columns when
 * it is longer, with "…" (or "~" when ascii) where the middle was. Only
 * printable ASCII text is cut (one byte, one column); any other text, and
 * any width under 5, is copied whole: the caller cuts it at the end as it
 * would without this. Returns true when it cut.
 */
bool text_cut_middle(const char *text, int width, bool ascii, char *buf, size_t size);

#endif
