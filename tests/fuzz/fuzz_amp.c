/*
 * libFuzzer target: arbitrary bytes through the amp decoder, fed in chunks
 * whose sizes the input chooses, streaming first arguments or not as the
 * input chooses, then every frame through the reply, event and
 * process-record parsers (the streaming listing parser fed piece by piece)
 * and back through the strict encoder. Nothing here may crash, leak, or read
 * out of bounds, whatever the daemon (or an app publishing events) sends.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "amp.h"
#include "pm2.h"
#include "pm2_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const struct amp_frame *f)
{
	struct pm2_reply r;
	const char *err = NULL;
	if (pm2_reply_parse(f, &r, &err) == 0) {
		if (r.result != NULL) {
			struct pm2_proc *procs;
			size_t n;
			if (pm2_procs_parse(r.result, &procs, &n, &err) == 0)
				pm2_procs_free(procs, n);
			int ids[4], pids[4];
			pm2_started(r.result, ids, pids, 4);
			/* Whatever came back, the encoder either refuses it or
			 * produces a frame the decoder reads back as two args. */
			cJSON *args = cJSON_CreateArray();
			cJSON_AddItemToArray(args, cJSON_Duplicate(r.result, 1));
			static const char *const methods[] = {"prepare", "stopProcessId",
			                                      "restartProcessId", "ping"};
			for (size_t i = 0; i < 4; i++) {
				size_t len;
				char *frame = pm2_rpc_encode(methods[i], args, "1:1", &len, &err);
				if (frame == NULL)
					continue;
				struct amp_decoder d;
				struct amp_frame back;
				amp_decoder_init(&d, 0);
				amp_decoder_feed(&d, frame, len);
				if (amp_decoder_next(&d, &back) != AMP_FRAME || back.argc != 2)
					abort();
				amp_decoder_free(&d);
				free(frame);
			}
			cJSON_Delete(args);
		}
		pm2_reply_free(&r);
	}
	struct pm2_event ev;
	if (pm2_event_parse(f, &ev) == 0) {
		if (ev.name == NULL || ev.event == NULL || ev.process_name == NULL ||
		    ev.data == NULL || strlen(ev.data) != ev.data_len)
			abort();
		pm2_event_clear(&ev);
	}
}

/* Ends a listing parse and checks what it gave. */
static void list_finish(struct pm2_list_parser *lp)
{
	struct pm2_proc *procs;
	size_t n;
	char *why = NULL;
	if (pm2_list_parser_finish(lp, &procs, &n, &why) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (procs[i].name == NULL || procs[i].status == NULL ||
			    procs[i].pm_id < 0 || procs[i].nenv > PM2_LIST_MAX_ENV_NAMES)
				abort();
		}
		pm2_procs_free(procs, n);
	} else if (why == NULL) {
		abort();
	}
	free(why);
	pm2_list_parser_free(lp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* Byte 0 picks the chunk size, byte 1 a small or the default bound and
	 * whether (and above what) first arguments stream. */
	size_t chunk = (size_t)data[0] % 64 + 1;
	size_t max_frame = data[1] & 1 ? (size_t)data[1] * 16 : 0;
	bool stream = data[1] & 2;
	data += 2;
	size -= 2;
	struct amp_decoder d;
	amp_decoder_init(&d, max_frame);
	if (stream)
		amp_decoder_stream(&d, (size_t)(data[-1] >> 2) * 4);
	struct pm2_list_parser *lp = NULL;
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (amp_decoder_feed(&d, data + off, n) < 0)
			break;
		struct amp_frame f;
		enum amp_status st;
		while ((st = amp_decoder_next(&d, &f)) == AMP_FRAME || st == AMP_PART) {
			if (f.argc < 1 || f.argc > AMP_MAX_ARGS)
				abort();
			if (st == AMP_PART) {
				if (f.part.len == 0 || f.part_off + f.part.len > f.args[0].len)
					abort();
				if (f.part_off == 0) {
					pm2_list_parser_free(lp);
					lp = pm2_list_parser_new();
				}
				if (lp != NULL)
					pm2_list_parser_feed(lp, f.part.ptr, f.part.len);
				continue;
			}
			if (f.streamed) {
				if (f.args[0].ptr != NULL || lp == NULL)
					abort();
				list_finish(lp);
				lp = NULL;
				continue;
			}
			check_frame(&f);
			struct pm2_list_parser *whole = pm2_list_parser_new();
			pm2_list_parser_feed(whole, f.args[0].ptr, f.args[0].len);
			list_finish(whole);
		}
		if (st == AMP_ERROR)
			break;
	}
	pm2_list_parser_free(lp);
	amp_decoder_free(&d);
	return 0;
}
