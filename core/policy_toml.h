/*
 * policy_toml: reads a policy file (TOML, docs/security.md "The policy
 * file") with toml++ and builds a struct policy through policy.h. The one
 * C++ file of the tree; this header is its C interface, and no exception
 * crosses it.
 *
 * Strict: an unknown table or key, a value of the wrong type, a role that
 * does not exist, or broken TOML is an error naming the file, the line and
 * the column; nothing is half-applied (the caller keeps its old policy).
 */
#ifndef TASKER_POLICY_TOML_H
#define TASKER_POLICY_TOML_H

#include <stddef.h>

#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest policy file read. */
#define POLICY_TOML_MAX_BYTES (4 << 20)

/*
 * Reads the policy file at path. path_env is the PATH bare program names
 * are looked up in (NULL: "/usr/local/bin:/usr/bin:/bin"). Returns a
 * finished policy the caller frees with policy_free(), or NULL with a
 * sentence in err ("FILE:LINE:COL: what is wrong", or "FILE: why").
 */
struct policy *policy_toml_load_file(const char *path, const char *path_env, char *err,
                                     size_t errlen);
/* The same for text[0..len); source names it in errors. */
struct policy *policy_toml_load_text(const char *text, size_t len, const char *source,
                                     const char *path_env, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
