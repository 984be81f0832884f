/*
 * Unit tests for policy and policy_toml: the example file works as
 * written (its two "ed25519:BASE64..." placeholders replaced by real keys);
 * each rule allows and denies, and says which rule; cwd escapes through
 * ".." and symlinks; programs through links; broken TOML, unknown keys and
 * wrong types are errors with their line; 1,000 rules load and evaluate.
 */
#include "unit.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "policy.h"
#include "policy_toml.h"
#include "sig.h"
#include "util.h"

/* Verbatim from issue 9 ("This example must work as written"). */
static const char example_toml[] =
    "[unsigned]\n"
    "role = \"observer\"               # \"none\" refuses unsigned commands\n"
    "\n"
    "[agents.alpha]\n"
    "key = \"ed25519:BASE64...\"\n"
    "role = \"specialist\"\n"
    "\n"
    "[agents.ops]\n"
    "key = \"ed25519:BASE64...\"\n"
    "role = \"captain\"\n"
    "\n"
    "[roles.captain]\n"
    "verbs = [\"*\"]                   # everything, on every task\n"
    "\n"
    "[roles.specialist]\n"
    "verbs = [\"start\", \"stop\", \"restart\", \"delete\", \"status\", \"logs\"]\n"
    "own_tasks_only = true           # stop/restart/delete only what it started\n"
    "tasks = [\"agent-*\"]             # task-name globs\n"
    "programs = [\"/usr/bin/python3\", \"node\", \"sleep\"]  # argv[0]: a path, or a name found "
    "on PATH\n"
    "cwd = [\"/srv/agents\"]           # allowed cwd prefixes, compared after resolving .. and "
    "links\n"
    "max_instances = 4\n"
    "\n"
    "[roles.observer]\n"
    "verbs = [\"status\", \"logs\"]\n"
    "\n"
    "[env]\n"
    "deny = [\"LD_*\", \"NODE_OPTIONS\", \"BASH_ENV\", \"PYTHONSTARTUP\", \"PATH\"]\n";

static char alpha_pub[SIG_PUBLIC_TEXT], ops_pub[SIG_PUBLIC_TEXT];
static struct sig_key alpha_key, ops_key;

/* The example with the placeholders replaced: alpha's key, then ops'. */
static char *example_with_keys(void)
{
	char *out = xstrdup(example_toml);
	const char *keys[] = {alpha_pub, ops_pub};
	for (int i = 0; i < 2; i++) {
		char *at = strstr(out, "ed25519:BASE64...");
		assert_non_null(at);
		char *next = xasprintf("%.*s%s%s", (int)(at - out), out, keys[i],
		                       at + strlen("ed25519:BASE64..."));
		free(out);
		out = next;
	}
	return out;
}

static struct policy *load(const char *toml, const char *path_env)
{
	char err[512] = "";
	struct policy *p =
	    policy_toml_load_text(toml, strlen(toml), "test.toml", path_env, err, sizeof(err));
	if (p == NULL)
		fail_msg("did not load: %s", err);
	return p;
}

/* Loading must fail with an error that starts with want_prefix and holds
 * want_text. */
static void load_fails(const char *toml, const char *want_prefix, const char *want_text)
{
	char err[512] = "";
	struct policy *p =
	    policy_toml_load_text(toml, strlen(toml), "test.toml", NULL, err, sizeof(err));
	if (p != NULL) {
		policy_free(p);
		fail_msg("loaded, expected \"%s\": %s", want_text, toml);
	}
	if (strncmp(err, want_prefix, strlen(want_prefix)) != 0 || strstr(err, want_text) == NULL)
		fail_msg("error \"%s\", expected \"%s...%s\"", err, want_prefix, want_text);
}

static struct policy_request req(const char *agent, const char *verb, const char *task)
{
	struct policy_request r;
	memset(&r, 0, sizeof(r));
	r.agent = agent;
	r.verb = verb;
	r.task = task;
	r.owner_kind = POLICY_TASK_NONE;
	r.instances = 1;
	return r;
}

