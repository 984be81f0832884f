/*
 * datum_toml: a b00t datum file read with toml++ (no hand-written TOML
 * parser; ../shared/reference/b00t-ecosystem.md). Only the fields a start
 * uses are read, and each is type-checked with its line and column.
 *
 * Every exception (toml++'s parse errors, our shape errors, bad_alloc) is
 * caught in the entry points and becomes an error sentence.
 *
 * Must not: decide whether the datum may run (core/exec_datum.c and
 * check_start do), or keep state.
 */
#include "datum_toml.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include <toml++/toml.h>

namespace
{

struct shape_error {
	std::string msg;
};

std::string at(const std::string &source, const toml::source_region &r)
{
	return source + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column) +
	       ": ";
}

[[noreturn]] void fail(const std::string &source, const toml::node &n, const std::string &msg)
{
	throw shape_error{at(source, n.source()) + msg};
}

std::string want_string(const std::string &source, const toml::node &n, const std::string &name)
{
	if (!n.is_string())
		fail(source, n, name + " must be a string");
	const std::string &s = n.as_string()->get();
	if (s.find('\0') != std::string::npos)
		fail(source, n, name + " contains a NUL character");
	return s;
}

struct parsed {
	std::string name, type, command, cwd;
	bool has_name = false, has_type = false, has_command = false, has_cwd = false;
	std::vector<std::string> args;
	std::vector<std::string> depends_on;
	std::vector<std::pair<std::string, std::string>> env;
};

void env_table(const std::string &source, const toml::node &n, const std::string &name, parsed &p)
{
	if (!n.is_table())
		fail(source, n, name + " must be a table of strings");
	for (auto &&[k, v] : *n.as_table()) {
		std::string key(k.str());
		std::string val = want_string(source, v, name + "." + key);
		bool replaced = false;
		for (auto &e : p.env)
			if (e.first == key) {
				e.second = val;
				replaced = true;
			}
		if (!replaced)
			p.env.emplace_back(key, val);
	}
}

parsed read(const std::string &source, const toml::table &root)
{
	parsed p;
	const toml::node *b = root.get("b00t");
	if (b == nullptr)
		throw shape_error{source + ": no [b00t] table (a datum keeps its fields there)"};
	if (!b->is_table())
		fail(source, *b, "b00t must be a table");
	const toml::table &t = *b->as_table();
	if (const toml::node *v = t.get("name")) {
		p.name = want_string(source, *v, "b00t.name");
		p.has_name = true;
	}
	if (const toml::node *v = t.get("type")) {
		p.type = want_string(source, *v, "b00t.type");
		p.has_type = true;
	}
	if (const toml::node *v = t.get("command")) {
		p.command = want_string(source, *v, "b00t.command");
		p.has_command = true;
	} else if (const toml::node *s = t.get("script")) {
		p.command = want_string(source, *s, "b00t.script");
		p.has_command = true;
	}
	if (const toml::node *v = t.get("cwd")) {
		p.cwd = want_string(source, *v, "b00t.cwd");
		p.has_cwd = true;
	}
	if (const toml::node *v = t.get("args")) {
		if (!v->is_array())
			fail(source, *v, "b00t.args must be an array of strings");
		size_t i = 0;
		for (const toml::node &e : *v->as_array())
			p.args.push_back(want_string(source, e, "b00t.args[" + std::to_string(i++) + "]"));
	}
	if (const toml::node *v = t.get("depends_on")) {
		if (!v->is_array())
			fail(source, *v, "b00t.depends_on must be an array of strings");
		size_t i = 0;
		for (const toml::node &e : *v->as_array())
			p.depends_on.push_back(
				want_string(source, e, "b00t.depends_on[" + std::to_string(i++) + "]"));
	}
	if (const toml::node *v = root.get("env"))
		env_table(source, *v, "env", p);
	if (const toml::node *v = t.get("env"))
		env_table(source, *v, "b00t.env", p);
	return p;
}

