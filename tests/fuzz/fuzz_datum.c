/*
 * libFuzzer target for core/datum_toml.cpp, core/job_plan.c and
 * core/cron_check.c: arbitrary bytes as a datum file and as a job datum
 * (toml++ behind the C interface), a job read planned, and the bytes as a
 * cron expression. Invariants: no crash, no exception across the
 * interface, an error leaves nothing half-read, a read datum's strings are
 * whole, a plan's levels respect its dependencies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron_check.h"
#include "datum_toml.h"
#include "job_plan.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_datum: invariant failed: %s (line %d)\n", #cond,     \
			        __LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct datum d;
	char err[512];
	err[0] = '\0';
	if (datum_toml_load_text((const char *)data, size, "f.cli.toml", &d, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < d.nargs; i++)
			CHECK(d.args[i] != NULL && strlen(d.args[i]) <= size);
		for (size_t i = 0; i < d.nenv; i++)
			CHECK(d.env[i].key != NULL && d.env[i].value != NULL);
		if (d.command != NULL)
			CHECK(strlen(d.command) <= size);
		datum_free(&d);
	} else {
		CHECK(err[0] != '\0');
		CHECK(d.name == NULL && d.command == NULL && d.nargs == 0 && d.nenv == 0);
	}
	struct job_def j;
	err[0] = '\0';
	if (job_toml_load_text((const char *)data, size, "f.job.toml", &j, err, sizeof(err)) == 0) {
		CHECK(j.nsteps > 0 && j.nsteps <= JOB_MAX_STEPS);
		struct job_plan p;
		char perr[512] = "";
		if (job_plan_build(&j, "f", NULL, NULL, &p, perr, sizeof(perr)) == 0) {
			for (size_t i = 0; i < p.n; i++)
				for (size_t k = 0; k < p.ndeps[i]; k++)
					CHECK(p.level[i] > p.level[p.deps[i][k]]);
			job_plan_free(&p);
		} else {
			CHECK(perr[0] != '\0');
		}
		job_def_free(&j);
	} else {
		CHECK(err[0] != '\0');
		CHECK(j.nsteps == 0 && j.steps == NULL && j.nrollback == 0);
	}
	if (size <= 300) {
		char *s = malloc(size + 1);
		CHECK(s != NULL);
		memcpy(s, data, size);
		s[size] = '\0';
		char cerr[300] = "";
		int rc = cron_check(s, cerr, sizeof(cerr));
		CHECK(rc == 0 || cerr[0] != '\0');
		free(s);
	}
	return 0;
}