static void expect(const struct policy *p, const struct policy_request *r, bool allow,
                   const char *reason_part)
{
	struct policy_decision d;
	policy_eval(p, r, &d);
	if (d.allow != allow || (reason_part != NULL && strstr(d.reason, reason_part) == NULL))
		fail_msg("%s %s %s: got %s \"%s\", expected %s \"%s\"", r->agent ? r->agent : "-",
		         r->verb, r->task ? r->task : "-", d.allow ? "allow" : "deny", d.reason,
		         allow ? "allow" : "deny", reason_part ? reason_part : "");
}

static int setup(void **state)
{
	(void)state;
	if (sig_init() < 0 || sig_key_new(&alpha_key) < 0 || sig_key_new(&ops_key) < 0)
		return -1;
	sig_public_text(alpha_key.pk, alpha_pub);
	sig_public_text(ops_key.pk, ops_pub);
	return 0;
}

/* --- the example ------------------------------------------------------------ */

static void test_example_as_written(void **state)
{
	(void)state;
	char *toml = example_with_keys();
	struct policy *p = load(toml, "/usr/local/bin:/usr/bin:/bin");
	assert_int_equal(policy_nagents(p), 2);
	assert_int_equal(policy_nroles(p), 3);
	assert_string_equal(policy_agent_for_key(p, alpha_key.pk), "alpha");
	assert_string_equal(policy_agent_for_key(p, ops_key.pk), "ops");
	struct sig_key stranger;
	assert_int_equal(sig_key_new(&stranger), 0);
	assert_null(policy_agent_for_key(p, stranger.pk));

	/* Unsigned senders are observers. */
	struct policy_request r = req(NULL, "status", NULL);
	expect(p, &r, true, "role observer (unsigned) may status");
	r = req(NULL, "logs", "agent-1");
	expect(p, &r, true, NULL);
	r = req(NULL, "start", "agent-1");
	expect(p, &r, false, "role observer (unsigned) may not start ([roles.observer] verbs)");
	r = req(NULL, "stop", "api");
	expect(p, &r, false, "[roles.observer] verbs");

	/* alpha, a specialist, starts within its rules: sleep found on PATH,
	 * and /bin/sleep is the same program (/bin is a link to usr/bin). */
	char prog[PATH_MAX];
	assert_int_equal(policy_program_path("/bin/sleep", prog, sizeof(prog)), 0);
	r = req("alpha", "start", "agent-1");
	r.program = prog;
	r.cwd = "/srv/agents/a";
	r.instances = 4;
	expect(p, &r, true, "role specialist (alpha) may start agent-1");
	r.instances = 5;
	expect(p, &r, false, "at most 4 instances ([roles.specialist] max_instances)");
	r.instances = 1;
	r.task = "api";
	expect(p, &r, false, "the task api is outside role specialist's task globs");
	r.task = "agent-1";
	assert_int_equal(policy_program_path("/usr/bin/perl", prog, sizeof(prog)), 0);
	expect(p, &r, false, "the program /usr/bin/perl is not among role specialist's programs");
	assert_int_equal(policy_program_path("/usr/bin/python3", prog, sizeof(prog)), 0);
	expect(p, &r, true, NULL);
	r.cwd = "/srv/agentsX";
	expect(p, &r, false, "outside role specialist's cwd prefixes ([roles.specialist] cwd)");
	r.cwd = "/srv/agents";
	expect(p, &r, true, NULL);
	const char *env[] = {"DEBUG", "LD_PRELOAD"};
	r.env_names = env;
	r.nenv = 2;
	expect(p, &r, false, "LD_PRELOAD is denied by [env] deny \"LD_*\"");
	r.nenv = 1;
	expect(p, &r, true, NULL);

	/* The captain: everything, foreign tasks included; [env] deny still holds. */
	r = req("ops", "delete", "nginx");
	r.owner_kind = POLICY_TASK_FOREIGN;
	expect(p, &r, true, "role captain (ops) may delete nginx");
	r = req("ops", "start", "anything");
	r.program = "/opt/whatever";
	r.cwd = "/root";
	r.instances = 1024;
	expect(p, &r, true, NULL);
	const char *path_env[] = {"PATH"};
	r.env_names = path_env;
	r.nenv = 1;
	expect(p, &r, false, "PATH is denied by [env] deny \"PATH\"");
	/* A start never replaces a foreign task, not even a captain's. */
	r = req("ops", "start", "nginx");
	r.owner_kind = POLICY_TASK_FOREIGN;
	expect(p, &r, false, "a start never replaces nginx");

	/* An agent the policy does not know. */
	r = req("mallory", "status", NULL);
	expect(p, &r, false, "agent mallory is not in the policy");
	policy_free(p);
	free(toml);
}