char *dup(const std::string &s)
{
	char *c = static_cast<char *>(std::malloc(s.size() + 1));
	if (c == nullptr)
		throw std::bad_alloc();
	std::memcpy(c, s.c_str(), s.size() + 1);
	return c;
}

void put(char *err, size_t errlen, const std::string &msg)
{
	if (errlen > 0)
		std::snprintf(err, errlen, "%s", msg.c_str());
}

/* Moves p into out (C allocations); on bad_alloc out is freed by the caller. */
void fill(const parsed &p, struct datum *out)
{
	if (p.has_name)
		out->name = dup(p.name);
	if (p.has_type)
		out->type = dup(p.type);
	if (p.has_command)
		out->command = dup(p.command);
	if (p.has_cwd)
		out->cwd = dup(p.cwd);
	if (!p.args.empty()) {
		out->args = static_cast<char **>(std::calloc(p.args.size(), sizeof(char *)));
		if (out->args == nullptr)
			throw std::bad_alloc();
		for (const std::string &a : p.args)
			out->args[out->nargs++] = dup(a);
	}
	if (!p.depends_on.empty()) {
		out->depends_on =
			static_cast<char **>(std::calloc(p.depends_on.size(), sizeof(char *)));
		if (out->depends_on == nullptr)
			throw std::bad_alloc();
		for (const std::string &a : p.depends_on)
			out->depends_on[out->ndeps++] = dup(a);
	}
	if (!p.env.empty()) {
		out->env = static_cast<struct datum_env *>(
			std::calloc(p.env.size(), sizeof(struct datum_env)));
		if (out->env == nullptr)
			throw std::bad_alloc();
		for (const auto &e : p.env) {
			out->env[out->nenv].key = dup(e.first);
			out->env[out->nenv].value = dup(e.second);
			out->nenv++;
		}
	}
}

/* --- job datums ------------------------------------------------------------ */

struct pstep {
	std::string name, command, cwd, datum;
	bool has_cwd = false;
	std::vector<std::string> deps, args;
	std::vector<std::pair<std::string, std::string>> env;
	enum job_when when = JOB_WHEN_ON_SUCCESS;
	enum job_step_kind kind = JOB_STEP_BASH;
	long timeout_ms = 0;
};

struct pjob {
	std::string name, description;
	bool has_name = false, has_description = false;
	enum job_mode mode = JOB_MODE_SEQUENTIAL;
	bool continue_on_failure = false, rollback_on_failure = false;
	int retry = 0;
	std::vector<std::pair<std::string, std::string>> env;
	std::vector<pstep> steps, rollback;
};

bool want_bool(const std::string &source, const toml::node &n, const std::string &name)
{
	if (!n.is_boolean())
		fail(source, n, name + " must be true or false");
	return n.as_boolean()->get();
}

long want_int(const std::string &source, const toml::node &n, const std::string &name, long lo,
              long hi)
{
	if (!n.is_integer())
		fail(source, n, name + " must be a whole number");
	int64_t v = n.as_integer()->get();
	if (v < lo || v > hi)
		fail(source, n, name + " must be from " + std::to_string(lo) + " to " +
		                    std::to_string(hi));
	return static_cast<long>(v);
}

std::vector<std::string> want_strings(const std::string &source, const toml::node &n,
                                      const std::string &name)
{
	if (!n.is_array())
		fail(source, n, name + " must be an array of strings");
	std::vector<std::string> out;
	size_t i = 0;
	for (const toml::node &e : *n.as_array())
		out.push_back(want_string(source, e, name + "[" + std::to_string(i++) + "]"));
	return out;
}

void env_into(const std::string &source, const toml::node &n, const std::string &name,
              std::vector<std::pair<std::string, std::string>> &env)
{
	parsed tmp;
	env_table(source, n, name, tmp);
	env = std::move(tmp.env);
}

