/*
 * reply_sig: see reply_sig.h. The format is byte-exact on purpose: a
 * verifier in any language strips a fixed-length suffix, no JSON rewriting.
 */
#include "reply_sig.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <hiredis.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char SUFFIX_HEAD[] = ",\"sig\":{\"key\":\"";	/* 15 bytes */
static const char SUFFIX_MID[] = "\",\"value\":\"";		/* 11 bytes */
static const char SUFFIX_TAIL[] = "\"}}";			/* 3 bytes */
#define HEAD_LEN 15
#define KEY_LEN 52	/* "ed25519:" + 44 */
#define MID_LEN 11
#define VALUE_LEN 88
#define TAIL_LEN 3

_Static_assert(HEAD_LEN + KEY_LEN + MID_LEN + VALUE_LEN + TAIL_LEN == REPLY_SIG_SUFFIX_LEN,
	       "suffix length");

char *reply_sig_append(const struct sig_key *key, const char *json, size_t len)
{
	/* An object with at least one member: "{" ... "}" and not "{}". */
	if (len < 3 || json[0] != '{' || json[len - 1] != '}')
		return NULL;
	size_t k = len - 1;
	while (k > 1 && (json[k - 1] == ' ' || json[k - 1] == '\n' || json[k - 1] == '\t' ||
			 json[k - 1] == '\r'))
		k--;
	if (json[k - 1] == '{')
		return NULL;
	unsigned char sig[SIG_BYTES];
	sig_sign(SIG_REPLY, key, json, len, sig);
	char pub[SIG_PUBLIC_TEXT];
	sig_public_text(key->pk, pub);
	char value[SIG_TEXT];
	sodium_bin2base64(value, sizeof(value), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	size_t out_len = len - 1 + REPLY_SIG_SUFFIX_LEN;
	char *out = xmalloc(out_len + 1);
	memcpy(out, json, len - 1);
	snprintf(out + len - 1, REPLY_SIG_SUFFIX_LEN + 1, "%s%s%s%s%s", SUFFIX_HEAD, pub, SUFFIX_MID,
		 value, SUFFIX_TAIL);
	return out;
}

int reply_sig_split(const char *buf, size_t len, char **body, size_t *body_len,
		    unsigned char pk[SIG_PUBLIC_BYTES], unsigned char sig[SIG_BYTES], const char **why)
{
	*body = NULL;
	*why = "";
	if (len < REPLY_SIG_SUFFIX_LEN + 2)
		return 0;
	const char *s = buf + len - REPLY_SIG_SUFFIX_LEN;
	if (memcmp(s, SUFFIX_HEAD, 8) != 0) /* ,"sig":{ */
		return 0;
	if (memcmp(s, SUFFIX_HEAD, HEAD_LEN) != 0 ||
	    memcmp(s + HEAD_LEN + KEY_LEN, SUFFIX_MID, MID_LEN) != 0 ||
	    memcmp(s + HEAD_LEN + KEY_LEN + MID_LEN + VALUE_LEN, SUFFIX_TAIL, TAIL_LEN) != 0) {
		*why = "the sig member is not of the signed form";
		return -1;
	}
	char key[KEY_LEN + 1];
	memcpy(key, s + HEAD_LEN, KEY_LEN);
	key[KEY_LEN] = '\0';
	char err[200];
	if (sig_parse_public(key, pk, err, sizeof(err)) < 0) {
		*why = "the sig member's key is not an ed25519 public key";
		return -1;
	}
	const char *value = s + HEAD_LEN + KEY_LEN + MID_LEN;
	size_t n = 0;
	const char *end = NULL;
	if (sodium_base642bin(sig, SIG_BYTES, value, VALUE_LEN, NULL, &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != SIG_BYTES || end != value + VALUE_LEN) {
		*why = "the sig member's value is not the base64 of 64 bytes";
		return -1;
	}
	/* Canonical: re-encoding gives the same characters (no stray bits). */
	char again[SIG_TEXT];
	sodium_bin2base64(again, sizeof(again), sig, SIG_BYTES, sodium_base64_VARIANT_ORIGINAL);
	if (memcmp(again, value, VALUE_LEN) != 0) {
		*why = "the sig member's value is not canonical base64";
		return -1;
	}
	size_t blen = len - REPLY_SIG_SUFFIX_LEN + 1;
	char *b = xmalloc(blen + 1);
	memcpy(b, buf, blen - 1);
	b[blen - 1] = '}';
	b[blen] = '\0';
	*body = b;
	*body_len = blen;
	return 1;
}

const char *reply_verdict_word(const struct reply_check *c)
{
	switch (c->verdict) {
	case REPLY_VERIFIED:
		return "verified";
	case REPLY_UNSIGNED:
		return c->key_known ? "UNSIGNED (forged?)" : "unsigned";
	case REPLY_UNVERIFIED:
		return "UNVERIFIED (forged?)";
	case REPLY_UNKNOWN_KEY:
	default:
		return "unverified (no key known)";
	}
}

bool reply_acceptable(const struct reply_check *c)
{
	if (c->verdict == REPLY_VERIFIED)
		return true;
	if (c->verdict == REPLY_UNVERIFIED || c->key_known)
		return false;
	return !c->strict;
}

/* --- the trust store ---------------------------------------------------- */

enum key_state { KS_PIN, KS_KEY, KS_NOKEY, KS_ABSENT, KS_FAILED };

struct node_key {
	char *node;
	enum key_state state;
	unsigned char pk[SIG_PUBLIC_BYTES];
	int64_t fetched_ms;
	bool in_flight;
};

struct queued {
	struct queued *next;
	char *data;
	size_t len;
	reply_checked_fn fn;
	void (*after)(void *arg); /* a marker (reply_trust_after): no data */
	void *arg;
};

struct reply_trust {
	struct bus *bus;
	struct node_key *keys;
	size_t nkeys, capkeys;
	struct queued *head, *tail;
	bool draining;
	bool strict; /* a trust file was given */
	bool freed_pending; /* lookups in flight hold the trust alive */
	size_t in_flight;
};

#define PRESENCE_FRESH_MS 60000
#define FAILED_FRESH_MS 5000

static struct node_key *find_key(struct reply_trust *t, const char *node)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].node, node) == 0)
			return &t->keys[i];
	return NULL;
}

