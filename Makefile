# tasker: plain GNU make with pkg-config.
#
#   make            build ./tasker
#   make run        set everything up and start the console (tasker --local)
#   make test       set everything up, build, run unit + integration tests
#   make bench      print the benchmark figures (not a test)
#   make fuzz       build and run the libFuzzer targets (FUZZ_SECONDS each)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Switches: WERROR=1 (warnings are errors), SAN=1 (ASan+UBSan, objects in
# build-san/ so a sanitizer build never mixes with a normal one).

VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   := $(PREFIX)/bin
MANDIR   := $(PREFIX)/share/man/man1
SHAREDIR := $(PREFIX)/share/tasker

PKGS := ncursesw readline hiredis libcjson yajl libsodium libmicrohttpd
# toml++ (C++17) is read by two C++ files, core/policy_toml.cpp and
# core/datum_toml.cpp, each behind a C interface; its flags go to those
# files only, its library to every link.
CXX_PKGS := tomlplusplus
# Debian packages the build, the tests and the fuzzers need.
APT_PKGS := libncurses-dev libreadline-dev libhiredis-dev libcjson-dev libyajl-dev \
	redis-server tmux libcmocka-dev clang libclang-rt-14-dev pkg-config \
	libsodium-dev libtomlplusplus-dev g++ jq systemd libmicrohttpd-dev prometheus
# Node.js and npm only when the machine has none (an image may ship its own
# Node.js, whose bundled npm conflicts with Debian's npm package).
NODE_PKGS := nodejs npm
PM2_VERSION := 7.0.4
DEPS_DIR := .deps
PM2_BIN := $(DEPS_DIR)/node_modules/.bin/pm2

ifeq ($(SAN),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD := build
SANFLAGS :=
endif

WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wwrite-strings -Wcast-qual -Wvla
# snprintf into fixed buffers truncates on purpose (messages for humans);
# gcc's guess that it might is noise, not a finding.
WARNFLAGS += -Wno-format-truncation
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif

# Lazily expanded: `make test` may have just installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS) $(CXX_PKGS)) -lstdc++ -lm
PKG_CXXFLAGS = $(shell pkg-config --cflags $(CXX_PKGS))

OPTFLAGS ?= -O2 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPTFLAGS) $(WARNFLAGS) $(SANFLAGS) -MMD -MP \
	-Icore -Itui $(PKG_CFLAGS) -DTASKER_VERSION='"$(VERSION)"' \
	-DTASKER_SHAREDIR='"$(SHAREDIR)"' $(CFLAGS)
CXXFLAGS_ALL = -std=c++17 -D_GNU_SOURCE $(OPTFLAGS) \
	$(filter-out -Wstrict-prototypes -Wmissing-prototypes,$(WARNFLAGS)) $(SANFLAGS) -MMD -MP \
	-Icore $(PKG_CXXFLAGS) $(CXXFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c))
