/*
 * Shared glue for the cmocka unit tests: every test binary ends with the
 * project's summary line "N passed, N failed" and exits non-zero on failure.
 */
#ifndef TASKER_TEST_UNIT_H
#define TASKER_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#define UNIT_RUN(name, tests)                                                                      \
	do {                                                                                       \
		size_t n_ = sizeof(tests) / sizeof((tests)[0]);                                    \
		int failed_ = cmocka_run_group_tests_name(name, tests, NULL, NULL);                \
		printf("%s: %zu passed, %d failed\n", name, n_ - (size_t)failed_, failed_);        \
		return failed_ ? 1 : 0;                                                            \
	} while (0)

#endif
