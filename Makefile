# The two commands a newcomer needs:
#   make demo   build, then show Palisade at work on the example cluster
#   make test   build, then run every test
# Both install the Debian packages they need first (scripts/install-deps.sh).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: | deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@scripts/install-deps.sh images
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	@scripts/install-deps.sh demo
	@scripts/demo.sh $(BUILD_DIR)

bench: build
	@scripts/install-deps.sh bench
	@scripts/bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
