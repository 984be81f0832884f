/*
 * policy_toml: the policy file, read with toml++ (a complete TOML 1.0
 * parser; see ../shared/reference/b00t-ecosystem.md: no TOML parser is
 * written by hand here). The file's shape is checked key by key: anything
 * unknown or of the wrong type is an error with its line and column, so a
 * typo ("progams") never silently widens or narrows what a role may do.
 *
 * The one C++ file of the tree. Every exception (toml++'s parse errors, our
 * own shape errors, std::bad_alloc) is caught in the two entry points and
 * becomes an error sentence: none crosses into C.
 *
 * Must not: decide anything (core/policy.c does), or keep state.
 */
extern "C" {
#include "policy.h"
}
#include "policy_toml.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

#include <toml++/toml.h>

namespace
{

/* Our own shape errors, with the position already in the text. */
struct shape_error {
	std::string msg;
};

struct loader {
	std::string source;
	const char *path_env;
	struct policy *pol;
};

/* A key or value for an error sentence: printable ASCII, at most 64
 * characters (a key may be any string in TOML, controls included). */
std::string shown(std::string_view s)
{
	std::string out;
	for (char c : s) {
		if (out.size() >= 64) {
			out += "...";
			break;
		}
		out += (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	return out;
}

std::string at(const loader &l, const toml::source_region &r)
{
	return l.source + ":" + std::to_string(r.begin.line) + ":" +
	       std::to_string(r.begin.column) + ": ";
}

[[noreturn]] void fail(const loader &l, const toml::source_region &r, const std::string &msg)
{
	throw shape_error{at(l, r) + msg};
}

const char *type_name(const toml::node &n)
{
	switch (n.type()) {
	case toml::node_type::table:
		return "a table";
	case toml::node_type::array:
		return "an array";
	case toml::node_type::string:
		return "a string";
	case toml::node_type::integer:
		return "an integer";
	case toml::node_type::floating_point:
		return "a float";
	case toml::node_type::boolean:
		return "a boolean";
	case toml::node_type::date:
		return "a date";
	case toml::node_type::time:
		return "a time";
	case toml::node_type::date_time:
		return "a date-time";
	default:
		return "nothing";
	}
}

/* Refuses any key of t not in allowed, naming the table and what it takes. */
void only_keys(const loader &l, const toml::table &t, std::initializer_list<const char *> allowed,
               const std::string &table)
{
	for (auto &&[k, v] : t) {
		bool ok = false;
		for (const char *a : allowed)
			ok = ok || k.str() == a;
		if (ok)
			continue;
		std::string list;
		for (const char *a : allowed)
			list += std::string(list.empty() ? "" : ", ") + a;
		fail(l, k.source(),
		     "unknown key \"" + shown(k.str()) + "\" in " + table + " (expected " + list +
		         ")");
	}
}

const toml::table &want_table(const loader &l, const toml::node &n, const std::string &name)
{
	if (!n.is_table())
		fail(l, n.source(), name + " must be a table, not " + type_name(n));
	return *n.as_table();
}

std::string want_string(const loader &l, const toml::node &n, const std::string &name)
{
	if (!n.is_string())
		fail(l, n.source(), name + " must be a string, not " + type_name(n));
	const std::string &s = n.as_string()->get();
	if (s.find('\0') != std::string::npos)
		fail(l, n.source(), name + " contains a NUL character");
	return s;
}

std::vector<std::string> want_strings(const loader &l, const toml::node &n, const std::string &name)
{
	if (!n.is_array())
		fail(l, n.source(), name + " must be an array of strings, not " + type_name(n));
	std::vector<std::string> out;
	size_t i = 0;
	for (const toml::node &e : *n.as_array())
		out.push_back(want_string(l, e, name + "[" + std::to_string(i++) + "]"));
	return out;
}

/* A NULL-terminated view of v (which must outlive it); NULL when absent. */
struct cstrs {
	std::vector<const char *> ptrs;
	bool given = false;
	void set(const std::vector<std::string> &v)
	{
		ptrs.clear();
		for (const std::string &s : v)
			ptrs.push_back(s.c_str());
		ptrs.push_back(nullptr);
		given = true;
	}
	const char *const *get() const
	{
		return given ? ptrs.data() : nullptr;
	}
};

void check(const loader &l, const toml::source_region &r, int rc, const char *err)
{
	if (rc < 0)
		fail(l, r, err);
}

void load_role(loader &l, const std::string &name, const toml::node &node)
{
	std::string tname = "[roles." + shown(name) + "]";
	const toml::table &t = want_table(l, node, tname);
	only_keys(l, t,
	          {"verbs", "own_tasks_only", "foreign_tasks", "tasks", "programs", "cwd",
	           "max_instances"},
	          tname);
	struct policy_role_spec spec;
	std::memset(&spec, 0, sizeof(spec));
	spec.name = name.c_str();
	spec.foreign_tasks = -1;
	std::vector<std::string> verbs, tasks, programs, cwd;
	cstrs cverbs, ctasks, cprograms, ccwd;
	std::string prefix = "roles." + shown(name) + ".";
	if (const toml::node *v = t.get("verbs")) {
		verbs = want_strings(l, *v, prefix + "verbs");
		cverbs.set(verbs);
	}
	if (const toml::node *v = t.get("own_tasks_only")) {
		if (!v->is_boolean())
			fail(l, v->source(),
			     prefix + "own_tasks_only must be true or false, not " + type_name(*v));
		spec.own_tasks_only = v->as_boolean()->get();
	}
	if (const toml::node *v = t.get("foreign_tasks")) {
		if (!v->is_boolean())
			fail(l, v->source(),
			     prefix + "foreign_tasks must be true or false, not " + type_name(*v));
		spec.foreign_tasks = v->as_boolean()->get() ? 1 : 0;
	}
	if (const toml::node *v = t.get("tasks")) {
		tasks = want_strings(l, *v, prefix + "tasks");
		ctasks.set(tasks);
	}
	if (const toml::node *v = t.get("programs")) {
		programs = want_strings(l, *v, prefix + "programs");
		cprograms.set(programs);
	}
	if (const toml::node *v = t.get("cwd")) {
		cwd = want_strings(l, *v, prefix + "cwd");
		ccwd.set(cwd);
	}
	if (const toml::node *v = t.get("max_instances")) {
		if (!v->is_integer())
			fail(l, v->source(),
			     prefix + "max_instances must be an integer, not " + type_name(*v));
		int64_t n = v->as_integer()->get();
		if (n < 1 || n > 1024)
			fail(l, v->source(), prefix + "max_instances must be from 1 to 1024");
		spec.max_instances = (int)n;
	}
	spec.verbs = cverbs.get();
	spec.tasks = ctasks.get();
	spec.programs = cprograms.get();
	spec.cwd = ccwd.get();
	char err[400];
	check(l, node.source(), policy_add_role(l.pol, &spec, err, sizeof(err)), err);
}

void load_agent(loader &l, const std::string &name, const toml::node &node,
                const std::set<std::string> &roles)
{
	std::string tname = "[agents." + shown(name) + "]";
	const toml::table &t = want_table(l, node, tname);
	only_keys(l, t, {"key", "role"}, tname);
	const toml::node *key = t.get("key");
	const toml::node *role = t.get("role");
	if (key == nullptr || role == nullptr)
		fail(l, node.source(), tname + " needs both key and role");
	std::string prefix = "agents." + shown(name) + ".";
	std::string k = want_string(l, *key, prefix + "key");
	std::string r = want_string(l, *role, prefix + "role");
	if (roles.count(r) == 0)
		fail(l, role->source(),
		     "agent " + shown(name) + ": role \"" + shown(r) +
		         "\" is not defined (add [roles." + shown(r) + "])");
	char err[400];
	check(l, key->source(),
	      policy_add_agent(l.pol, name.c_str(), k.c_str(), r.c_str(), err, sizeof(err)), err);
}

void load(loader &l, const toml::table &root)
{
	only_keys(l, root, {"unsigned", "agents", "roles", "env", "executors"}, "the policy file");
	char err[400];
	std::set<std::string> roles;
	if (const toml::node *n = root.get("roles")) {
		for (auto &&[k, v] : want_table(l, *n, "[roles]")) {
			std::string name(k.str());
			load_role(l, name, v);
			roles.insert(name);
		}
	}
	if (const toml::node *n = root.get("unsigned")) {
		const toml::table &t = want_table(l, *n, "[unsigned]");
		only_keys(l, t, {"role"}, "[unsigned]");
		const toml::node *role = t.get("role");
		if (role == nullptr)
			fail(l, n->source(), "[unsigned] needs role (a role name, or \"none\")");
		std::string r = want_string(l, *role, "unsigned.role");
		if (r != "none" && roles.count(r) == 0)
			fail(l, role->source(),
			     "[unsigned] role \"" + shown(r) + "\" is not defined (add [roles." +
			         shown(r) + "], or write \"none\")");
		check(l, role->source(),
		      policy_set_unsigned_role(l.pol, r.c_str(), err, sizeof(err)), err);
	}
	if (const toml::node *n = root.get("agents")) {
		for (auto &&[k, v] : want_table(l, *n, "[agents]"))
			load_agent(l, std::string(k.str()), v, roles);
	}
	if (const toml::node *n = root.get("executors")) {
		for (auto &&[k, v] : want_table(l, *n, "[executors]")) {
			std::string node(k.str());
			std::string key = want_string(l, v, "executors." + shown(node));
			check(l, v.source(),
			      policy_add_executor(l.pol, node.c_str(), key.c_str(), err, sizeof(err)),
			      err);
		}
	}
	if (const toml::node *n = root.get("env")) {
		const toml::table &t = want_table(l, *n, "[env]");
		only_keys(l, t, {"deny"}, "[env]");
		if (const toml::node *d = t.get("deny")) {
			size_t i = 0;
			for (const std::string &g : want_strings(l, *d, "env.deny")) {
				const toml::node &e = *d->as_array()->get(i++);
				check(l, e.source(),
				      policy_add_env_deny(l.pol, g.c_str(), err, sizeof(err)), err);
			}
		}
	}
	if (policy_finish(l.pol, l.path_env, err, sizeof(err)) < 0)
		throw shape_error{l.source + ": " + err};
}

void put(char *err, size_t errlen, const std::string &msg)
{
	if (errlen > 0)
		std::snprintf(err, errlen, "%s", msg.c_str());
}

} // namespace

extern "C" struct policy *policy_toml_load_text(const char *text, size_t len, const char *source,
                                                const char *path_env, char *err, size_t errlen)
{
	loader l;
	l.pol = nullptr;
	l.path_env = path_env;
	try {
		l.source = source ? source : "policy";
		if (len > POLICY_TOML_MAX_BYTES) {
			put(err, errlen, l.source + ": larger than 4 MiB");
			return nullptr;
		}
		toml::table root = toml::parse(std::string_view(text, len), l.source);
		l.pol = policy_new();
		load(l, root);
		return l.pol;
	} catch (const toml::parse_error &e) {
		put(err, errlen, at(l, e.source()) + std::string(e.description()));
	} catch (const shape_error &e) {
		put(err, errlen, e.msg);
	} catch (const std::exception &e) {
		put(err, errlen, l.source + ": " + e.what());
	} catch (...) {
		put(err, errlen, l.source + ": could not be read");
	}
	policy_free(l.pol);
	return nullptr;
}

extern "C" struct policy *policy_toml_load_file(const char *path, const char *path_env, char *err,
                                                size_t errlen)
{
	try {
		std::FILE *f = std::fopen(path, "rbe");
		if (f == nullptr) {
			put(err, errlen, std::string(path) + ": " + std::strerror(errno));
			return nullptr;
		}
		struct stat st;
		if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
			std::fclose(f);
			put(err, errlen, std::string(path) + ": not a regular file");
			return nullptr;
		}
		std::string text;
		char buf[65536];
		size_t n;
		while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
			text.append(buf, n);
			if (text.size() > POLICY_TOML_MAX_BYTES)
				break;
		}
		bool bad = std::ferror(f) != 0;
		int e = errno;
		std::fclose(f);
		if (bad) {
			put(err, errlen, std::string(path) + ": " + std::strerror(e));
			return nullptr;
		}
		return policy_toml_load_text(text.data(), text.size(), path, path_env, err, errlen);
	} catch (...) {
		put(err, errlen, std::string(path) + ": could not be read (out of memory)");
		return nullptr;
	}
}