pstep read_step(const std::string &source, const toml::node &n, const std::string &where)
{
	if (!n.is_table())
		fail(source, n, where + " must be a table");
	const toml::table &t = *n.as_table();
	pstep s;
	const toml::node *nm = t.get("name");
	if (nm == nullptr)
		fail(source, n, where + " has no name");
	s.name = want_string(source, *nm, where + ".name");
	const std::string w = where + " '" + s.name + "'";
	if (const toml::node *v = t.get("depends_on"))
		s.deps = want_strings(source, *v, w + ".depends_on");
	if (const toml::node *c = t.get("condition")) {
		if (!c->is_table())
			fail(source, *c, w + ".condition must be a table ({ when = \"on_success\" })");
		if (const toml::node *v = c->as_table()->get("when")) {
			std::string when = want_string(source, *v, w + ".condition.when");
			if (when == "on_success")
				s.when = JOB_WHEN_ON_SUCCESS;
			else if (when == "always")
				s.when = JOB_WHEN_ALWAYS;
			else if (when == "on_failure")
				s.when = JOB_WHEN_ON_FAILURE;
			else if (when == "on_previous")
				s.when = JOB_WHEN_ON_PREVIOUS;
			else
				fail(source, *v, w + ".condition.when must be always, on_success, "
				                     "on_failure or on_previous");
		}
	}
	const toml::node *tk = t.get("task");
	if (tk == nullptr)
		fail(source, n, w + " has no task ([b00t.job.steps.task] with a type)");
	if (!tk->is_table())
		fail(source, *tk, w + ".task must be a table");
	const toml::table &task = *tk->as_table();
	const toml::node *ty = task.get("type");
	if (ty == nullptr)
		fail(source, *tk, w + ".task has no type (bash or datum)");
	std::string type = want_string(source, *ty, w + ".task.type");
	if (const toml::node *v = task.get("timeout_ms"))
		s.timeout_ms = want_int(source, *v, w + ".task.timeout_ms", 1, JOB_MAX_TIMEOUT_MS);
	if (type == "bash") {
		s.kind = JOB_STEP_BASH;
		const toml::node *c = task.get("command");
		if (c == nullptr)
			fail(source, *tk, w + ".task has no command (a bash step runs one)");
		s.command = want_string(source, *c, w + ".task.command");
		if (s.command.find_first_not_of(" \t\r\n") == std::string::npos)
			fail(source, *c, w + ".task.command is empty");
		if (const toml::node *v = task.get("cwd")) {
			s.cwd = want_string(source, *v, w + ".task.cwd");
			s.has_cwd = true;
		}
		if (const toml::node *v = task.get("env"))
			env_into(source, *v, w + ".task.env", s.env);
	} else if (type == "datum") {
		s.kind = JOB_STEP_DATUM;
		const toml::node *d = task.get("datum");
		if (d == nullptr)
			fail(source, *tk, w + ".task has no datum (a datum step names one, NAME.TYPE)");
		s.datum = want_string(source, *d, w + ".task.datum");
		if (const toml::node *v = task.get("args"))
			s.args = want_strings(source, *v, w + ".task.args");
	} else {
		fail(source, *ty, w + ": task type '" + type.substr(0, 40) +
		                      "' is not run by tasker (it runs bash and datum steps)");
	}
	return s;
}

std::vector<pstep> read_steps(const std::string &source, const toml::node &n,
                              const std::string &where)
{
	if (!n.is_array())
		fail(source, n, where + " must be an array of tables ([[" + where + "]])");
	std::vector<pstep> out;
	size_t i = 0;
	for (const toml::node &e : *n.as_array()) {
		if (out.size() >= JOB_MAX_STEPS)
			fail(source, e, where + ": more than " + std::to_string(JOB_MAX_STEPS) + " steps");
		out.push_back(read_step(source, e, where + "[" + std::to_string(i++) + "]"));
	}
	return out;
}

