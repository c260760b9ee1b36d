# SPDX-License-Identifier: GPL-2.0-or-later
# agentgw build. `make` builds build/agentgw and build/libagentgw.a;
# `make test` installs deps, builds, and runs every test;
# `make SANITIZE=address,undefined test` does the same in build/san/.

PKGS := yaml-0.1 sqlite3 libnftnl libmnl libnl-3.0 libnl-route-3.0 libcares \
        jansson libssl libcrypto libnetfilter_log

ifdef SANITIZE
BUILD ?= build/san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= cc
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wformat=2 -Wimplicit-fallthrough \
        -Wno-unused-parameter
ifeq ($(CI),true)
WERROR ?= -Werror
endif
HARDEN := -fstack-protector-strong -fPIE
ifndef SANITIZE
HARDEN += -D_FORTIFY_SOURCE=2
endif
OPT ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -D_GNU_SOURCE -I. -Icommon
CFLAGS += -std=c17 $(OPT) $(WARN) $(WERROR) $(HARDEN) $(SANFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS += -pie $(SANFLAGS) -Wl,-z,relro,-z,now
LDLIBS += $(PKG_LIBS) -lpthread -lm

LIB_DIRS := common policies audit gateway/net gateway/fs vmctl supervisor cli
LIB_SRC := $(filter-out cli/agentgw.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/cli/agentgw.o

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all build-all deps test unit check-build bench fuzz clean format image man

# The guest image is built (and cached under build/images/) with the same
# extra programs the e2e tests use, so one cached image serves both.
IMAGE_ADD ?= curl openssl dig nc

all: deps
	$(MAKE) build-all

build-all: $(BUILD)/agentgw $(BUILD)/libagentgw.a $(BUILD)/guest/agentgw-init
	$(BUILD)/agentgw image build --add $(IMAGE_ADD) >/dev/null

# The man page, made from the help texts (scripts/mkman.sh).
man: $(BUILD)/agentgw.1
$(BUILD)/agentgw.1: $(BUILD)/agentgw scripts/mkman.sh
	scripts/mkman.sh $(BUILD)/agentgw >$@.tmp && mv $@.tmp $@

deps:
	@bash scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libagentgw.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/agentgw: $(MAIN_OBJ) $(BUILD)/libagentgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libagentgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/fuzz/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(BUILD)/libagentgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(BUILD)/libagentgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check-build: build-all $(UNIT_BIN) $(REPLAY_BIN) $(BENCH_BIN)

test: deps
	$(MAKE) check-build
	BUILD=$(BUILD) bash tests/run.sh

unit: check-build
	BUILD=$(BUILD) ONLY=unit bash tests/run.sh

# Benchmarks build in their own folder: other flags (-DNDEBUG), and make
# would not rebuild the objects of build/ when only the flags change.
BENCH_BUILD ?= build/release
bench: deps
	$(MAKE) BUILD=$(BENCH_BUILD) OPT="-O2 -g -DNDEBUG" check-build
	BUILD=$(BENCH_BUILD) bash tests/bench/run.sh

# libFuzzer builds (clang): build/fuzz-clang/fuzz_<name>; run one with
#   build/fuzz-clang/fuzz/fuzz_dns tests/fuzz/corpus/dns
fuzz: deps
	$(MAKE) BUILD=build/fuzz-clang CC=clang SANITIZE=address,undefined \
	  EXTRA_CFLAGS=-fsanitize=fuzzer-no-link fuzz-targets
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/fuzz_%)
fuzz-targets: $(FUZZ_BIN)
$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/libagentgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# --- guest (vm helper): agentgw-init, static PID 1 of the microvm, and the image.
# Built without sanitizers (static, runs as PID 1); `make image` builds the
# guest image into the cache (needs network for the first kernel download).
GUEST_CFLAGS := -std=c17 -Os $(WARN) $(WERROR) -D_FORTIFY_SOURCE=2 -fstack-protector-strong
GUEST_SRC := $(wildcard vmctl/guest/*.c) vmctl/ctl.c vmctl/gtrust.c common/agw.c
$(BUILD)/guest/agentgw-init: $(GUEST_SRC) vmctl/ctl.h vmctl/gtrust.h $(wildcard vmctl/guest/*.h) common/agw.h
	@mkdir -p $(dir $@)
	$(CC) -static -D_GNU_SOURCE -I. -Icommon $(GUEST_CFLAGS) -o $@ $(GUEST_SRC)
guest: $(BUILD)/guest/agentgw-init
image: $(BUILD)/agentgw $(BUILD)/guest/agentgw-init
	$(BUILD)/agentgw image build --add $(IMAGE_ADD)
.PHONY: guest