static void test_unsigned_none(void **state)
{
	(void)state;
	struct policy *p =
	    load("[unsigned]\nrole = \"none\"\n[roles.r]\nverbs=[\"status\"]\n", NULL);
	struct policy_request r = req(NULL, "status", NULL);
	expect(p, &r, false, "unsigned commands are refused ([unsigned] role = \"none\")");
	policy_free(p);
	/* No [unsigned] table at all: the same. */
	p = load("", NULL);
	expect(p, &r, false, "unsigned commands are refused");
	policy_free(p);
}

static void test_ownership(void **state)
{
	(void)state;
	char *toml =
	    xasprintf("[unsigned]\nrole = \"spec\"\n"
	              "[agents.alpha]\nkey = \"%s\"\nrole = \"spec\"\n"
	              "[agents.beta]\nkey = \"%s\"\nrole = \"spec\"\n"
	              "[roles.spec]\nverbs = [\"start\", \"stop\", \"restart\", \"delete\", "
	              "\"status\", \"logs\"]\nown_tasks_only = true\n",
	              alpha_pub, ops_pub);
	struct policy *p = load(toml, NULL);
	static const char *const acting[] = {"stop", "restart", "delete", "start"};
	for (size_t i = 0; i < 4; i++) {
		struct policy_request r = req("alpha", acting[i], "agent-b");
		r.owner_kind = POLICY_TASK_OWNED;
		r.owner = "beta";
		expect(p, &r, false,
		       "agent-b belongs to beta: role spec acts only on its own tasks "
		       "([roles.spec] own_tasks_only)");
		r.owner = "alpha";
		expect(p, &r, true, NULL);
		r.owner = NULL; /* started by an unsigned command */
		expect(p, &r, false, "belongs to unsigned senders");
		r.agent = NULL;
		expect(p, &r, true, NULL);
		/* Foreign: not without foreign_tasks. */
		r.agent = "alpha";
		r.owner_kind = POLICY_TASK_FOREIGN;
		expect(p, &r, false,
		       strcmp(acting[i], "start") == 0 ? "a start never replaces"
		                                       : "a foreign task): role spec may not act");
	}
	/* Reading is not acting: logs of someone else's task is allowed. */
	struct policy_request r = req("alpha", "logs", "agent-b");
	r.owner_kind = POLICY_TASK_OWNED;
	r.owner = "beta";
	expect(p, &r, true, NULL);
	r.owner_kind = POLICY_TASK_FOREIGN;
	expect(p, &r, true, NULL);
	/* Before the listing (owner unknown): every rule but ownership. */
	r = req("alpha", "stop", "agent-b");
	r.owner_kind = POLICY_TASK_UNKNOWN;
	expect(p, &r, true, NULL);
	r.verb = "bogus";
	expect(p, &r, false, "may not bogus");
	/* A new task is anyone's to start. */
	r = req("alpha", "start", "fresh");
	expect(p, &r, true, NULL);
	policy_free(p);
	free(toml);

	/* foreign_tasks = true lets a non-"*" role act on them; false takes it
	 * from a "*" role. */
	p = load("[unsigned]\nrole = \"a\"\n[roles.a]\nverbs = [\"stop\"]\nforeign_tasks = true\n",
	         NULL);
	r = req(NULL, "stop", "nginx");
	r.owner_kind = POLICY_TASK_FOREIGN;
	expect(p, &r, true, NULL);
	policy_free(p);
	p = load("[unsigned]\nrole = \"a\"\n[roles.a]\nverbs = [\"*\"]\nforeign_tasks = false\n",
	         NULL);
	expect(p, &r, false, "[roles.a] foreign_tasks");
	policy_free(p);
}

/* --- cwd and programs on a real filesystem ------------------------------------ */

static char base[PATH_MAX];

