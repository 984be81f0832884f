/*
 * libFuzzer target: arbitrary bytes read as a status message, the way the
 * console's feed, `tasker watch` and `tasker send --wait` read one:
 * codec_decode_status, then tools_describe_status and tools_clock, then
 * the escaping every human line goes through. Anyone who can publish on
 * the status channel chooses these bytes: nothing here may crash, leak,
 * read out of bounds or hit undefined behaviour (the fuzz build stops at
 * the first UBSan report: "pm_ids":[1e300] was one).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "text.h"
#include "tools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct status_view v;
	char err[200], line[1200], clock[16], shown[8 * 1024];
	if (codec_decode_status((const char *)data, size, &v, err, sizeof(err)) < 0)
		return 0;
	tools_describe_status(&v, line, sizeof(line));
	tools_clock(&v, clock, sizeof(clock));
	if (strlen(line) >= sizeof(line) || strlen(clock) >= sizeof(clock))
		abort();
	text_escape(line, strlen(line), SIZE_MAX, shown, sizeof(shown));
	/* What reaches a terminal holds no control byte. */
	for (const unsigned char *p = (const unsigned char *)shown; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	codec_status_outcome(v.status);
	codec_status_view_free(&v);
	return 0;
}