static struct node_key *add_key(struct reply_trust *t, const char *node)
{
	if (t->nkeys == t->capkeys) {
		t->capkeys = t->capkeys ? t->capkeys * 2 : 8;
		t->keys = xrealloc(t->keys, t->capkeys * sizeof(*t->keys));
	}
	struct node_key *k = &t->keys[t->nkeys++];
	memset(k, 0, sizeof(*k));
	k->node = xstrdup(node);
	k->state = KS_ABSENT;
	return k;
}

static int load_trust(struct reply_trust *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read the trust file %s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int rc = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
				 line[n - 1] == '\t'))
			line[--n] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		char *sp = p + strcspn(p, " \t");
		if (*sp == '\0') {
			snprintf(err, errlen, "%s:%zu: a line is \"NODE ed25519:...\"", path, lineno);
			rc = -1;
			break;
		}
		*sp++ = '\0';
		sp += strspn(sp, " \t");
		unsigned char pk[SIG_PUBLIC_BYTES];
		char why[200];
		if (strlen(p) > 128 || sig_parse_public(sp, pk, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%zu: %s", path, lineno,
				 strlen(p) > 128 ? "a node name is at most 128 characters" : why);
			rc = -1;
			break;
		}
		struct node_key *k = find_key(t, p);
		if (k != NULL) {
			snprintf(err, errlen, "%s:%zu: node %s is pinned twice", path, lineno, p);
			rc = -1;
			break;
		}
		k = add_key(t, p);
		k->state = KS_PIN;
		memcpy(k->pk, pk, sizeof(pk));
	}
	free(line);
	fclose(f);
	return rc;
}

struct reply_trust *reply_trust_new(struct bus *bus, const char *path, char *err, size_t errlen)
{
	if (sig_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start (no randomness source)");
		return NULL;
	}
	struct reply_trust *t = xcalloc(1, sizeof(*t));
	t->bus = bus;
	t->strict = path != NULL;
	if (path != NULL && load_trust(t, path, err, errlen) < 0) {
		t->freed_pending = true;
		reply_trust_free(t);
		return NULL;
	}
	return t;
}

