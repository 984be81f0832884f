/*
 * datum: a start that names a datum (params.datum = "api.cli") becomes the
 * start the datum describes (docs/protocol.md, "Datums"). The datum's
 * fields fill the params the command left out: params given in the command
 * win. The result then goes through check_start like any other start, so
 * every rule of a start applies to what the datum says.
 *
 * The folder is the executor's (config: --datum-dir, TASKER_DATUM_DIR,
 * _B00T_Path, ~/.b00t/_b00t_), never the message's.
 */
#ifndef TASKER_DATUM_H
#define TASKER_DATUM_H

#include <stddef.h>

#include "codec.h"

/* NULL when ref is a usable datum reference ("api.cli"), else a sentence. */
const char *datum_ref_problem(const char *ref);

/*
 * When env has params.datum: reads DIR/REF.toml and adds its fields to env
 * (task, command, args, env_NAME, cwd) where the command gave none.
 * Returns 0 (also when there is no datum), or -1 with a sentence in err
 * and env unchanged as far as a start goes (nothing is half-applied).
 */
int datum_resolve(struct envelope *env, const char *dir, char *err, size_t errlen);

#endif
