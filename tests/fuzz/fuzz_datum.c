/*
 * libFuzzer target for core/datum_toml.cpp and core/cron_check.c: arbitrary
 * bytes as a datum file (toml++ behind the C interface) and as a cron
 * expression. Invariants: no crash, no exception across the interface, an
 * error leaves nothing half-read, a read datum's strings are whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron_check.h"
#include "datum_toml.h"

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
