# The front door. `make run` and `make test` install what is missing, build, and go.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CONFIG ?= examples/custom-metrics/envoy.yaml
# ccache: paths relative to the checkout, so clones and worktrees share the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

ASAN_BUILD_DIR ?= build-asan

.PHONY: all setup build run sdk-plugins test test-asan unit integration bench fuzz soak differential format tidy clean

all: build

setup:
	@scripts/setup test

build: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/weir -c $(CONFIG)

sdk-plugins: setup
	@scripts/build-sdk-plugins $(BUILD_DIR)/plugins

test: build sdk-plugins
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The unit and integration suites again against an ASan + UBSan build (WEIR_SANITIZE=ON)
# in $(ASAN_BUILD_DIR): C++ plugins are built there by CMake (unsanitized wasm), the SDK
# plugins are copied from the toolchains' caches under build/. Sanitizer options are set
# per test by CMakeLists.txt; a report fails the test.
test-asan: setup
	@cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	@scripts/build-sdk-plugins $(ASAN_BUILD_DIR)/plugins
	cd $(ASAN_BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -E integration

integration: build sdk-plugins
	cd $(BUILD_DIR) && ctest --output-on-failure -R integration

bench: build sdk-plugins
	@scripts/setup bench
	scripts/bench

# Each libFuzzer target for FUZZ_SECONDS (default 600) in turn; see scripts/fuzz.
fuzz: build
	@scripts/setup dev
	scripts/fuzz

# ~1 million mixed requests (SOAK_REQUESTS) with upstream restarts and a trapping plugin;
# not part of `make test`. See tests/soak/soak.py.
soak: build
	@scripts/setup bench
	scripts/soak

# Malformed and request-smuggling payloads through weir and nginx side by side; prints where
# they differ. DIFF_WEIR=/path/to/weir compares another build.
DIFF_WEIR ?= $(BUILD_DIR)/weir
differential: build
	@scripts/setup test
	python3 tests/differential/harness.py --weir $(DIFF_WEIR)

format:
	@scripts/setup dev
	find src tests sdk examples bench fuzz -name '*.cc' -o -name '*.h' 2>/dev/null | xargs clang-format -i

tidy: build
	@scripts/setup dev
	run-clang-tidy -p $(BUILD_DIR) -quiet -extra-arg=-fsized-deallocation 'src/.*'

clean:
	rm -rf $(BUILD_DIR)

# Builds one C++ plugin without CMake: make plugin SRC=myplugin.cc [OUT=build/plugins/myplugin.wasm]
.PHONY: plugin
plugin:
	@test -n "$(SRC)" || { echo "usage: make plugin SRC=myplugin.cc [OUT=build/plugins/myplugin.wasm]" >&2; exit 2; }
	@scripts/setup
	@scripts/build-cpp-plugin $(if $(OUT),-o $(OUT)) $(SRC)
