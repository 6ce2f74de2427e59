# kubeproof: the two commands a person needs are `make demo` and `make test`.
#
#   make deps    install the missing Debian packages (scripts/install-deps.sh)
#   make build   deps + configure + compile everything (binary, tests, benchmarks) into build/
#   make test    deps + build with warnings as errors + every test (ctest), then each fuzz target briefly
#   make fuzz    every libFuzzer target for FUZZ_SECONDS each, in build-fuzz/ (clang; docs/fuzzing.md)
#   make demo    deps + configure + the kubeproof binary only + lab up + a shortened smoke run + lab down
#   make demo-evaluate  judge the shipped example measurements (no services)
#   make agent-image        the agent images as OCI archives in build/ (scripts/build-agent-image.sh; root)
#   make check-agent-image  prove they import into containerd and run as uid 65534 (scripts/check-agent-image.sh)
#   make test-sanitize  the unit and integration tests under ASan+UBSan, the threaded parts under TSan
#                       (sanitize.mk; the second CI step, see README)
#   make clean   remove build/ and build-fuzz/ (results/ is left alone: it holds your reports)

BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEMO_MEASUREMENTS ?= examples/measurements-smoke.json
RESULTS ?= results

.PHONY: all deps configure build binary test test-timing fuzz-build fuzz test-fuzz demo demo-evaluate agent-image check-agent-image clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The kubeproof binary alone: what the demos run. The tests and benchmarks build under `make build`/`make test`.
binary: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target kubeproof

test: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DKP_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@# Unit tests in parallel; integration tests (real etcd, unbound, nginx, fio, network namespaces) one at a
	@# time, so load from one cannot skew the measurements another asserts on.
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE integration
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration $(if $(TIMING_TESTS),-E '$(TIMING_TESTS)')
	@# Then every fuzz target briefly, in its clang build (docs/fuzzing.md); FUZZ_IN_TEST=0 leaves it out.
	$(if $(filter 1,$(FUZZ_IN_TEST)),$(MAKE) test-fuzz)

# Integration tests whose assertion is a timing precision of the host rather than a property of kubeproof: they run
# with `make test-timing`, not in CI (an empty -E would exclude every test, hence the $(if)). None at present: the
# 5 ms server-hold test (issue 5) now measures against a reference run that also holds, so the caches that other
# work evicts while the CPU waits cost both runs alike (see the test's comment). Override to run a subset:
# `make test-timing TIMING_TESTS=NetLab`.
TIMING_TESTS ?=
test-timing: build
	$(if $(TIMING_TESTS),cd $(BUILD_DIR) && ctest --output-on-failure -R '$(TIMING_TESTS)',@echo "test-timing: no timing-only tests at present (set TIMING_TESTS to a ctest regex)")

# libFuzzer targets, one per parser of outside input (tests/fuzz/, docs/fuzzing.md), in a clang build of their
# own with ASan+UBSan. `make fuzz FUZZ_SECONDS=600` runs each for that long (FUZZ_TARGETS: a regex of target
# names; FUZZ_RUNS: stop a target sooner, after that many executions; FUZZ_JOBS: targets at once) and prints
# executions and exec/s per target; `make test-fuzz` is the brief run each ctest makes.
FUZZ_IN_TEST ?= 1
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_CXX ?= clang++-19
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= .
FUZZ_RUNS ?= 0
FUZZ_JOBS ?= 1
fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DKP_FUZZ=ON -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzz_targets
fuzz: fuzz-build
	bash scripts/fuzz.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) '$(FUZZ_TARGETS)' $(FUZZ_RUNS) $(FUZZ_JOBS)
test-fuzz: fuzz-build
	cd $(FUZZ_BUILD_DIR) && ctest --output-on-failure -L fuzz

# The demo: start the local lab of real services (etcd, unbound, nginx), run the smoke plan against it with every
# duration shortened (DEMO_SCALE) so it ends in about a minute, print the table and the report paths, and stop the
# lab again, also when the run fails or is interrupted. Its exit code is the verdict's: 0 when every judged row
# meets target ("PASS (smoke: capacity not judged)": a smoke run does not judge capacity rows); 1 (FAIL), 3
# (CONDITIONAL PASS) and 4 (INCOMPLETE or INVALID: a row not measured, a skipped service's rows are not counted)
# are results worth showing, not a broken demo.
DEMO_SCALE ?= 0.1
DEMO_LAB ?= .kubeproof/lab
demo: binary
	@export KUBEPROOF_LAB_DIR=$(DEMO_LAB); \
	trap './$(BUILD_DIR)/kubeproof lab down >/dev/null 2>&1 || true' EXIT INT TERM; \
	./$(BUILD_DIR)/kubeproof lab down >/dev/null 2>&1 || true; \
	./$(BUILD_DIR)/kubeproof lab up || exit $$?; \
	status=0; ./$(BUILD_DIR)/kubeproof run --type smoke --target local --duration-scale $(DEMO_SCALE) \
		--results $(RESULTS) || status=$$?; \
	case $$status in \
	  0|1|3|4) echo "make demo: kubeproof exited with $$status (0 PASS, 1 FAIL, 3 CONDITIONAL PASS, 4 INCOMPLETE/INVALID); reports are in $(RESULTS)/" ;; \
	  *) echo "make demo: kubeproof exited with $$status" >&2; exit $$status ;; \
	esac

# Judge the shipped example measurements (no services needed): what `evaluate` does with another tool's numbers.
demo-evaluate: binary
	@status=0; ./$(BUILD_DIR)/kubeproof evaluate --measurements $(DEMO_MEASUREMENTS) --results $(RESULTS) \
		|| status=$$?; \
	case $$status in \
	  0|1|3) echo "make demo-evaluate: kubeproof exited with $$status (0 PASS, 1 FAIL, 3 CONDITIONAL PASS); reports are in $(RESULTS)/" ;; \
	  *) echo "make demo-evaluate: kubeproof exited with $$status" >&2; exit $$status ;; \
	esac

# The agent images (docs/agent-image.md): the small one (net, dns, http, etcd) and the storage one (with fio),
# from Debian packages with mmdebstrap and umoci: no registry, no daemon. The image's binary is stripped.
agent-image: build
	bash scripts/build-agent-image.sh --binary $(BUILD_DIR)/kubeproof --out $(BUILD_DIR)

check-agent-image:
	KP_AGENT_IMAGE_DIR=$(BUILD_DIR) bash scripts/check-agent-image.sh

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_BUILD_DIR)

include sanitize.mk
