/*
 * libFuzzer target for core/sig.c and core/policy_toml.cpp: arbitrary bytes
 * as a signed-message wrapper (they come from the bus) and as a policy file
 * (trusted, but a typo must give an error, never a crash). A wrapper is
 * either not one (0), refused with a sentence (-1), or parsed (1) into
 * inner bytes within the limit; verifying it never crashes. A policy either
 * loads (and then answers any request) or is refused with a sentence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_toml.h"
#include "sig.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_sig: invariant failed: %s (line %d)\n", #cond,       \
			        __LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		CHECK(sig_init() == 0);
		ready = 1;
	}
	char err[512] = "";
	struct sig_wrapper w;
	int rc = sig_parse_wrapper((const char *)data, size, &w, err, sizeof(err));
	CHECK(rc >= -1 && rc <= 1);
	if (rc == -1)
		CHECK(err[0] != '\0');
	if (rc == 1) {
		CHECK(w.inner != NULL && w.inner_len > 0 && w.inner_len <= SIG_MAX_INNER);
		CHECK(w.inner[w.inner_len] == '\0');
		(void)sig_verify_wrapper(SIG_COMMAND, &w);
		char id[65];
		sig_replay_id(SIG_COMMAND, &w, id);
		CHECK(strlen(id) == 64);
	}
	sig_wrapper_free(&w);

	err[0] = '\0';
	struct policy *p = policy_toml_load_text((const char *)data, size, "fuzz.toml", "/usr/bin",
	                                         err, sizeof(err));
	if (p == NULL) {
		CHECK(err[0] != '\0');
		return 0;
	}
	static const char *const verbs[] = {"start", "stop", "status", "logs", "bogus"};
	static const char *const env[] = {"LD_PRELOAD", "PATH", "HOME"};
	for (size_t v = 0; v < 5; v++) {
		struct policy_request r;
		memset(&r, 0, sizeof(r));
		r.verb = verbs[v];
		r.task = "agent-1";
		r.program = "/usr/bin/sleep";
		r.cwd = "/srv/agents/a";
		r.instances = 2;
		r.env_names = env;
		r.nenv = 3;
		r.owner_kind = (enum policy_owner)(v % 4);
		struct policy_decision d;
		policy_eval(p, &r, &d);
		CHECK(d.reason[0] != '\0');
	}
	policy_free(p);
	return 0;
}
