/*
 * bench_auth: the cost of authority per command, in-process, one core:
 * signing and verifying a typical command (the wrapper parsed, the
 * signature checked, the replay id computed), and a policy of 1,000 agents
 * and 1,000 roles loaded and asked (the key looked up, the request judged).
 * Prints figures; asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "policy.h"
#include "policy_toml.h"
#include "sig.h"
#include "util.h"

static const char command[] =
    "{\"verb\":\"start\",\"params\":{\"task\":\"agent-7\",\"command\":\"node api.js\","
    "\"env_PORT\":\"8080\",\"cwd\":\"/srv/agents/a7\",\"instances\":2},\"timestamp\":"
    "\"2026-12-01T12:00:00.000Z\",\"agent_id\":\"a7\",\"request_id\":"
    "\"0123456789abcdef0123456789abcdef\"}";

static void report(const char *what, int n, int64_t us)
{
	printf("%-52s %8.2f us/op  %10.0f /s\n", what, (double)us / n, n * 1e6 / (double)us);
}

static void bench_signatures(void)
{
	struct sig_key k;
	sig_key_new(&k);
	enum { N = 20000 };
	size_t len = strlen(command);
	int64_t t0 = bench_now_us();
	char *w = NULL;
	for (int i = 0; i < N; i++) {
		free(w);
		w = sig_wrap(SIG_COMMAND, &k, command, len);
	}
	int64_t t1 = bench_now_us();
	int ok = 0;
	char err[256], id[65];
	size_t wlen = strlen(w);
	for (int i = 0; i < N; i++) {
		struct sig_wrapper pw;
		if (sig_parse_wrapper(w, wlen, &pw, err, sizeof(err)) == 1) {
			ok += sig_verify_wrapper(SIG_COMMAND, &pw);
			sig_replay_id(SIG_COMMAND, &pw, id);
		}
		sig_wrapper_free(&pw);
	}
	int64_t t2 = bench_now_us();
	printf("command %zu bytes, wrapper %zu bytes (%d of %d verified)\n", len, wlen, ok, N);
	report("sign and wrap (tasker send --key)", N, t1 - t0);
	report("parse wrapper, verify, replay id (per command)", N, t2 - t1);
	free(w);
}

static void bench_policy(void)
{
	enum { N = 1000 };
	size_t cap = 1 << 20, o = 0;
	char *toml = xmalloc(cap);
	o += (size_t)snprintf(
	    toml + o, cap - o,
	    "[unsigned]\nrole = \"none\"\n[env]\ndeny = [\"LD_*\", \"NODE_OPTIONS\", "
	    "\"BASH_ENV\", \"PYTHONSTARTUP\", \"PATH\"]\n");
	struct sig_key *keys = xcalloc(N, sizeof(*keys));
	for (int i = 0; i < N; i++) {
		sig_key_new(&keys[i]);
		char pub[SIG_PUBLIC_TEXT];
		sig_public_text(keys[i].pk, pub);
		o += (size_t)snprintf(
		    toml + o, cap - o,
		    "[agents.a%d]\nkey = \"%s\"\nrole = \"r%d\"\n"
		    "[roles.r%d]\nverbs = [\"start\", \"stop\", \"status\"]\n"
		    "tasks = [\"agent-%d-*\", \"shared-*\"]\nown_tasks_only = true\n"
		    "programs = [\"node\", \"/usr/bin/python3\"]\n"
		    "cwd = [\"/srv/agents/a%d\"]\nmax_instances = 4\n",
		    i, pub, i, i, i, i);
	}
	char err[512];
	int64_t t0 = bench_now_us();
	struct policy *p = policy_toml_load_text(toml, o, "bench.toml", NULL, err, sizeof(err));
	int64_t t1 = bench_now_us();
	if (p == NULL) {
		printf("policy did not load: %s\n", err);
		return;
	}
	printf("policy: %zu agents, %zu roles, %zu bytes of TOML\n", policy_nagents(p),
	       policy_nroles(p), o);
	report("load and resolve the policy file", 1, t1 - t0);
	enum { M = 100000 };
	const char *env[] = {"PORT", "DEBUG"};
	char task[32], cwd[48];
	int allowed = 0;
	int64_t t2 = bench_now_us();
	for (int i = 0; i < M; i++) {
		int a = N - 1 - (i % 16); /* the last agents: the longest lookups */
		const char *agent = policy_agent_for_key(p, keys[a].pk);
		snprintf(task, sizeof(task), "agent-%d-x", a);
		snprintf(cwd, sizeof(cwd), "/srv/agents/a%d/w", a);
		struct policy_request r;
		memset(&r, 0, sizeof(r));
		r.agent = agent;
		r.verb = "start";
		r.task = task;
		r.program = "/usr/bin/python3";
		r.cwd = cwd;
		r.instances = 2;
		r.env_names = env;
		r.nenv = 2;
		r.owner_kind = POLICY_TASK_NONE;
		struct policy_decision d;
		policy_eval(p, &r, &d);
		allowed += d.allow;
	}
	int64_t t3 = bench_now_us();
	printf("(%d of %d allowed)\n", allowed, M);
	report("key lookup and evaluation, 1,000 rules (per command)", M, t3 - t2);
	policy_free(p);
	free(keys);
	free(toml);
}

/* The worst single evaluation: one role of 1,000 task globs and 1,000
 * [env] deny globs, a request that matches only the last glob and sets
 * ten variables no glob denies. */
static void bench_wide_role(void)
{
	enum { N = 1000 };
	size_t cap = 1 << 20, o = 0;
	char *toml = xmalloc(cap);
	o += (size_t)snprintf(toml + o, cap - o, "[unsigned]\nrole = \"wide\"\n[env]\ndeny = [");
	for (int i = 0; i < N; i++)
		o += (size_t)snprintf(toml + o, cap - o, "%s\"SECRET_%d_*\"", i ? ", " : "", i);
	o += (size_t)snprintf(toml + o, cap - o, "]\n[roles.wide]\nverbs = [\"start\"]\ntasks = [");
	for (int i = 0; i < N; i++)
		o += (size_t)snprintf(toml + o, cap - o, "%s\"team-%d-*\"", i ? ", " : "", i);
	o += (size_t)snprintf(toml + o, cap - o, "]\n");
	char err[512];
	struct policy *p = policy_toml_load_text(toml, o, "bench.toml", NULL, err, sizeof(err));
	if (p == NULL) {
		printf("policy did not load: %s\n", err);
		free(toml);
		return;
	}
	const char *env[] = {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"};
	struct policy_request r;
	memset(&r, 0, sizeof(r));
	r.verb = "start";
	r.task = "team-999-x";
	r.instances = 1;
	r.env_names = env;
	r.nenv = 10;
	enum { M = 2000 };
	int allowed = 0;
	int64_t t0 = bench_now_us();
	for (int i = 0; i < M; i++) {
		struct policy_decision d;
		policy_eval(p, &r, &d);
		allowed += d.allow;
	}
	int64_t t1 = bench_now_us();
	printf("(%d of %d allowed)\n", allowed, M);
	report("one role of 1,000 globs, 10 env names x 1,000 deny", M, t1 - t0);
	policy_free(p);
	free(toml);
}

int main(void)
{
	if (sig_init() < 0) {
		printf("libsodium did not start\n");
		return 0;
	}
	bench_signatures();
	bench_policy();
	bench_wide_role();
	return 0;
}