pjob read_job(const std::string &source, const toml::table &root)
{
	pjob j;
	const toml::node *b = root.get("b00t");
	if (b == nullptr)
		throw shape_error{source + ": no [b00t] table (a datum keeps its fields there)"};
	if (!b->is_table())
		fail(source, *b, "b00t must be a table");
	const toml::table &t = *b->as_table();
	if (const toml::node *v = t.get("name")) {
		j.name = want_string(source, *v, "b00t.name");
		j.has_name = true;
	}
	if (const toml::node *v = t.get("type")) {
		std::string type = want_string(source, *v, "b00t.type");
		if (type != "job")
			fail(source, *v, "b00t.type is '" + type.substr(0, 40) + "', not job");
	}
	if (const toml::node *v = t.get("hint")) {
		j.description = want_string(source, *v, "b00t.hint");
		j.has_description = true;
	}
	const toml::node *jn = t.get("job");
	if (jn == nullptr)
		throw shape_error{source + ": no [b00t.job] table (a job keeps its steps there)"};
	if (!jn->is_table())
		fail(source, *jn, "b00t.job must be a table");
	const toml::table &job = *jn->as_table();
	if (const toml::node *v = job.get("description")) {
		j.description = want_string(source, *v, "b00t.job.description");
		j.has_description = true;
	}
	if (const toml::node *v = job.get("env"))
		env_into(source, *v, "b00t.job.env", j.env);
	if (const toml::node *c = job.get("config")) {
		if (!c->is_table())
			fail(source, *c, "b00t.job.config must be a table");
		const toml::table &cfg = *c->as_table();
		if (const toml::node *v = cfg.get("mode")) {
			std::string m = want_string(source, *v, "b00t.job.config.mode");
			if (m == "sequential")
				j.mode = JOB_MODE_SEQUENTIAL;
			else if (m == "parallel")
				j.mode = JOB_MODE_PARALLEL;
			else if (m == "dag")
				j.mode = JOB_MODE_DAG;
			else
				fail(source, *v, "b00t.job.config.mode must be sequential, parallel or dag");
		}
		if (const toml::node *v = cfg.get("continue_on_failure"))
			j.continue_on_failure = want_bool(source, *v, "b00t.job.config.continue_on_failure");
		if (const toml::node *v = cfg.get("rollback_on_failure"))
			j.rollback_on_failure = want_bool(source, *v, "b00t.job.config.rollback_on_failure");
		if (const toml::node *v = cfg.get("retry_failed_steps"))
			j.retry = static_cast<int>(want_int(source, *v, "b00t.job.config.retry_failed_steps",
			                                    0, JOB_MAX_RETRIES));
	}
	const toml::node *st = job.get("steps");
	if (st == nullptr)
		fail(source, *jn, "b00t.job has no steps ([[b00t.job.steps]])");
	j.steps = read_steps(source, *st, "b00t.job.steps");
	if (j.steps.empty())
		fail(source, *st, "b00t.job.steps is empty");
	if (const toml::node *v = job.get("rollback"))
		j.rollback = read_steps(source, *v, "b00t.job.rollback");
	return j;
}

char **dup_list(const std::vector<std::string> &v, size_t *n)
{
	*n = 0;
	if (v.empty())
		return nullptr;
	char **out = static_cast<char **>(std::calloc(v.size(), sizeof(char *)));
	if (out == nullptr)
		throw std::bad_alloc();
	for (const std::string &s : v)
		out[(*n)++] = dup(s);
	return out;
}

struct datum_env *dup_env(const std::vector<std::pair<std::string, std::string>> &v, size_t *n)
{
	*n = 0;
	if (v.empty())
		return nullptr;
	auto *out = static_cast<struct datum_env *>(std::calloc(v.size(), sizeof(struct datum_env)));
	if (out == nullptr)
		throw std::bad_alloc();
	for (const auto &e : v) {
		out[*n].key = dup(e.first);
		out[*n].value = dup(e.second);
		(*n)++;
	}
	return out;
}

