# The few verbs people type. A fresh clone needs only python3 (3.11+), make and a Rust toolchain;
# everything else is installed into .venv from PyPI and crates.io.
VENV ?= .venv
PY := $(VENV)/bin/python
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: run install check test test-rust test-py c-compiler sqlite-dev chromium fuzz build dev lint fmt proto bench wheel clean mutation mutation-rust mutation-py mutation-sample

$(VENV)/.created:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip "maturin>=1.9.4,<2"
	touch $@

# pip's own progress is noise here (PIP_QUIET reaches the pip that maturin runs); a failed
# build prints its whole log.
QUIET_BUILD = PIP_QUIET=1 $(VENV)/bin/maturin develop --release --quiet

# The package (the Rust extension built in release) and what running it needs: no dev tools.
install: $(VENV)/.created
	@echo "building sluice into $(VENV) (log: $(VENV)/build.log)"
	@$(QUIET_BUILD) >$(VENV)/build.log 2>&1 || (cat $(VENV)/build.log; exit 1)

# Start the service on the embedded default store (SQLite under ./sluice-data).
run: install
	$(VENV)/bin/sluice serve

# The same package plus the dev tools (pytest, ruff, mypy, the scale-out drivers, ...).
build: $(VENV)/.created
	@echo "building sluice and its dev tools into $(VENV) (log: $(VENV)/build.log)"
	@$(QUIET_BUILD) --extras dev >$(VENV)/build.log 2>&1 || (cat $(VENV)/build.log; exit 1)

dev: build

# What CI runs (.ci/run): the linters, then the whole suite. A lint error fails the build.
check: lint test

# The whole suite: pure-Rust unit tests, a short fuzz of every request parser, then pytest
# (which also starts real servers).
test: build test-rust fuzz c-compiler sqlite-dev chromium test-py

# tests/faults builds an LD_PRELOAD shim (a failing fsync) with it; in CI (CI=true) that test
# fails rather than skips without one. Debian's gcc, as `bench` gets wrk.
c-compiler:
	command -v cc >/dev/null || command -v gcc >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq gcc)

# bench/sqlite_writer (bench_layout's baseline with the rows bound in Rust; its smoke test runs
# in the suite) links the system's libsqlite3, the one Python's sqlite3 uses: its headers.
sqlite-dev:
	test -e /usr/include/sqlite3.h || (apt-get update -qq && apt-get install -y -qq libsqlite3-dev)

# tests/web/test_console_browser.py drives it headless through Playwright; Debian's chromium.
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test-rust:
	cargo test --quiet

# cargo fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the one stable toolchain here
# build it, and `-s none` skips the sanitizer (panics, overflows and hangs are still caught).
FUZZ_SECONDS ?= 20
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	mkdir -p core_rs/fuzz/corpus
	cd core_rs/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run batch_parsers -s none corpus seeds \
		-- -max_total_time=$(FUZZ_SECONDS)

test-py:
	$(PY) -m pytest -q

lint: build
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --features python -- -D warnings
	cargo fmt --check --manifest-path bench/sqlite_writer/Cargo.toml
	cargo clippy --manifest-path bench/sqlite_writer/Cargo.toml -- -D warnings
	$(PY) -m ruff format --check service tests bench tools
	$(PY) -m ruff check service tests bench tools
	$(PY) -m mypy
	$(PY) -m mypy --strict tools
	$(PY) -m mypy.stubtest sluice._core

fmt:
	cargo fmt
	cargo fmt --manifest-path bench/sqlite_writer/Cargo.toml
	$(PY) -m ruff format service tests bench tools

