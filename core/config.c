/*
 * config: see config.h. Reads the environment once at start-up; owns the
 * strings in struct config.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_check.h"
#include "util.h"

enum {
	OPT_REDIS = CONFIG_OPT_BASE,
	OPT_CHANNEL,
	OPT_STATUS_CHANNEL,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
	OPT_AGENT_ID,
	OPT_NODE,
	OPT_PRESENCE_TTL,
	OPT_FAILOVER_GRACE,
	OPT_KEY,
	OPT_TRUST,
};

static const struct option shared_options[] = {
	{"redis", required_argument, NULL, OPT_REDIS},
	{"channel", required_argument, NULL, OPT_CHANNEL},
	{"status-channel", required_argument, NULL, OPT_STATUS_CHANNEL},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"agent-id", required_argument, NULL, OPT_AGENT_ID},
	{"node", required_argument, NULL, OPT_NODE},
	{"presence-ttl", required_argument, NULL, OPT_PRESENCE_TTL},
	{"failover-grace", required_argument, NULL, OPT_FAILOVER_GRACE},
	{"key", required_argument, NULL, OPT_KEY},
	{"trust", required_argument, NULL, OPT_TRUST},
	{NULL, 0, NULL, 0},
};

const char config_help[] =
	"Shared options (each also read from the environment variable shown):\n"
	"  --redis URL            Redis address (REDIS_URL; default " CONFIG_DEFAULT_REDIS ")\n"
	"                         redis://[user[:password]@]host[:port][/db] or\n"
	"                         unix://[user[:password]@]/path/to.sock[?db=N]\n"
	"  --channel NAME         command channel (PM2_TASKER_CHANNEL; default " CONFIG_DEFAULT_CHANNEL ")\n"
	"  --status-channel NAME  status channel (TASKER_STATUS_CHANNEL; default " CONFIG_DEFAULT_STATUS_CHANNEL ")\n"
	"  --log-level LEVEL      debug, info, warn or error (LOG_LEVEL; default info)\n"
	"  --log-format FORMAT    text or json (TASKER_LOG_FORMAT; default text)\n"
	"  --agent-id ID          who sends commands (B00T_AGENT_ID; default tasker@HOSTNAME)\n"
	"  --node NAME            this machine's name in replies (TASKER_NODE; default HOSTNAME)\n"
	"  --presence-ttl SECONDS an executor's presence key lives this long after its\n"
	"                         last refresh (TASKER_PRESENCE_TTL; default 30; 10 to 3600)\n"
	"  --failover-grace SECONDS  a node lost this long after its presence expired\n"
	"                         has its failover=true tasks started on another node\n"
	"                         (TASKER_FAILOVER_GRACE; default 30; 0 to 86400)\n"
	"  --key FILE             sign the commands sent (send, the console) with this\n"
	"                         secret key, NAME.key of tasker key new (TASKER_KEY)\n"
	"                         (an executor signs its status messages with it; without\n"
	"                         one it makes a key in ~/.local/state/tasker/)\n"
	"  --trust FILE           pinned executor keys, lines \"NODE ed25519:...\"\n"
	"                         (TASKER_TRUST): replies are checked against them\n";

static void set_str(char **dst, const char *value)
{
	free(*dst);
	*dst = xstrdup(value);
}

static int set_level(struct config *cfg, const char *value, const char *source, char *err,
		     size_t errlen)
{
	if (log_level_parse(value, &cfg->log_level) < 0) {
		snprintf(err, errlen, "%s '%.40s' is not a log level (debug, info, warn or error)",
			 source, value);
		return -1;
	}
	return 0;
}

static int set_format(struct config *cfg, const char *value, const char *source, char *err,
		      size_t errlen)
{
	if (strcmp(value, "text") == 0)
		cfg->log_format = LOG_FMT_TEXT;
	else if (strcmp(value, "json") == 0)
		cfg->log_format = LOG_FMT_JSON;
	else {
		snprintf(err, errlen, "%s '%.40s' is not a log format (text or json)", source, value);
		return -1;
	}
	return 0;
}

static int set_channel(char **dst, const char *value, const char *what, char *err, size_t errlen)
{
	if (value[0] == '\0' || strlen(value) > 256) {
		snprintf(err, errlen, "the %s must be 1 to 256 characters", what);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (*p <= ' ' || *p == 0x7f) {
			snprintf(err, errlen, "the %s must not contain spaces or control characters", what);
			return -1;
		}
	}
	set_str(dst, value);
	return 0;
}

/* --presence-ttl: whole seconds, CONFIG_MIN_PRESENCE_TTL to 3600. */
static int set_presence_ttl(struct config *cfg, const char *value, const char *source, char *err,
			    size_t errlen)
{
	char *end;
	long n = strtol(value, &end, 10);
	if (!util_ascii_digit((unsigned char)value[0]) || *end != '\0' ||
	    n < CONFIG_MIN_PRESENCE_TTL || n > 3600) {
		snprintf(err, errlen, "%s takes whole seconds, from %d to 3600", source,
			 CONFIG_MIN_PRESENCE_TTL);
		return -1;
	}
	cfg->presence_ttl = (int)n;
	return 0;
}

