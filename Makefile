# sealmail: the two commands a newcomer needs are `make run` and `make check`.
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
# Our own builds: warnings are errors and the fault points are compiled in.
# A packager's build (plain cmake) has neither.
OWN_FLAGS = -DSEALMAIL_WERROR=ON -DSEALMAIL_FAULTS=ON
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Where `make install` puts things (GNU names). Every build is configured
# with them, so the default configuration a binary of build/ reads is the
# one an installed binary reads: $(sysconfdir)/sealmail/sealmail.conf.
PREFIX ?= /usr/local
sysconfdir ?= /etc
localstatedir ?= /var
DIR_FLAGS = -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCMAKE_INSTALL_SYSCONFDIR=$(sysconfdir) \
	-DCMAKE_INSTALL_LOCALSTATEDIR=$(localstatedir)

.PHONY: all build build-asan deps peers run check check-builds check-normal check-asan bench fuzz install format clean

all: build

build: deps
	@cmake -S . -B build $(OWN_FLAGS) $(DIR_FLAGS) $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan $(OWN_FLAGS) $(DIR_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DSEALMAIL_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

deps:
	@scripts/deps

run: build
	@scripts/run-demo

check: peers check-builds check-normal check-asan fuzz

# Real peers the tests talk to (Postfix's smtp-sink unpacked, unbound).
peers: deps
	@if [ -x scripts/test-peers ]; then scripts/test-peers; fi

# GCC and clang, Release/RelWithDebInfo/Debug and Debian's hardening flags,
# each without -Werror, as packagers build.
check-builds: deps
	@scripts/build-matrix

check-normal: build
	cd build && ctest --output-on-failure -j $(JOBS)

check-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

fuzz: deps
	@tests/fuzz/run-short

# Every benchmark suite, one table (bench/README.md); BENCH_SUITE=tls etc.
# runs one group of rows.
bench: build
	@bench/run

# CMake's install rules (the layout is in README.md, "Installing"); every
# file goes under $(DESTDIR) when it is set.
# What is installed is a packager's build: no -Werror, no fault points, no
# tests (build/ is the tests' build and carries fault points).
install: deps
	@cmake -S . -B build-release $(DIR_FLAGS) $(CMAKE_FLAGS) -DBUILD_TESTING=OFF >/dev/null
	@cmake --build build-release -j $(JOBS) --target sealmail
	DESTDIR=$(DESTDIR) cmake --install build-release

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-release

# Builds the Debian package from the committed tree, lints it, installs it
# into a fresh root, sends it mail and purges it (scripts/package-check).
.PHONY: package-check
package-check:
	@scripts/package-check

# The same package under a booted systemd (systemd-nspawn): not run by CI.
.PHONY: boot-check
boot-check:
	@PACKAGE_CHECK_ROOT=boot scripts/package-check
