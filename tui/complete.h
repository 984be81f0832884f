/*
 * complete: Tab-completion candidates for the command bar. Pure: it is
 * given the line, the cursor and the names it may offer (tasks, themes),
 * and returns words; the command bar decides how to insert or show them.
 */
#ifndef TASKER_COMPLETE_H
#define TASKER_COMPLETE_H

#include <stddef.h>

/*
 * The candidates for the word that ends at byte offset point of line (the
 * word starts after the last blank before point; text after point is
 * ignored and stays). Sets *start to the word's byte offset: the caller
 * replaces line[*start..point) with a candidate. Candidates are whole
 * replacement words with no trailing space, sorted (strcmp) and unique:
 *
 *   "/" + prefix as the line's first word: the verbs, slash included:
 *       /start /run /stop /restart /delete /remove /status /list /ps
 *       (executor verbs) and /help /quit /filter /node /sort /theme /clear
 *   "-" + prefix after a verb: the flags that verb takes that are not on
 *       the line already (--env_ may repeat):
 *       start, run: --task= --name= --command= --args= --cwd= --instances=
 *                   --max_memory_restart= --memory= --autorestart= --env_
 *       stop, restart, delete, remove: --task= --name=
 *   "--task=" or "--name=" + prefix after a verb: that flag with each task
 *       name starting with prefix ("--task=web"); a name with blanks,
 *       quotes or backslashes is given double-quoted and escaped. A quote
 *       the user opened after '=' is skipped when matching.
 *   the first word after "/sort ": the columns
 *       node id name status pid cpu memory uptime restarts mode
 *   the first word after "/theme ": the theme names given to
 *       complete_candidates_themes() (none for complete_candidates()).
 *
 * Returns the count and sets *out to a malloc'd array of malloc'd strings
 * (NULL when there are none); free with complete_free().
 */
size_t complete_candidates(const char *line, size_t point, const char *const *tasks, size_t ntasks,
                           char ***out, size_t *start);

/* The same, with the theme names to offer after "/theme ". */
size_t complete_candidates_themes(const char *line, size_t point, const char *const *tasks,
                                  size_t ntasks, const char *const *themes, size_t nthemes,
                                  char ***out, size_t *start);

void complete_free(char **words, size_t n);

/*
 * The length in bytes of the longest common prefix of words[0..n), cut
 * back to a UTF-8 character boundary: what Tab can insert when there are
 * several candidates. 0 when n is 0.
 */
size_t complete_common_prefix(char *const *words, size_t n);

#endif