static void mkdirs(const char *rel)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void link_at(const char *target, const char *rel)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void exe_at(const char *rel)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void make_tree(void)
{
	char tmpl[] = "/tmp/tasker-policy-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, base)); /* /tmp might itself be a link */
	mkdirs("srv");
	mkdirs("srv/agents");
	mkdirs("srv/agents/sub");
	mkdirs("srv/agents-evil");
	mkdirs("outside");
	link_at("../../outside", "srv/agents/escape"); /* a link inside the prefix, out */
	link_at("srv/agents", "agents-link");          /* a link to the prefix */
	mkdirs("bin");
	exe_at("bin/sleep");
	exe_at("bin/multi");
	link_at("multi", "bin/sh"); /* a multi-call binary by another name */
	link_at("bin", "binlink");
}

/* What the executor passes: the realpath of the cwd it was given, or NULL
 * (a cwd that does not exist is refused before the policy is asked). */
static const char *resolved(const char *rel, char *buf)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	return realpath(path, buf);
}

static void test_cwd_escapes(void **state)
{
	(void)state;
	make_tree();
	/* The prefix written with a ".." in it: normalised on load. */
	char *toml = xasprintf("[unsigned]\nrole = \"r\"\n[roles.r]\nverbs = [\"start\"]\n"
	                       "cwd = [\"%s/srv/x/../agents/\"]\n",
	                       base);
	struct policy *p = load(toml, NULL);
	char buf[PATH_MAX];
	struct policy_request r = req(NULL, "start", "t");
	r.cwd = resolved("srv/agents", buf);
	expect(p, &r, true, NULL);
	r.cwd = resolved("srv/agents/sub", buf);
	expect(p, &r, true, NULL);
	r.cwd = resolved("srv/agents/sub/../..", buf);
	expect(p, &r, false, "[roles.r] cwd");
	r.cwd = resolved("srv/agents/../../outside", buf);
	expect(p, &r, false, "outside role r's cwd prefixes");
	r.cwd = resolved("srv/agents/escape", buf); /* the symlink out */
	expect(p, &r, false, "/outside is outside role r's cwd prefixes");
	r.cwd = resolved("srv/agents-evil", buf); /* a prefix of the text, not of the path */
	expect(p, &r, false, "[roles.r] cwd");
	r.cwd = resolved("agents-link/sub", buf); /* through a link to the prefix: fine */
	expect(p, &r, true, NULL);
	r.cwd = resolved("srv/agents/nonexistent", buf);
	assert_null(r.cwd);
	expect(p, &r, false, "the cwd (unknown) is outside");
	policy_free(p);
	free(toml);

	/* The prefix itself a link: what it points to is allowed. */
	toml = xasprintf("[unsigned]\nrole = \"r\"\n[roles.r]\nverbs = [\"start\"]\n"
	                 "cwd = [\"%s/agents-link\"]\n",
	                 base);
	p = load(toml, NULL);
	r.cwd = resolved("srv/agents/sub", buf);
	expect(p, &r, true, NULL);
	r.cwd = resolved("outside", buf);
	expect(p, &r, false, NULL);
	policy_free(p);
	free(toml);

	/* cwd = ["/"] allows everything; cwd = [] nothing. */
	p = load("[unsigned]\nrole = \"r\"\n[roles.r]\nverbs = [\"start\"]\ncwd = [\"/\"]\n", NULL);
	r.cwd = "/etc";
	expect(p, &r, true, NULL);
	policy_free(p);
	p = load("[unsigned]\nrole = \"r\"\n[roles.r]\nverbs = [\"start\"]\ncwd = []\n", NULL);
	expect(p, &r, false, NULL);
	policy_free(p);
}

