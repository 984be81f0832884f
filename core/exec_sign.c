/*
 * exec_sign: the executor's own key and the signing of every status message
 * it publishes (docs/security.md, "Signed replies"). The key is --key
 * (TASKER_KEY), or one made at first start in the state directory
 * ($XDG_STATE_HOME/tasker/, else ~/.local/state/tasker/), named after the
 * node, mode 0600, and read again at every later start.
 *
 * Must not: publish anything itself, or ever let a status message out
 * unsigned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "executor_int.h"
#include "log.h"
#include "reply_sig.h"
#include "sig.h"
#include "util.h"

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
	char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				snprintf(err, errlen, "cannot make the state directory %s: %s", p,
					 strerror(errno));
				free(p);
				return -1;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return 0;
}

static char *state_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME");
	if (x != NULL && x[0] == '/')
		return xasprintf("%s/tasker", x);
	const char *home = getenv("HOME");
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.local/state/tasker", home);
	return NULL;
}

/* The node as a key file name: characters a key name may not hold become _. */
static void key_name(const char *node, char *out, size_t cap)
{
	size_t n = 0;
	const char *prefix = "reply-";
	for (const char *p = prefix; *p && n + 1 < cap; p++)
		out[n++] = *p;
	for (const char *p = node; *p && n + 1 < cap && n < 64; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
}

int exec_sign_setup(struct executor *ex, char *err, size_t errlen)
{
	if (sig_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start (no randomness source)");
		return -1;
	}
	struct sig_key *key = xcalloc(1, sizeof(*key));
	char why[400];
	if (ex->cfg->key_path != NULL) {
		if (sig_read_secret(ex->cfg->key_path, key, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--key: %s", why);
			free(key);
			return -1;
		}
	} else {
		char *dir = state_dir();
		if (dir == NULL) {
			snprintf(err, errlen, "no --key, and neither XDG_STATE_HOME nor HOME is set to "
					      "keep a key in");
			free(key);
			return -1;
		}
		char name[80];
		key_name(ex->cfg->node, name, sizeof(name));
		char *path = xasprintf("%s/%s.key", dir, name);
		struct stat st;
		int rc = 0;
		if (stat(path, &st) == 0) {
			rc = sig_read_secret(path, key, why, sizeof(why));
		} else if ((rc = make_dirs(dir, why, sizeof(why))) == 0 &&
			   (rc = sig_key_new(key)) == 0) {
			rc = sig_write_key_files(dir, name, key, why, sizeof(why));
			if (rc == 0)
				log_info("made this executor's reply key %s", path);
		}
		if (rc < 0)
			snprintf(err, errlen, "the reply key %s: %s", path, why);
		free(path);
		free(dir);
		if (rc < 0) {
			sig_key_wipe(key);
			free(key);
			return -1;
		}
	}
	ex->reply_key = key;
	sig_public_text(key->pk, ex->reply_pub);
	log_info("signing status messages with %s", ex->reply_pub);
	return 0;
}

void exec_sign_free(struct executor *ex)
{
	if (ex->reply_key != NULL) {
		sig_key_wipe(ex->reply_key);
		free(ex->reply_key);
		ex->reply_key = NULL;
	}
}

char *exec_status_text(struct executor *ex, cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (s == NULL || ex->reply_key == NULL)
		return s;
	char *signed_text = reply_sig_append(ex->reply_key, s, strlen(s));
	if (signed_text == NULL)
		return s; /* "{}": nothing an executor publishes */
	free(s);
	return signed_text;
}