void reply_trust_use_bus(struct reply_trust *t, struct bus *bus)
{
	t->bus = bus;
}

static void really_free(struct reply_trust *t)
{
	for (size_t i = 0; i < t->nkeys; i++)
		free(t->keys[i].node);
	free(t->keys);
	while (t->head != NULL) {
		struct queued *q = t->head;
		t->head = q->next;
		free(q->data);
		free(q);
	}
	free(t);
}

void reply_trust_free(struct reply_trust *t)
{
	if (t == NULL)
		return;
	t->freed_pending = true;
	if (t->in_flight == 0)
		really_free(t);
}

/* The node a message names (in B for a signed one), into buf; false when
 * it names none. */
static bool message_node(const char *json, size_t len, char *buf, size_t cap)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	bool ok = false;
	if (cJSON_IsObject(root)) {
		/* A failover message names the new node; by_node wrote it. */
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "by_node");
		if (!cJSON_IsString(n))
			n = cJSON_GetObjectItemCaseSensitive(root, "node");
		if (cJSON_IsString(n) && n->valuestring[0] != '\0' && strlen(n->valuestring) < cap) {
			snprintf(buf, cap, "%s", n->valuestring);
			ok = true;
		}
	}
	cJSON_Delete(root);
	return ok;
}

static bool fresh(const struct node_key *k, int64_t now)
{
	if (k->state == KS_PIN)
		return true;
	int64_t life = k->state == KS_FAILED ? FAILED_FRESH_MS : PRESENCE_FRESH_MS;
	return k->fetched_ms != 0 && now - k->fetched_ms < life;
}

static void judge(struct reply_trust *t, const char *data, size_t len, const char *node,
		  struct reply_check *c)
{
	memset(c, 0, sizeof(*c));
	c->node = node;
	c->why = "";
	const struct node_key *k = node != NULL ? find_key(t, node) : NULL;
	const unsigned char *known = NULL;
	if (k != NULL && (k->state == KS_PIN || k->state == KS_KEY))
		known = k->pk;
	c->key_known = known != NULL;
	c->pinned = k != NULL && k->state == KS_PIN;
	c->old_executor = k != NULL && k->state == KS_NOKEY;
	c->strict = t->strict;
	char *body = NULL;
	size_t blen = 0;
	unsigned char pk[SIG_PUBLIC_BYTES], sig[SIG_BYTES];
	const char *why = "";
	int r = reply_sig_split(data, len, &body, &blen, pk, sig, &why);
	if (r < 0) {
		c->verdict = REPLY_UNVERIFIED;
		c->why = why;
	} else if (r == 0) {
		c->verdict = REPLY_UNSIGNED;
		c->why = known ? (c->pinned ? "unsigned, but a key is pinned for its node"
					    : "unsigned, but its node publishes a key")
			       : "";
	} else if (!sig_verify(SIG_REPLY, pk, body, blen, sig)) {
		c->verdict = REPLY_UNVERIFIED;
		c->why = "the signature does not match the message (a changed byte)";
	} else if (known == NULL) {
		c->verdict = REPLY_UNKNOWN_KEY;
		c->why = node ? "no key is pinned or published for its node" : "it names no node";
	} else if (sodium_memcmp(known, pk, SIG_PUBLIC_BYTES) != 0) {
		c->verdict = REPLY_UNVERIFIED;
		c->why = c->pinned ? "signed by another key than the one pinned for its node"
				   : "signed by another key than the one its node publishes";
	} else {
		c->verdict = REPLY_VERIFIED;
	}
	free(body);
}

static void drain(struct reply_trust *t);

struct lookup {
	struct reply_trust *t;
	char *node;
};

