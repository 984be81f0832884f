/*
 * sig: Ed25519 keys and signatures (libsodium), and the signed-message
 * wrapper of docs/security.md ("Signed commands"):
 *
 *   {"signed":"<base64 of the exact bytes of the message>",
 *    "key":"ed25519:<base64 of the 32-byte public key>",
 *    "sig":"<base64 of the 64-byte signature>"}
 *
 * The signature covers a context line and then the inner bytes, exactly as
 * they are (no canonical form: any language signs what it sends). The
 * context ("tasker-command-v1\n" or "tasker-reply-v1\n") keeps a signature
 * made for one purpose from being accepted for another.
 *
 * Must not: talk to Redis, read the clock (callers pass now), or decide who
 * may do what (core/policy.c does). Only the key files do IO.
 */
#ifndef TASKER_SIG_H
#define TASKER_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIG_PUBLIC_BYTES 32
#define SIG_SEED_BYTES 32
#define SIG_SECRET_BYTES 64
#define SIG_BYTES 64
/* "ed25519:" and 44 base64 characters, with its NUL. */
#define SIG_PUBLIC_TEXT 53
/* 88 base64 characters, with its NUL. */
#define SIG_TEXT 89
/* The default window around a signed command's timestamp, either way. */
#define SIG_WINDOW_MS 60000
/* The most inner bytes a wrapper may carry (what fits, in base64, in the
 * 64 KiB message limit with room for the key and the signature). */
#define SIG_MAX_INNER 49000

/* What a signature is for: part of the signed bytes (docs/security.md).
 * SIG_FAILOVER ("tasker-failover-v1\n"): a start an executor moved to
 * another node (exec_failover.c), signed with its reply key. */
enum sig_context { SIG_COMMAND, SIG_REPLY, SIG_FAILOVER };

/* A key pair. Secret: wipe with sig_key_wipe() when done. */
struct sig_key {
	unsigned char pk[SIG_PUBLIC_BYTES];
	unsigned char sk[SIG_SECRET_BYTES]; /* libsodium's form: seed, then pk */
};

/* Starts libsodium; 0, or -1 when it cannot (no randomness source). Every
 * other function may be called only after it succeeded once. */
int sig_init(void);

/* A fresh key pair; 0 or -1. */
int sig_key_new(struct sig_key *out);
/* The key pair of a 32-byte seed (what NAME.key holds). */
void sig_key_from_seed(const unsigned char seed[SIG_SEED_BYTES], struct sig_key *out);
void sig_key_wipe(struct sig_key *key);

/* "ed25519:" + base64 of pk into buf[SIG_PUBLIC_TEXT]. */
void sig_public_text(const unsigned char pk[SIG_PUBLIC_BYTES], char buf[SIG_PUBLIC_TEXT]);
/*
 * Parses "ed25519:BASE64" strictly: the prefix in lower case, standard
 * base64 with its padding, canonical (no stray bits), exactly 32 bytes,
 * nothing before or after. 0, or -1 with a sentence in err.
 */
int sig_parse_public(const char *text, unsigned char pk[SIG_PUBLIC_BYTES], char *err,
                     size_t errlen);

/* A key name: 1 to 64 letters, digits, '.', '_' or '-', starting with a
 * letter or digit (so NAME.key stays in the directory it is written to). */
bool sig_key_name_ok(const char *name);

/*
 * Key files. NAME.key holds one line "ed25519-secret:<base64 of the 32-byte
 * seed>" and is created with mode 0600; NAME.pub holds one line
 * "ed25519:<base64 of the public key>" (mode 0644). Writing refuses to
 * replace either file (and writes neither then). Returns 0, or -1 with a
 * sentence in err.
 */
int sig_write_key_files(const char *dir, const char *name, const struct sig_key *key, char *err,
                        size_t errlen);
/* Reads a secret key file; refuses one that its group or others may read or
 * write, and anything but a regular file. 0, or -1 with a sentence. */
int sig_read_secret(const char *path, struct sig_key *out, char *err, size_t errlen);
/* Reads a public key file (one "ed25519:..." line). 0, or -1 with a sentence. */
int sig_read_public(const char *path, unsigned char pk[SIG_PUBLIC_BYTES], char *err, size_t errlen);

/* Signs ctx's context line followed by msg[0..len) into sig. */
void sig_sign(enum sig_context ctx, const struct sig_key *key, const void *msg, size_t len,
              unsigned char sig[SIG_BYTES]);
/* True when sig is pk's signature of the context line and msg. */
bool sig_verify(enum sig_context ctx, const unsigned char pk[SIG_PUBLIC_BYTES], const void *msg,
                size_t len, const unsigned char sig[SIG_BYTES]);

/*
 * Wraps msg[0..len) (a command or a reply, exact JSON bytes) signed by key.
 * Returns the wrapper as a malloc'd NUL-terminated string the caller frees,
 * or NULL when msg is longer than SIG_MAX_INNER.
 */
char *sig_wrap(enum sig_context ctx, const struct sig_key *key, const void *msg, size_t len);

/* A parsed wrapper; inner is owned (NUL-terminated, inner_len bytes). */
struct sig_wrapper {
	char *inner;
	size_t inner_len;
	unsigned char pk[SIG_PUBLIC_BYTES];
	unsigned char sig[SIG_BYTES];
};

/*
 * Reads buf[0..len) as a wrapper. Returns 1 and fills out when it is one
 * (an object with exactly the members "signed", "key" and "sig", each
 * once, each a string of the right form); 0 when buf is not a wrapper (not
 * a JSON object, or no "signed" member: an unsigned message, left to the
 * codec); -1 with a sentence in err when it claims to be one and is
 * malformed. Verifies nothing: call sig_verify_wrapper(). Always call
 * sig_wrapper_free() after 1 or -1 (after 0 it is a no-op).
 */
int sig_parse_wrapper(const char *buf, size_t len, struct sig_wrapper *out, char *err,
                      size_t errlen);
bool sig_verify_wrapper(enum sig_context ctx, const struct sig_wrapper *w);
void sig_wrapper_free(struct sig_wrapper *w);

/*
 * Whether a signed message's timestamp ts_ms is within window_ms of now_ms,
 * either way (both edges included). 0, or -1 with a sentence that says how
 * stale or how far ahead it is.
 */
int sig_check_window(int64_t ts_ms, int64_t now_ms, int64_t window_ms, char *err, size_t errlen);
/*
 * Replay protection's key: 64 lowercase hex digits (BLAKE2b-256 of the
 * context, the public key and the inner bytes) into out[65]. Two wrappers
 * of the same signed bytes by the same key have the same id, whatever
 * their base64 spelling. The executor remembers it (SET NX) for
 * sig_replay_ttl_ms().
 */
void sig_replay_id(enum sig_context ctx, const struct sig_wrapper *w, char out[65]);
/* How long an accepted message's id must be remembered: until its
 * timestamp leaves the window, plus a second; at least one second. */
int64_t sig_replay_ttl_ms(int64_t ts_ms, int64_t now_ms, int64_t window_ms);

#endif