struct job_step *dup_steps(const std::vector<pstep> &v, size_t *n)
{
	*n = 0;
	if (v.empty())
		return nullptr;
	auto *out = static_cast<struct job_step *>(std::calloc(v.size(), sizeof(struct job_step)));
	if (out == nullptr)
		throw std::bad_alloc();
	for (const pstep &p : v) {
		struct job_step *s = &out[(*n)++];
		s->name = dup(p.name);
		s->depends_on = dup_list(p.deps, &s->ndeps);
		s->when = p.when;
		s->kind = p.kind;
		s->timeout_ms = p.timeout_ms;
		if (p.kind == JOB_STEP_BASH) {
			s->command = dup(p.command);
			if (p.has_cwd)
				s->cwd = dup(p.cwd);
			s->env = dup_env(p.env, &s->nenv);
		} else {
			s->datum = dup(p.datum);
			s->args = dup_list(p.args, &s->nargs);
		}
	}
	return out;
}

void fill_job(const pjob &j, struct job_def *out)
{
	if (j.has_name)
		out->name = dup(j.name);
	if (j.has_description)
		out->description = dup(j.description);
	out->mode = j.mode;
	out->continue_on_failure = j.continue_on_failure;
	out->rollback_on_failure = j.rollback_on_failure;
	out->retry_failed_steps = j.retry;
	out->env = dup_env(j.env, &out->nenv);
	out->steps = dup_steps(j.steps, &out->nsteps);
	out->rollback = dup_steps(j.rollback, &out->nrollback);
}

/* The file's bytes (at most DATUM_TOML_MAX_BYTES + 1), or false with err. */
bool slurp(const char *path, std::string &text, char *err, size_t errlen)
{
	std::FILE *f = std::fopen(path, "rbe");
	if (f == nullptr) {
		int e = errno;
		put(err, errlen,
		    std::string(path) + ": " + (e == ENOENT ? "no such datum file" : std::strerror(e)));
		return false;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		std::fclose(f);
		put(err, errlen, std::string(path) + ": not a regular file");
		return false;
	}
	char buf[65536];
	size_t n;
	while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
		text.append(buf, n);
		if (text.size() > DATUM_TOML_MAX_BYTES)
			break;
	}
	bool bad = std::ferror(f) != 0;
	int e = errno;
	std::fclose(f);
	if (bad) {
		put(err, errlen, std::string(path) + ": " + std::strerror(e));
		return false;
	}
	return true;
}

} // namespace

extern "C" void datum_free(struct datum *d)
{
	if (d == nullptr)
		return;
	std::free(d->name);
	std::free(d->type);
	std::free(d->command);
	std::free(d->cwd);
	for (size_t i = 0; i < d->nargs; i++)
		std::free(d->args[i]);
	std::free(d->args);
	for (size_t i = 0; i < d->ndeps; i++)
		std::free(d->depends_on[i]);
	std::free(d->depends_on);
	for (size_t i = 0; i < d->nenv; i++) {
		std::free(d->env[i].key);
		std::free(d->env[i].value);
	}
	std::free(d->env);
	std::memset(d, 0, sizeof(*d));
}

extern "C" int datum_toml_load_text(const char *text, size_t len, const char *source,
                                    struct datum *out, char *err, size_t errlen)
{
	std::memset(out, 0, sizeof(*out));
	std::string src;
	try {
		src = source ? source : "datum";
		if (len > DATUM_TOML_MAX_BYTES) {
			put(err, errlen, src + ": larger than 1 MiB");
			return -1;
		}
		toml::table root = toml::parse(std::string_view(text, len), src);
		parsed p = read(src, root);
		fill(p, out);
		return 0;
	} catch (const toml::parse_error &e) {
		put(err, errlen, at(src, e.source()) + std::string(e.description()));
	} catch (const shape_error &e) {
		put(err, errlen, e.msg);
	} catch (const std::exception &e) {
		put(err, errlen, src + ": " + e.what());
	} catch (...) {
		put(err, errlen, src + ": could not be read");
	}
	datum_free(out);
	return -1;
}

