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
