# make run   — install what is missing, build, start `amphi serve` with its defaults
# make test  — the same set-up, then every test (unit, integration, e2e, sanitizer, fuzz)
# make build — install and build only (binary at build/amphi)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CMAKE_GEN  := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 20
ARGS ?=

.PHONY: all setup build run test test-unit test-integration test-e2e test-asan test-fuzz bench clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bash scripts/build-web.sh
	@echo "build: $(BUILD)/amphi is ready (web app in web/dist)"

run: build
	./$(BUILD)/amphi serve $(ARGS)

test: build test-unit test-integration test-e2e test-asan test-fuzz
	@echo "test: all suites passed"

test-unit: build
	cd $(BUILD) && ctest -L unit --output-on-failure -j $(JOBS)

test-integration: build
	cd $(BUILD) && ctest -L integration --output-on-failure --timeout 300

# Chromium + Janus in a network namespace (root); screenshots in $(BUILD)/e2e-artifacts.
test-e2e: build
	cd $(BUILD) && ctest -L e2e --output-on-failure

# The pure libraries and their unit tests under AddressSanitizer + UBSan.
test-asan: setup
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DAMPHI_UNIT_ONLY=ON -DAMPHI_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest -L unit --output-on-failure -j $(JOBS)

# libFuzzer targets (clang), a short run each in CI; crashes are saved under tests/fuzz/.
test-fuzz: setup
	@cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DAMPHI_UNIT_ONLY=ON -DAMPHI_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest -L fuzz --output-on-failure

bench: build
	./$(BUILD)/bench/signals/bench_signals $(ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