/* --failover-grace: seconds (2.5 allowed), 0 to 86400. */
static int set_failover_grace(struct config *cfg, const char *value, const char *source,
			      char *err, size_t errlen)
{
	char *end;
	double secs = strtod(value, &end);
	if (!util_ascii_digit((unsigned char)value[0]) || *end != '\0' ||
	    !(secs >= 0 && secs <= 86400)) {
		snprintf(err, errlen, "%s takes seconds, from 0 to 86400", source);
		return -1;
	}
	cfg->failover_grace_ms = (int64_t)(secs * 1000.0);
	return 0;
}

static int env_settings(struct config *cfg, char *err, size_t errlen);

int config_init(struct config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	char host[256];
	util_hostname(host, sizeof(host));
	const char *v;

	/* Signing and the policy (docs/security.md): paths, read when used. */
	if ((v = getenv("TASKER_KEY")) && *v)
		set_str(&cfg->key_path, v);
	if ((v = getenv("TASKER_POLICY")) && *v)
		set_str(&cfg->policy_path, v);
	if ((v = getenv("TASKER_DATUM_DIR")) && *v)
		set_str(&cfg->datum_dir, v);
	else if ((v = getenv("_B00T_Path")) && *v)
		set_str(&cfg->datum_dir, v);
	else if ((v = getenv("HOME")) && *v)
		cfg->datum_dir = xasprintf("%s/.b00t/_b00t_", v);
	v = getenv("REDIS_URL");
	cfg->redis_explicit = v != NULL && v[0] != '\0';
	cfg->redis_text = xstrdup(cfg->redis_explicit ? v : CONFIG_DEFAULT_REDIS);
	cfg->channel = xstrdup(CONFIG_DEFAULT_CHANNEL);
	cfg->status_channel = xstrdup(CONFIG_DEFAULT_STATUS_CHANNEL);
	cfg->log_level = LOG_LVL_INFO;
	cfg->log_format = LOG_FMT_TEXT;
	cfg->agent_id = xasprintf("tasker@%s", host);
	/* The host name, made a valid node name when it is not one (a node
	 * name follows the task-name rule: others' views skip any other). */
	for (char *c = host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '.' || *c == '_' || *c == '-'))
			*c = '-';
	host[64] = '\0';
	if (check_task_name(host) != NULL) {
		char named[80];
		snprintf(named, sizeof(named), "node-%.58s", host);
		snprintf(host, sizeof(host), "%s", named);
	}
	cfg->node = xstrdup(host);
	cfg->failover_grace_ms = CONFIG_DEFAULT_FAILOVER_GRACE_MS;
	/* Checked by `tasker exec`, the one command that serves metrics. */
	v = getenv("TASKER_METRICS");
	cfg->metrics = v != NULL && v[0] != '\0' ? xstrdup(v) : NULL;
	if (env_settings(cfg, err, errlen) < 0) {
		snprintf(cfg->env_error, sizeof(cfg->env_error), "%s", err);
		return -1;
	}
	return 0;
}

/* An option replaces its variable, a bad value included. */
static void forget_env_error(struct config *cfg, int code)
{
	if (cfg->env_error_opt == code)
		cfg->env_error[0] = '\0';
}

static int env_settings(struct config *cfg, char *err, size_t errlen)
{
	const char *v;

	cfg->env_error_opt = OPT_CHANNEL;
	if ((v = getenv("PM2_TASKER_CHANNEL")) && *v &&
	    set_channel(&cfg->channel, v, "command channel (PM2_TASKER_CHANNEL)", err, errlen) < 0)
		return -1;
	cfg->env_error_opt = OPT_STATUS_CHANNEL;
	if ((v = getenv("TASKER_STATUS_CHANNEL")) && *v &&
	    set_channel(&cfg->status_channel, v, "status channel (TASKER_STATUS_CHANNEL)", err,
			errlen) < 0)
		return -1;
	cfg->env_error_opt = OPT_LOG_LEVEL;
	if ((v = getenv("LOG_LEVEL")) && *v && set_level(cfg, v, "LOG_LEVEL", err, errlen) < 0)
		return -1;
	cfg->env_error_opt = OPT_LOG_FORMAT;
	if ((v = getenv("TASKER_LOG_FORMAT")) && *v &&
	    set_format(cfg, v, "TASKER_LOG_FORMAT", err, errlen) < 0)
		return -1;
	cfg->env_error_opt = OPT_AGENT_ID;
	if ((v = getenv("B00T_AGENT_ID")) && *v) {
		if (strlen(v) > 256) {
			snprintf(err, errlen, "B00T_AGENT_ID must be at most 256 characters");
			return -1;
		}
		set_str(&cfg->agent_id, v);
	}
	cfg->env_error_opt = OPT_NODE;
	if ((v = getenv("TASKER_NODE")) && *v) {
		const char *why = check_task_name(v);
		if (why != NULL) {
			snprintf(err, errlen, "TASKER_NODE: a node name follows the task-name rule: %s",
				 why);
			return -1;
		}
		set_str(&cfg->node, v);
	}
	cfg->env_error_opt = OPT_PRESENCE_TTL;
	if ((v = getenv("TASKER_PRESENCE_TTL")) && *v &&
	    set_presence_ttl(cfg, v, "TASKER_PRESENCE_TTL", err, errlen) < 0)
		return -1;
	cfg->env_error_opt = OPT_FAILOVER_GRACE;
	if ((v = getenv("TASKER_FAILOVER_GRACE")) && *v &&
	    set_failover_grace(cfg, v, "TASKER_FAILOVER_GRACE", err, errlen) < 0)
		return -1;
	if ((v = getenv("TASKER_TRUST")) && *v)
		set_str(&cfg->trust_path, v);
	cfg->env_error_opt = 0;
	return 0;
}