# Regenerate the committed protobuf/gRPC Python code (tests check it is current).
proto: $(VENV)/.created
	$(PY) -m grpc_tools.protoc -Iproto --python_out=service --pyi_out=service \
		--grpc_python_out=service proto/sluice/v1/*.proto

# The benchmark suite (bench/README.md): every figure a ratio against a baseline measured in
# the same run, printed as one table and kept in bench/RESULTS.md. Takes about 15 minutes;
# run it on a quiet machine. wrk (the HTTP load generator) comes from Debian when missing.
bench: build sqlite-dev
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench.run --write bench/RESULTS.md

# Mutation testing (docs/mutation.md): NOT in `make test` or CI, too slow for that. A full run
# is several hours on two cores: cargo-mutants builds and tests core_rs once per mutant (~30 s
# each), mutmut reruns the in-process tests that reach each mutated Python function (seconds to
# a minute each). Sample: MUTANTS_ARGS='-f core_rs/src/limits.rs --shard 0/4' runs a quarter of
# one file's mutants; MUTMUT_ARGS='sluice.web.body.*' one module's. Both keep their results
# (target/mutation/mutants.out/, target/mutmut/mutants/); a rerun skips what is unchanged.
MUTANTS_ARGS ?=
MUTMUT_ARGS ?=
mutation: mutation-rust mutation-py

# Exit 2 (mutants missed) and 3 (timeouts) are results to read, not failures of the run.
mutation-rust:
	command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
	nice -n 15 cargo mutants --jobs 1 --output target/mutation $(MUTANTS_ARGS); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 2 ] || [ $$rc -eq 3 ]

# mutmut only knows a package under src/ (it names mutants by module): run it in target/mutmut/,
# where src, tests and pyproject.toml are links to ours; it mutates a copy in its mutants/.
MUTMUT_DIR := target/mutmut
mutation-py: build
	mkdir -p $(MUTMUT_DIR)
	for link in tests pyproject.toml; do ln -sfn ../../$$link $(MUTMUT_DIR)/$$link; done
	ln -sfn ../../service $(MUTMUT_DIR)/src
	cd $(MUTMUT_DIR) && nice -n 15 $(abspath $(VENV))/bin/mutmut run --max-children 1 $(MUTMUT_ARGS)
	cd $(MUTMUT_DIR) && $(abspath $(VENV))/bin/mutmut results

# A seeded random sample of the web/rpc/storage mutants, scored with a confidence interval
# (docs/mutation.md, "Sampled: web, rpc, storage"): all of them would take ~22 hours. When
# mutmut has no mutants yet, a run naming nothing makes them and their stats, then stops.
# SAMPLE_ARGS: tools/mutation_sample.py's (--size, --seed, --after); the same ones score it.
# SAMPLE_ARGS='--names $(CURDIR)/tools/mutation_sample.txt' re-runs the sample the docs score.
mutation-sample: build
	mkdir -p $(MUTMUT_DIR)
	for link in tests pyproject.toml; do ln -sfn ../../$$link $(MUTMUT_DIR)/$$link; done
	ln -sfn ../../service $(MUTMUT_DIR)/src
	cd $(MUTMUT_DIR) && { [ -f mutants/mutmut-stats.json ] || nice -n 15 $(abspath $(VENV))/bin/mutmut run --max-children 1 'generate.only' || true; }
	cd $(MUTMUT_DIR) && $(abspath $(PY)) $(CURDIR)/tools/mutation_sample.py $(SAMPLE_ARGS) > sample.txt
	cd $(MUTMUT_DIR) && nice -n 15 $(abspath $(VENV))/bin/mutmut run --max-children 1 $$(cat sample.txt)
	cd $(MUTMUT_DIR) && $(abspath $(PY)) $(CURDIR)/tools/mutation_sample.py --score $(SAMPLE_ARGS)

# What ships: an sdist and one abi3 wheel (CPython 3.11 and later) with a manylinux tag, in
# dist/. Built in its own target dir, so the develop build's cache stays warm. Publish with
# `twine upload dist/*` (or `maturin upload dist/*`).
DIST ?= dist
wheel: $(VENV)/.created
	$(VENV)/bin/maturin sdist --out $(DIST)
	CARGO_TARGET_DIR=target/wheel $(VENV)/bin/maturin build --release --features python,pyo3/abi3-py311 \
		--out $(DIST)

clean:
	rm -rf $(VENV) target dist service/sluice/*.so