static void on_presence(struct bus *bus, redisReply *reply, void *arg)
{
	(void)bus;
	struct lookup *l = arg;
	struct reply_trust *t = l->t;
	t->in_flight--;
	struct node_key *k = find_key(t, l->node);
	if (k != NULL) {
		k->in_flight = false;
		k->fetched_ms = util_mono_ms();
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			k->state = KS_FAILED;
		} else if (reply->type == REDIS_REPLY_NIL) {
			k->state = KS_ABSENT;
		} else if (reply->type == REDIS_REPLY_STRING) {
			k->state = KS_NOKEY;
			cJSON *root = cJSON_ParseWithLength(reply->str, reply->len);
			const cJSON *key = cJSON_GetObjectItemCaseSensitive(root, "key");
			char err[200];
			if (cJSON_IsString(key) &&
			    sig_parse_public(key->valuestring, k->pk, err, sizeof(err)) == 0)
				k->state = KS_KEY;
			else if (key != NULL)
				k->state = KS_ABSENT; /* a broken key: known to nobody */
			cJSON_Delete(root);
		} else {
			k->state = KS_FAILED;
		}
	}
	free(l->node);
	free(l);
	if (t->freed_pending) {
		if (t->in_flight == 0)
			really_free(t);
		return;
	}
	drain(t);
}

/* true when node's key is ready to judge with; else starts a lookup. */
static bool key_ready(struct reply_trust *t, const char *node)
{
	int64_t now = util_mono_ms();
	struct node_key *k = find_key(t, node);
	if (k == NULL)
		k = add_key(t, node);
	if (fresh(k, now))
		return true;
	if (k->in_flight)
		return false;
	if (t->bus == NULL) {
		k->state = KS_FAILED;
		k->fetched_ms = now;
		return true;
	}
	char *name = xasprintf(REPLY_PRESENCE_PREFIX "%s", node);
	const char *argv[2] = {"GET", name};
	size_t lens[2] = {3, strlen(name)};
	struct lookup *l = xmalloc(sizeof(*l));
	l->t = t;
	l->node = xstrdup(node);
	int rc = bus_command(t->bus, 2, argv, lens, on_presence, l);
	free(name);
	if (rc < 0) {
		free(l->node);
		free(l);
		k->state = KS_FAILED;
		k->fetched_ms = now;
		return true;
	}
	k->in_flight = true;
	t->in_flight++;
	return false;
}

/* Gives out the queued messages whose node key is ready, in order. */
static void drain(struct reply_trust *t)
{
	if (t->draining)
		return;
	t->draining = true;
	while (t->head != NULL) {
		struct queued *q = t->head;
		if (q->after != NULL) {
			t->head = q->next;
			if (t->head == NULL)
				t->tail = NULL;
			q->after(q->arg);
			free(q);
			if (t->freed_pending)
				break;
			continue;
		}
		char node[160];
		bool has_node;
		char *body = NULL;
		size_t blen;
		unsigned char pk[SIG_PUBLIC_BYTES], sig[SIG_BYTES];
		const char *why;
		if (reply_sig_split(q->data, q->len, &body, &blen, pk, sig, &why) == 1)
			has_node = message_node(body, blen, node, sizeof(node));
		else
			has_node = message_node(q->data, q->len, node, sizeof(node));
		free(body);
		if (has_node && !key_ready(t, node))
			break;
		t->head = q->next;
		if (t->head == NULL)
			t->tail = NULL;
		struct reply_check c;
		judge(t, q->data, q->len, has_node ? node : NULL, &c);
		q->fn(q->data, q->len, &c, q->arg);
		free(q->data);
		free(q);
		if (t->freed_pending)
			break;
	}
	t->draining = false;
}

static void enqueue(struct reply_trust *t, struct queued *q)
{
	if (t->tail != NULL)
		t->tail->next = q;
	else
		t->head = q;
	t->tail = q;
	drain(t);
}

void reply_trust_after(struct reply_trust *t, void (*fn)(void *arg), void *arg)
{
	struct queued *q = xcalloc(1, sizeof(*q));
	q->after = fn;
	q->arg = arg;
	enqueue(t, q);
}

void reply_trust_check(struct reply_trust *t, const char *data, size_t len, reply_checked_fn fn,
		       void *arg)
{
	struct queued *q = xcalloc(1, sizeof(*q));
	q->data = xmalloc(len + 1);
	memcpy(q->data, data, len);
	q->data[len] = '\0';
	q->len = len;
	q->fn = fn;
	q->arg = arg;
	enqueue(t, q);
}