void config_free(struct config *cfg)
{
	if (cfg->redis_text != NULL) {
		memset(cfg->redis_text, 0, strlen(cfg->redis_text));
		free(cfg->redis_text);
	}
	redis_url_free(&cfg->redis);
	free(cfg->channel);
	free(cfg->status_channel);
	free(cfg->agent_id);
	free(cfg->node);
	free(cfg->metrics);
	free(cfg->key_path);
	free(cfg->policy_path);
	free(cfg->datum_dir);
	free(cfg->trust_path);
	memset(cfg, 0, sizeof(*cfg));
}

struct option *config_options(const struct option *own)
{
	size_t n = 0, m = 0;
	while (own != NULL && own[n].name != NULL)
		n++;
	while (shared_options[m].name != NULL)
		m++;
	struct option *all = xcalloc(n + m + 1, sizeof(*all));
	for (size_t i = 0; i < n; i++)
		all[i] = own[i];
	for (size_t i = 0; i <= m; i++)
		all[n + i] = shared_options[i];
	return all;
}

int config_option(struct config *cfg, int code, const char *arg, char *err, size_t errlen)
{
	forget_env_error(cfg, code);
	switch (code) {
	case OPT_REDIS:
		set_str(&cfg->redis_text, arg);
		cfg->redis_explicit = true;
		return 1;
	case OPT_CHANNEL:
		return set_channel(&cfg->channel, arg, "command channel", err, errlen) < 0 ? -1 : 1;
	case OPT_STATUS_CHANNEL:
		return set_channel(&cfg->status_channel, arg, "status channel", err, errlen) < 0 ? -1
											       : 1;
	case OPT_LOG_LEVEL:
		return set_level(cfg, arg, "--log-level", err, errlen) < 0 ? -1 : 1;
	case OPT_LOG_FORMAT:
		return set_format(cfg, arg, "--log-format", err, errlen) < 0 ? -1 : 1;
	case OPT_AGENT_ID:
		if (arg[0] == '\0' || strlen(arg) > 256) {
			snprintf(err, errlen, "--agent-id must be 1 to 256 characters");
			return -1;
		}
		set_str(&cfg->agent_id, arg);
		return 1;
	case OPT_NODE:
		if (check_task_name(arg) != NULL) {
			/* Others' views and routing skip a node of another name: its
			 * commands would be carried out elsewhere. */
			snprintf(err, errlen, "--node: a node name follows the task-name rule: %s",
				 check_task_name(arg));
			return -1;
		}
		set_str(&cfg->node, arg);
		return 1;
	case OPT_PRESENCE_TTL:
		return set_presence_ttl(cfg, arg, "--presence-ttl", err, errlen) < 0 ? -1 : 1;
	case OPT_FAILOVER_GRACE:
		return set_failover_grace(cfg, arg, "--failover-grace", err, errlen) < 0 ? -1 : 1;
	case OPT_KEY:
		if (arg[0] == '\0') {
			snprintf(err, errlen, "--key takes the path of a secret key file");
			return -1;
		}
		set_str(&cfg->key_path, arg);
		return 1;
	case OPT_TRUST:
		if (arg[0] == '\0') {
			snprintf(err, errlen, "--trust takes the path of a trust file");
			return -1;
		}
		set_str(&cfg->trust_path, arg);
		return 1;
	default:
		return 0;
	}
}

int config_finish(struct config *cfg, char *err, size_t errlen)
{
	char why[200];
	if (cfg->env_error[0] != '\0') {
		snprintf(err, errlen, "%s", cfg->env_error);
		return -1;
	}
	redis_url_free(&cfg->redis);
	if (redis_url_parse(cfg->redis_text, &cfg->redis, why, sizeof(why)) < 0) {
		/* Never echo the URL: it may hold a password. */
		snprintf(err, errlen, "bad Redis URL: %s", why);
		return -1;
	}
	log_configure(cfg->log_level, cfg->log_format);
	return 0;
}

bool config_takes_value(const struct option *own, const char *arg)
{
	if (arg[0] != '-' || arg[1] != '-')
		return false; /* short options of the console take no value */
	struct option *all = config_options(own);
	bool takes = false;
	for (const struct option *o = all; o->name != NULL; o++) {
		if (strcmp(o->name, arg + 2) == 0) {
			takes = o->has_arg == required_argument;
			break;
		}
	}
	free(all);
	return takes;
}