static void test_programs(void **state)
{
	(void)state;
	if (base[0] == '\0')
		make_tree();
	char *bin = xasprintf("%s/bin", base);
	char *toml = xasprintf("[unsigned]\nrole = \"r\"\n[roles.r]\nverbs = [\"start\"]\n"
	                       "programs = [\"sleep\", \"%s/bin/../bin/multi\", \"nowhere-xyz\"]\n",
	                       base);
	struct policy *p = load(toml, bin);
	assert_non_null(policy_warnings(p));
	assert_non_null(strstr(policy_warnings(p), "program nowhere-xyz is not on PATH"));
	char prog[PATH_MAX], want[PATH_MAX * 2];
	struct policy_request r = req(NULL, "start", "t");
	r.program = prog;
	snprintf(want, sizeof(want), "%s/bin/sleep", base);
	assert_int_equal(policy_program_path(want, prog, sizeof(prog)), 0);
	expect(p, &r, true, NULL); /* the bare name, resolved on PATH */
	snprintf(want, sizeof(want), "%s/binlink/sleep", base);
	assert_int_equal(policy_program_path(want, prog, sizeof(prog)), 0);
	expect(p, &r, true, NULL); /* the same file through a directory link */
	snprintf(want, sizeof(want), "%s/bin/multi", base);
	assert_int_equal(policy_program_path(want, prog, sizeof(prog)), 0);
	expect(p, &r, true, NULL); /* the absolute entry, ".." resolved */
	/* sh is a link to multi: the same file, another program by its name. */
	snprintf(want, sizeof(want), "%s/bin/sh", base);
	assert_int_equal(policy_program_path(want, prog, sizeof(prog)), 0);
	expect(p, &r, false, "/bin/sh is not among role r's programs ([roles.r] programs)");
	r.program = NULL; /* not resolved by the caller */
	expect(p, &r, false, "(unknown)");
	/* policy_program_path refuses what it cannot resolve. */
	assert_int_equal(policy_program_path("relative/x", prog, sizeof(prog)), -1);
	assert_int_equal(policy_program_path("/nonexistent-dir/x", prog, sizeof(prog)), -1);
	assert_int_equal(policy_program_path("/usr/bin/", prog, sizeof(prog)), -1);
	assert_int_equal(policy_program_path("/sleep", prog, sizeof(prog)), 0);
	assert_string_equal(prog, "/sleep");
	policy_free(p);
	free(toml);
	free(bin);
	cleanup_rm_tree(base);
}

/* --- errors ---------------------------------------------------------------- */

