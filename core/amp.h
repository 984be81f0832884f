/*
 * amp: the frame format of PM2's sockets (the "amp" encoding of axon).
 *
 * A frame is one byte 0x10 | argc (protocol version 1 in the high nibble,
 * argc 1..15 in the low one), then per argument a big-endian uint32 length
 * and that many bytes. This module owns only the byte layout: it does no IO,
 * reads no clock and knows nothing of JSON, so tests feed it bytes.
 *
 * The decoder is incremental: feed it whatever a read() returned, then call
 * amp_decoder_next() until it says it needs more. It never buffers more than
 * one frame of at most max_frame bytes plus the last chunk fed, so a peer
 * announcing a 4 GiB argument gets an error, not an allocation.
 *
 * It can also stream: with amp_decoder_stream(), a first argument longer
 * than a threshold is not buffered at all but handed out in pieces as its
 * bytes arrive (AMP_PART), so a consumer that parses as it goes (PM2's
 * process list, whatever its size) holds one read's worth of bytes. Only the
 * first argument streams: PM2 replies carry their payload there and the
 * request id after it.
 */
#ifndef TASKER_AMP_H
#define TASKER_AMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AMP_VERSION 1
#define AMP_MAX_ARGS 15
/* Default bound on one frame (header, lengths and arguments). */
#define AMP_DEFAULT_MAX_FRAME ((size_t)64 << 20)

struct amp_arg {
	const char *ptr;
	size_t len;
};

struct amp_frame {
	size_t argc;
	struct amp_arg args[AMP_MAX_ARGS];
	/* AMP_FRAME: args[0] was streamed; its ptr is NULL and its len the
	 * size it had. */
	bool streamed;
	/* AMP_PART: the next bytes of args[0], starting part_off bytes into it;
	 * argc and args[0].len (the whole size) are set too. */
	struct amp_arg part;
	size_t part_off;
};

enum amp_status {
	AMP_ERROR = -1,    /* malformed or oversize input; the decoder stays failed */
	AMP_NEED_MORE = 0, /* no complete frame buffered */
	AMP_FRAME = 1,     /* *frame filled */
	AMP_PART = 2,      /* frame->part holds the next bytes of a streamed args[0] */
};

struct amp_decoder {
	char *buf; /* buffered bytes: [off, len) not yet returned */
	size_t off, len, cap;
	size_t max_frame;    /* bound on one frame, in bytes (streamed bytes aside) */
	size_t stream_above; /* a longer first argument streams; SIZE_MAX: never */
	bool streaming;      /* inside a streamed first argument, or just after it */
	size_t s_argc, s_len, s_done;
	const char *error; /* static message once failed, else NULL */
};

/* Size of the frame holding these arguments, or 0 when argc is not 1..15 or
 * an argument is longer than UINT32_MAX. */
size_t amp_encoded_size(const struct amp_arg *args, size_t argc);

/* Writes the frame into out, which holds amp_encoded_size() bytes. Returns
 * the bytes written, or 0 on the same refusals as amp_encoded_size(). */
size_t amp_encode_into(const struct amp_arg *args, size_t argc, char *out, size_t size);

/* Encodes a frame into a new buffer of *out_len bytes; the caller frees it.
 * NULL when argc is not 1..15 or an argument is too long. */
char *amp_encode(const struct amp_arg *args, size_t argc, size_t *out_len);

/* max_frame 0 means AMP_DEFAULT_MAX_FRAME; it is at least 5 bytes. */
void amp_decoder_init(struct amp_decoder *d, size_t max_frame);
void amp_decoder_free(struct amp_decoder *d);
/* Drops buffered bytes and any error: for a fresh connection. The bound
 * and the streaming threshold stay. */
void amp_decoder_reset(struct amp_decoder *d);

/*
 * From the next frame on, a first argument longer than `above` bytes is
 * streamed: amp_decoder_next() returns AMP_PART for each piece of it as the
 * bytes arrive (never an empty piece), then AMP_FRAME once the rest of the
 * frame is in, with frame->streamed set. The streamed bytes do not count
 * against max_frame; the header, the lengths and the other arguments do.
 * above 0 streams every non-empty first argument; SIZE_MAX (the default)
 * turns streaming off.
 */
void amp_decoder_stream(struct amp_decoder *d, size_t above);

/* Appends len bytes. Call amp_decoder_next() until AMP_NEED_MORE before
 * feeding again: that is what keeps the buffer bounded. Returns 0, or -1
 * once the decoder has failed (nothing is buffered then). */
int amp_decoder_feed(struct amp_decoder *d, const void *data, size_t len);

/*
 * Takes the next complete frame (or streamed piece) out of the buffer. On
 * AMP_FRAME and AMP_PART the pointers point into the decoder's buffer and
 * stay valid until the next amp_decoder_feed(), reset or free. On
 * AMP_ERROR, d->error says why (bad version nibble, argc 0, a frame over
 * max_frame); the stream cannot be resynchronised, so the caller drops the
 * connection.
 */
enum amp_status amp_decoder_next(struct amp_decoder *d, struct amp_frame *frame);

#endif