TUI_SRC  := $(wildcard tui/*.c)
CORE_CXX := core/policy_toml.cpp core/datum_toml.cpp
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o) $(CORE_CXX:%.cpp=$(BUILD)/%.o)
TUI_OBJ  := $(TUI_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/core/main.o
BIN      := $(BUILD)/tasker

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
INTEG_C_SRC := $(wildcard tests/integration/test_*.c)
INTEG_C_BIN := $(INTEG_C_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
INTEG    := $(INTEG_C_BIN) $(sort $(wildcard tests/integration/test_*.sh))

BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60

.PHONY: all deps test check check-unit check-integration run bench fuzz fuzz-build \
	install uninstall clean format

all: $(BIN)
ifneq ($(SAN),1)
all: tasker
tasker: $(BIN)
	cp $< $@
endif

$(BIN): $(MAIN_OBJ) $(CORE_OBJ) $(TUI_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c -o $@ $<

# Unit tests link the pure tui/ modules too (theme, format, complete).
$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(TUI_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(CORE_OBJ) $(TUI_OBJ) $(LDFLAGS_ALL) $(PKG_LIBS) -lcmocka

$(BUILD)/bench/%: tests/bench/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(CORE_OBJ) $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/tests/integration/%: tests/integration/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(CORE_OBJ) $(LDFLAGS_ALL) $(PKG_LIBS) -lcmocka

# deps: install what is missing and nothing else.
deps:
	@missing=""; for p in $(APT_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing $(NODE_PKGS)"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "deps: installing$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
		else \
			echo "deps: missing Debian packages; run as root:"; \
			echo "  apt-get install -y$$missing"; exit 1; \
		fi; \
	fi
	@if [ ! -x $(PM2_BIN) ]; then \
		echo "deps: installing pm2@$(PM2_VERSION) into $(DEPS_DIR)/"; \
		mkdir -p $(DEPS_DIR) && npm install --silent --no-audit --no-fund --prefix $(DEPS_DIR) pm2@$(PM2_VERSION) >/dev/null || exit 1; \
	fi

test: deps
	@$(MAKE) --no-print-directory check

check: all $(UNIT_BIN) $(INTEG_C_BIN)
	@BUILD=$(BUILD) tests/run.sh $(UNIT_BIN) $(INTEG)

check-unit: all $(UNIT_BIN)
	@BUILD=$(BUILD) tests/run.sh $(UNIT_BIN)

check-integration: all $(INTEG_C_BIN)
	@BUILD=$(BUILD) tests/run.sh $(INTEG)

run: deps
	@$(MAKE) --no-print-directory all
	@PATH="$(CURDIR)/$(DEPS_DIR)/node_modules/.bin:$$PATH" ./tasker --local

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) tests/bench/run.sh

# -fno-sanitize-recover: undefined behaviour (a double out of an int's
# range, say) stops the fuzzer like a crash instead of scrolling past.
# The C++ file is compiled on its own (clang would read it as C); vptr
# checks need the C++ sanitizer runtime, which a C link does not bring.
build-fuzz/policy_toml.o: core/policy_toml.cpp core/policy_toml.h core/policy.h
	@mkdir -p build-fuzz
	clang++ -std=c++17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize=vptr -fno-sanitize-recover=undefined -Icore $(PKG_CXXFLAGS) -c -o $@ $<

build-fuzz/datum_toml.o: core/datum_toml.cpp core/datum_toml.h
	@mkdir -p build-fuzz
	clang++ -std=c++17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize=vptr -fno-sanitize-recover=undefined -Icore $(PKG_CXXFLAGS) -c -o $@ $<

build-fuzz/%: tests/fuzz/%.c $(CORE_SRC) build-fuzz/policy_toml.o build-fuzz/datum_toml.o
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Icore \
		$(PKG_CFLAGS) -DTASKER_VERSION='"$(VERSION)"' -DTASKER_SHAREDIR='"$(SHAREDIR)"' \
		-o $@ $< $(CORE_SRC) build-fuzz/policy_toml.o build-fuzz/datum_toml.o $(PKG_LIBS)

fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

fuzz: fuzz-build
	@for f in $(FUZZ_BIN); do \
		name=$$(basename $$f); mkdir -p build-fuzz/corpus-$$name; \
		echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus-$$name \
			tests/fuzz/seeds/$${name#fuzz_} 2>build-fuzz/$$name.log || \
			{ tail -n 40 build-fuzz/$$name.log; exit 1; }; \
		grep -E '^Done [0-9]+ runs' build-fuzz/$$name.log || true; \
	done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(SHAREDIR)/themes
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/tasker
	install -m 644 docs/tasker.1 $(DESTDIR)$(MANDIR)/tasker.1
	for t in themes/*.theme; do [ -e "$$t" ] && install -m 644 "$$t" $(DESTDIR)$(SHAREDIR)/themes/; done; true

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/tasker $(DESTDIR)$(MANDIR)/tasker.1
	rm -rf $(DESTDIR)$(SHAREDIR)

format:
	clang-format -i core/*.c core/*.cpp core/*.h tui/*.c tui/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build build-san build-fuzz tasker tests/tmp

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/tests/*.d $(BUILD)/tests/integration/*.d $(BUILD)/bench/*.d)
