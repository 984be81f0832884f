/*
 * reply_sig: signed status messages (docs/security.md, "Signed replies").
 * An executor appends its signature to a status message as the object's
 * last member, so the message stays plain JSON for third-party readers:
 *
 *   B' = B without its final '}'  ||  ,"sig":{"key":"ed25519:<44>","value":"<88>"}}
 *
 * where B is the unsigned message (a JSON object ending in '}') and the
 * signature covers "tasker-reply-v1\n" || B. Readers strip that exact
 * suffix (169 bytes) and append '}' to get B back.
 *
 * reply_trust: which key a node's replies must carry: a pinned key from a
 * trust file (lines "NODE ed25519:..."), else the key its presence
 * (b00t:tasker:executor:NODE) publishes, looked up once a minute at most.
 * Messages are checked in the order given, each reaching its callback with
 * a verdict; a message waiting for a presence lookup holds back the later
 * ones, so the order is kept.
 *
 * Must not: decide what a tool does with a verdict (its caller does), or
 * read any Redis key but presence keys.
 */
#ifndef TASKER_REPLY_SIG_H
#define TASKER_REPLY_SIG_H

#include <stdbool.h>
#include <stddef.h>

#include "bus.h"
#include "sig.h"

/* The length of the appended suffix: ,"sig":{"key":"ed25519:<44>","value":"<88>"}} */
#define REPLY_SIG_SUFFIX_LEN 169
#define REPLY_PRESENCE_PREFIX "b00t:tasker:executor:"

/* B' of json[0..len): a malloc'd NUL-terminated string, or NULL when json
 * is not an object with at least one member ending in '}'. */
char *reply_sig_append(const struct sig_key *key, const char *json, size_t len);

/*
 * Splits a status message. 0: not signed (no suffix of the signed form at
 * its end). 1: signed: *body is B (malloc'd, NUL-terminated, *body_len
 * bytes), pk and sig filled. -1: it ends like a signature (,"sig":{ at the
 * suffix's place) but the suffix is malformed; why says how.
 */
int reply_sig_split(const char *buf, size_t len, char **body, size_t *body_len,
		    unsigned char pk[SIG_PUBLIC_BYTES], unsigned char sig[SIG_BYTES], const char **why);

enum reply_verdict {
	REPLY_VERIFIED,	  /* signed by the key known for its node */
	REPLY_UNSIGNED,	  /* no signature; see key_known */
	REPLY_UNVERIFIED, /* a signature that fails, or another key than the node's */
	REPLY_UNKNOWN_KEY /* signed, but no key is known for its node */
};

struct reply_check {
	enum reply_verdict verdict;
	bool key_known;	   /* a key is pinned or published for the node */
	bool old_executor; /* the node's presence exists and carries no key */
	bool pinned;	   /* the known key is a pinned one */
	bool strict;	   /* a trust file is in use: an unknown node is not trusted */
	const char *node;  /* from the message; NULL when it names none */
	const char *why;   /* a sentence for unverified ones, else "" */
};

/* The word shown next to a message: "verified", "unsigned", "UNVERIFIED". */
const char *reply_verdict_word(const struct reply_check *c);
/* Whether a tool may take the message as an executor's answer: verified;
 * or, when no key is pinned or published for its node (an executor older
 * than signed replies, or one that cannot write its presence), unsigned or
 * signed by a key nobody vouches for, except under a trust file. A failing
 * signature never. */
bool reply_acceptable(const struct reply_check *c);

struct reply_trust;
typedef void (*reply_checked_fn)(const char *data, size_t len, const struct reply_check *c,
				 void *arg);

/* path: a trust file, or NULL. NULL with a sentence in err when the file
 * cannot be read or has a bad line. bus may be NULL (pins only). */
struct reply_trust *reply_trust_new(struct bus *bus, const char *path, char *err, size_t errlen);
/* Calls fn(arg) once every message given before has reached its
 * callback: now, or after the lookups those wait for (keeps a caller's
 * "the replay ended" line after the replayed messages). */
void reply_trust_after(struct reply_trust *t, void (*fn)(void *arg), void *arg);
/* Sets the bus presence keys are read through (after a NULL one). */
void reply_trust_use_bus(struct reply_trust *t, struct bus *bus);
/* Free the bus first (its last callbacks still reach the trust). */
void reply_trust_free(struct reply_trust *t);
/* Checks data[0..len) (copied when it must wait) and calls fn, now or
 * after a presence lookup. */
void reply_trust_check(struct reply_trust *t, const char *data, size_t len, reply_checked_fn fn,
		       void *arg);
#endif