extern "C" int datum_toml_load_file(const char *path, struct datum *out, char *err, size_t errlen)
{
	std::memset(out, 0, sizeof(*out));
	try {
		std::FILE *f = std::fopen(path, "rbe");
		if (f == nullptr) {
			int e = errno;
			put(err, errlen,
			    std::string(path) + ": " +
			        (e == ENOENT ? "no such datum file" : std::strerror(e)));
			return -1;
		}
		struct stat st;
		if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
			std::fclose(f);
			put(err, errlen, std::string(path) + ": not a regular file");
			return -1;
		}
		std::string text;
		char buf[65536];
		size_t n;
		while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
			text.append(buf, n);
			if (text.size() > DATUM_TOML_MAX_BYTES)
				break;
		}
		bool bad = std::ferror(f) != 0;
		int e = errno;
		std::fclose(f);
		if (bad) {
			put(err, errlen, std::string(path) + ": " + std::strerror(e));
			return -1;
		}
		return datum_toml_load_text(text.data(), text.size(), path, out, err, errlen);
	} catch (...) {
		put(err, errlen, std::string(path) + ": could not be read (out of memory)");
		return -1;
	}
}

static void free_steps(struct job_step *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct job_step *s = &v[i];
		std::free(s->name);
		for (size_t k = 0; k < s->ndeps; k++)
			std::free(s->depends_on[k]);
		std::free(s->depends_on);
		std::free(s->command);
		std::free(s->cwd);
		for (size_t k = 0; k < s->nenv; k++) {
			std::free(s->env[k].key);
			std::free(s->env[k].value);
		}
		std::free(s->env);
		std::free(s->datum);
		for (size_t k = 0; k < s->nargs; k++)
			std::free(s->args[k]);
		std::free(s->args);
	}
	std::free(v);
}

extern "C" void job_def_free(struct job_def *d)
{
	if (d == nullptr)
		return;
	std::free(d->name);
	std::free(d->description);
	for (size_t k = 0; k < d->nenv; k++) {
		std::free(d->env[k].key);
		std::free(d->env[k].value);
	}
	std::free(d->env);
	free_steps(d->steps, d->nsteps);
	free_steps(d->rollback, d->nrollback);
	std::memset(d, 0, sizeof(*d));
}

extern "C" int job_toml_load_text(const char *text, size_t len, const char *source,
                                  struct job_def *out, char *err, size_t errlen)
{
	std::memset(out, 0, sizeof(*out));
	std::string src;
	try {
		src = source ? source : "datum";
		if (len > DATUM_TOML_MAX_BYTES) {
			put(err, errlen, src + ": larger than 1 MiB");
			return -1;
		}
		toml::table root = toml::parse(std::string_view(text, len), src);
		pjob j = read_job(src, root);
		fill_job(j, out);
		return 0;
	} catch (const toml::parse_error &e) {
		put(err, errlen, at(src, e.source()) + std::string(e.description()));
	} catch (const shape_error &e) {
		put(err, errlen, e.msg);
	} catch (const std::exception &e) {
		put(err, errlen, src + ": " + e.what());
	} catch (...) {
		put(err, errlen, src + ": could not be read");
	}
	job_def_free(out);
	return -1;
}

extern "C" int job_toml_load_file(const char *path, struct job_def *out, char *err, size_t errlen)
{
	std::memset(out, 0, sizeof(*out));
	try {
		std::string text;
		if (!slurp(path, text, err, errlen))
			return -1;
		return job_toml_load_text(text.data(), text.size(), path, out, err, errlen);
	} catch (...) {
		put(err, errlen, std::string(path) + ": could not be read (out of memory)");
		return -1;
	}
}
