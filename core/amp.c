/*
 * amp: see amp.h. Owns the frame byte layout and the decoder's one buffer;
 * does no IO and never trusts a length before checking it against the bound.
 */
#include "amp.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A buffer this large is given back once it is mostly empty again, so one
 * big reply does not pin its size for the life of the connection. */
#define AMP_SHRINK_ABOVE ((size_t)1 << 20)
#define AMP_SHRINK_TO ((size_t)64 << 10)

static uint32_t be32_read(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

static void be32_write(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

size_t amp_encoded_size(const struct amp_arg *args, size_t argc)
{
	if (argc < 1 || argc > AMP_MAX_ARGS)
		return 0;
	size_t total = 1;
	for (size_t i = 0; i < argc; i++) {
		if (args[i].len > UINT32_MAX || (args[i].len > 0 && args[i].ptr == NULL))
			return 0;
		if (args[i].len > SIZE_MAX - total - 4)
			return 0;
		total += 4 + args[i].len;
	}
	return total;
}

size_t amp_encode_into(const struct amp_arg *args, size_t argc, char *out, size_t size)
{
	size_t total = amp_encoded_size(args, argc);
	if (total == 0 || total > size)
		return 0;
	size_t o = 0;
	out[o++] = (char)(AMP_VERSION << 4 | argc);
	for (size_t i = 0; i < argc; i++) {
		be32_write(out + o, (uint32_t)args[i].len);
		o += 4;
		if (args[i].len > 0)
			memcpy(out + o, args[i].ptr, args[i].len);
		o += args[i].len;
	}
	return o;
}

char *amp_encode(const struct amp_arg *args, size_t argc, size_t *out_len)
{
	size_t total = amp_encoded_size(args, argc);
	if (total == 0)
		return NULL;
	char *out = xmalloc(total);
	*out_len = amp_encode_into(args, argc, out, total);
	return out;
}

void amp_decoder_init(struct amp_decoder *d, size_t max_frame)
{
	memset(d, 0, sizeof(*d));
	if (max_frame == 0)
		max_frame = AMP_DEFAULT_MAX_FRAME;
	/* The smallest frame: header and one empty argument. */
	d->max_frame = max_frame < 5 ? 5 : max_frame;
	d->stream_above = SIZE_MAX;
}

void amp_decoder_free(struct amp_decoder *d)
{
	free(d->buf);
	d->buf = NULL;
	d->off = d->len = d->cap = 0;
	d->streaming = false;
}

void amp_decoder_reset(struct amp_decoder *d)
{
	size_t max = d->max_frame, above = d->stream_above;
	amp_decoder_free(d);
	amp_decoder_init(d, max);
	d->stream_above = above;
}

void amp_decoder_stream(struct amp_decoder *d, size_t above)
{
	d->stream_above = above;
}

static void decoder_fail(struct amp_decoder *d, const char *why)
{
	d->error = why;
	d->streaming = false;
	free(d->buf);
	d->buf = NULL;
	d->off = d->len = d->cap = 0;
}

int amp_decoder_feed(struct amp_decoder *d, const void *data, size_t len)
{
	if (d->error != NULL)
		return -1;
	if (len == 0)
		return 0;
	size_t pending = d->len - d->off;
	if (d->off > 0) {
		/* The frames before off were returned: their pointers die here. */
		if (pending > 0)
			memmove(d->buf, d->buf + d->off, pending);
		d->off = 0;
		d->len = pending;
	}
	if (len > SIZE_MAX - pending) {
		decoder_fail(d, "input too large");
		return -1;
	}
	size_t need = pending + len;
	if (need > d->cap) {
		size_t cap = d->cap ? d->cap : 4096;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		d->buf = xrealloc(d->buf, cap);
		d->cap = cap;
	} else if (d->cap > AMP_SHRINK_ABOVE && need < d->cap / 4) {
		size_t cap = need > AMP_SHRINK_TO ? need : AMP_SHRINK_TO;
		d->buf = xrealloc(d->buf, cap);
		d->cap = cap;
	}
	memcpy(d->buf + d->len, data, len);
	d->len += len;
	return 0;
}

/*
 * Reads arguments from..argc-1 starting at p + o, where base bytes of the
 * frame came before p (they count against the bound). AMP_FRAME with *end
 * past the last argument; AMP_PART (with *end past its length field) when
 * the first argument is to be streamed; AMP_NEED_MORE; AMP_ERROR.
 */
static enum amp_status read_args(struct amp_decoder *d, const char *p, size_t avail, size_t o,
                                 size_t base, size_t from, size_t argc, struct amp_frame *frame,
                                 size_t *end)
{
	/* Invariant: base + o <= max_frame. */
	for (size_t i = from; i < argc; i++) {
		if (d->max_frame - base - o < 4) {
			decoder_fail(d, "amp frame larger than the limit");
			return AMP_ERROR;
		}
		if (avail - o < 4)
			return AMP_NEED_MORE;
		size_t alen = be32_read(p + o);
		o += 4;
		if (i == 0 && alen > d->stream_above) {
			*end = o;
			frame->args[0].len = alen;
			return AMP_PART;
		}
		/* Checked before the bytes arrive: a huge announced length fails
		 * at once instead of being buffered. */
		if (alen > d->max_frame - base - o) {
			decoder_fail(d, "amp frame larger than the limit");
			return AMP_ERROR;
		}
		if (avail - o < alen)
			return AMP_NEED_MORE;
		frame->args[i].ptr = p + o;
		frame->args[i].len = alen;
		o += alen;
	}
	*end = o;
	return AMP_FRAME;
}

/* Inside a streamed first argument: its next piece, or once it is all out,
 * the rest of the frame. */
static enum amp_status next_streamed(struct amp_decoder *d, struct amp_frame *frame)
{
	const char *p = d->buf != NULL ? d->buf + d->off : NULL;
	size_t avail = d->len - d->off;
	frame->argc = d->s_argc;
	frame->args[0].ptr = NULL;
	frame->args[0].len = d->s_len;
	if (d->s_done < d->s_len) {
		if (avail == 0)
			return AMP_NEED_MORE;
		size_t n = d->s_len - d->s_done < avail ? d->s_len - d->s_done : avail;
		frame->part.ptr = p;
		frame->part.len = n;
		frame->part_off = d->s_done;
		d->s_done += n;
		d->off += n;
		return AMP_PART;
	}
	/* The header and the first length (5 bytes) were this frame's too. */
	size_t end = 0;
	enum amp_status st = read_args(d, p, avail, 0, 5, 1, d->s_argc, frame, &end);
	if (st != AMP_FRAME)
		return st;
	frame->streamed = true;
	d->streaming = false;
	d->off += end;
	return AMP_FRAME;
}

enum amp_status amp_decoder_next(struct amp_decoder *d, struct amp_frame *frame)
{
	if (d->error != NULL)
		return AMP_ERROR;
	frame->streamed = false;
	frame->part.ptr = NULL;
	frame->part.len = 0;
	frame->part_off = 0;
	size_t avail = d->len - d->off;
	if (avail == 0) {
		/* Everything was consumed: start the next feed at the front. */
		d->off = d->len = 0;
		if (!d->streaming || d->s_done < d->s_len)
			return AMP_NEED_MORE;
	}
	if (d->streaming)
		return next_streamed(d, frame);
	const char *p = d->buf + d->off;
	unsigned char meta = (unsigned char)p[0];
	if (meta >> 4 != AMP_VERSION) {
		decoder_fail(d, "bad amp version nibble");
		return AMP_ERROR;
	}
	size_t argc = meta & 0x0f;
	if (argc == 0) {
		/* axon would wait forever for such a frame to end. */
		decoder_fail(d, "amp frame with no arguments");
		return AMP_ERROR;
	}
	size_t end = 0;
	enum amp_status st = read_args(d, p, avail, 1, 0, 0, argc, frame, &end);
	if (st == AMP_PART) {
		d->streaming = true;
		d->s_argc = argc;
		d->s_len = frame->args[0].len;
		d->s_done = 0;
		d->off += end;
		return next_streamed(d, frame);
	}
	if (st != AMP_FRAME)
		return st;
	frame->argc = argc;
	d->off += end;
	return AMP_FRAME;
}