static void test_errors_name_the_line(void **state)
{
	(void)state;
	/* Broken TOML. */
	load_fails("[roles.a]\nverbs = [\"start\"\n", "test.toml:2:", "");
	load_fails("[roles.a]\nverbs = [\"status\"]\n\n[roles.a]\nverbs = []\n",
	           "test.toml:4:", "");
	/* pm2.cli.toml's mistake (b00t-ecosystem.md): an array, then a table of it. */
	load_fails("[env]\ndeny = [\"A\"]\n[[env.deny]]\nx = 1\n", "test.toml:3:", "");
	load_fails("x = \"\\q\"\n", "test.toml:1:", "");
	/* Unknown tables and keys, with the key's own line. */
	load_fails("[rolez.a]\nverbs = []\n", "test.toml:1:2:",
	           "unknown key \"rolez\" in the policy "
	           "file");
	load_fails("[roles.s]\nverbs = [\"start\"]\nprogams = [\"x\"]\n", "test.toml:3:1:",
	           "unknown key \"progams\" in [roles.s] (expected verbs, own_tasks_only, "
	           "foreign_tasks, tasks, programs, cwd, max_instances)");
	load_fails("[unsigned]\nrole = \"none\"\nrule = 1\n",
	           "test.toml:3:", "unknown key \"rule\"");
	load_fails("[env]\nallow = []\n", "test.toml:2:", "unknown key \"allow\" in [env]");
	load_fails(
	    "[roles.r]\nverbs=[]\n[agents.a]\nkey = \"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyG"
	    "ZBJVMbg=\"\nrole = \"r\"\nrol = \"r\"\n",
	    "test.toml:6:", "unknown key \"rol\" in [agents.a]");
	/* Wrong types. */
	load_fails("[roles.s]\nverbs = [\"start\"]\nmax_instances = \"4\"\n",
	           "test.toml:3:", "roles.s.max_instances must be an integer, not a string");
	load_fails("[roles.s]\nverbs = [\"start\"]\nmax_instances = 0\n",
	           "test.toml:3:", "from 1 to 1024");
	load_fails("[roles.s]\nverbs = [\"start\"]\nown_tasks_only = \"yes\"\n",
	           "test.toml:3:", "own_tasks_only must be true or false, not a string");
	load_fails("[roles.s]\nverbs = \"start\"\n",
	           "test.toml:2:", "roles.s.verbs must be an array of strings, not a string");
	load_fails("[roles.s]\nverbs = [\"start\",\n  4]\n",
	           "test.toml:3:", "roles.s.verbs[1] must be a string, not an integer");
	load_fails("roles = 1\n", "test.toml:1:", "[roles] must be a table, not an integer");
	load_fails("[unsigned]\nrole = true\n", "test.toml:2:", "unsigned.role must be a string");
	load_fails("[env]\ndeny = [\"A\", 1.5]\n", "test.toml:2:",
	           "env.deny[1] must be a string, "
	           "not a float");
	/* Meaning. */
	load_fails("[roles.s]\nverbs = [\"stpo\"]\n", "test.toml:1:", "unknown verb \"stpo\"");
	load_fails("[roles.s]\nverbs = [\"run\"]\n", "test.toml:1:",
	           "\"run\" is an alias: write "
	           "\"start\"");
	load_fails("[roles.s]\nown_tasks_only = true\n", "test.toml:1:", "role s has no verbs");
	load_fails("[roles.none]\nverbs = []\n", "test.toml:1:", "reserved");
	load_fails("[roles.s]\nverbs = []\nprograms = [\"bin/x\"]\n",
	           "test.toml:1:", "must be an absolute path or a bare name");
	load_fails("[roles.s]\nverbs = []\ncwd = [\"srv\"]\n",
	           "test.toml:1:", "cwd \"srv\" must be an absolute path");
	load_fails("[unsigned]\nrole = \"boss\"\n",
	           "test.toml:2:", "[unsigned] role \"boss\" is not defined");
	load_fails("[unsigned]\n", "test.toml:1:", "[unsigned] needs role");
	load_fails("[roles.\"a b\"]\nverbs = []\n", "test.toml:1:", "role name \"a b\"");
	load_fails("[roles.r]\nverbs=[]\n[agents.a]\nkey = \"ed25519:BASE64...\"\nrole = \"r\"\n",
	           "test.toml:4:", "agent a: key: a public key is");
	load_fails("[roles.r]\nverbs=[]\n[agents.a]\nrole = \"r\"\n",
	           "test.toml:3:", "needs both key and role");
	char *twice = xasprintf("[roles.r]\nverbs=[]\n[agents.a]\nkey = \"%s\"\nrole = \"r\"\n"
	                        "[agents.b]\nkey = \"%s\"\nrole = \"r\"\n",
	                        alpha_pub, alpha_pub);
	load_fails(twice, "test.toml:", "agents a and b have the same key");
	free(twice);
	char *norole = xasprintf("[agents.a]\nkey = \"%s\"\nrole = \"ghost\"\n", alpha_pub);
	load_fails(norole, "test.toml:3:", "agent a: role \"ghost\" is not defined");
	free(norole);
	/* A key with control characters is shown without them. */
	load_fails("[roles.\"\\u001b[31m\"]\nverbs=[]\n", "test.toml:1:", "role name \"?[31m\"");

	/* Files. */
	char err[512];
	assert_null(policy_toml_load_file("/nonexistent/policy.toml", NULL, err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/policy.toml: No such file or directory");
	assert_null(policy_toml_load_file("/tmp", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
}

static void test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/tasker-policy-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char *toml = example_with_keys();
	assert_int_equal(write(fd, toml, strlen(toml)), (ssize_t)strlen(toml));
	close(fd);
	char err[512];
	struct policy *p = policy_toml_load_file(path, NULL, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(policy_nroles(p), 3);
	policy_free(p);
	/* A broken file names itself. */
	FILE *f = fopen(path, "a");
	fputs("[roles.x]\nverbs = [\n", f);
	fclose(f);
	assert_null(policy_toml_load_file(path, NULL, err, sizeof(err)));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	if (strstr(err, ":29:") == NULL)
		fail_msg("%s", err);
	unlink(path);
	free(toml);
}

/* --- scale ------------------------------------------------------------------- */

static void test_thousand_rules(void **state)
{
	(void)state;
	enum { N = 1000 };
	size_t cap = 1 << 20, o = 0;
	char *toml = xmalloc(cap);
	o += (size_t)snprintf(toml + o, cap - o, "[unsigned]\nrole = \"none\"\n[env]\ndeny = [");
	for (int i = 0; i < 100; i++)
		o += (size_t)snprintf(toml + o, cap - o, "%s\"SECRET_%d_*\"", i ? ", " : "", i);
	o += (size_t)snprintf(toml + o, cap - o, "]\n");
	struct sig_key *keys = xcalloc(N, sizeof(*keys));
	for (int i = 0; i < N; i++) {
		assert_int_equal(sig_key_new(&keys[i]), 0);
		char pub[SIG_PUBLIC_TEXT];
		sig_public_text(keys[i].pk, pub);
		o += (size_t)snprintf(toml + o, cap - o,
		                      "[agents.a%d]\nkey = \"%s\"\nrole = \"r%d\"\n"
		                      "[roles.r%d]\nverbs = [\"start\", \"stop\", \"status\"]\n"
		                      "tasks = [\"t%d-*\", \"shared-%d\"]\nown_tasks_only = true\n"
		                      "cwd = [\"/srv/a%d\"]\nmax_instances = %d\n",
		                      i, pub, i, i, i, i, i, 1 + i % 8);
		assert_true(o < cap);
	}
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct policy *p = load(toml, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(policy_nagents(p), N);
	assert_int_equal(policy_nroles(p), N);
	int allowed = 0, evals = 0;
	char task[32], cwd[32];
	const char *env[] = {"HOME", "SECRET_99_TOKEN"};
	for (int i = 0; i < N; i++) {
		const char *agent = policy_agent_for_key(p, keys[i].pk);
		assert_non_null(agent);
		struct policy_request r = req(agent, "start", task);
		snprintf(task, sizeof(task), "t%d-x", i);
		snprintf(cwd, sizeof(cwd), "/srv/a%d/w", i);
		r.cwd = cwd;
		r.env_names = env;
		r.nenv = 1;
		struct policy_decision d;
		policy_eval(p, &r, &d);
		allowed += d.allow;
		snprintf(task, sizeof(task), "t%d-x", (i + 1) % N); /* another's glob */
		policy_eval(p, &r, &d);
		allowed += d.allow;
		snprintf(task, sizeof(task), "t%d-x", i);
		r.nenv = 2; /* the last deny glob */
		policy_eval(p, &r, &d);
		allowed += d.allow;
		evals += 3;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	assert_int_equal(allowed, N); /* exactly the first of each three */
	printf("# 1000 agents and roles: load %.1f ms, %d evaluations %.1f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	       evals,
	       (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
	policy_free(p);
	free(keys);
	free(toml);
}

/* [executors]: node = key; keys for failover starts, no agent of their own. */
static void test_executors(void **state)
{
	(void)state;
	char toml[1024];
	snprintf(toml, sizeof(toml),
	         "[unsigned]\nrole = \"none\"\n[agents.alpha]\nkey = \"%s\"\nrole = \"r\"\n"
	         "[roles.r]\nverbs = [\"status\"]\n[executors]\nn1 = \"%s\"\n",
	         alpha_pub, ops_pub);
	struct policy *p = load(toml, NULL);
	assert_string_equal(policy_executor_for_key(p, ops_key.pk), "n1");
	assert_null(policy_executor_for_key(p, alpha_key.pk));
	assert_null(policy_agent_for_key(p, ops_key.pk));
	assert_true(policy_agent_has_key(p, "alpha", alpha_key.pk));
	assert_false(policy_agent_has_key(p, "alpha", ops_key.pk));
	assert_false(policy_agent_has_key(p, "n1", ops_key.pk));
	policy_free(p);
	snprintf(toml, sizeof(toml), "[executors]\nn1 = \"%s\"\nn2 = \"%s\"\n", ops_pub, ops_pub);
	load_fails(toml, "test.toml:", "listed twice");
	load_fails("[executors]\nn1 = \"ed25519:nope\"\n", "test.toml:", "executor n1: key");
	load_fails("[executors]\nn1 = 3\n", "test.toml:", "executors.n1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_as_written), cmocka_unit_test(test_unsigned_none),
	    cmocka_unit_test(test_ownership),          cmocka_unit_test(test_cwd_escapes),
	    cmocka_unit_test(test_programs),           cmocka_unit_test(test_errors_name_the_line),
	    cmocka_unit_test(test_load_file),          cmocka_unit_test(test_thousand_rules),
	    cmocka_unit_test(test_executors),
	};
	if (setup(NULL) < 0)
		return 1;
	UNIT_RUN("test_policy", tests);
}
