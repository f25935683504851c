# fakecloud — the two commands: `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CTEST_ARGS ?=
RUN_ARGS ?=

.PHONY: all deps configure build run test test-unit test-integration test-interop test-shipping deb sanitize clean

all: build

deps:
	@scripts/install-deps

$(BUILD_DIR)/build.ninja:
	@scripts/install-deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR)

run: build
	$(BUILD_DIR)/server/fakecloud $(RUN_ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 $(CTEST_ARGS)

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit $(CTEST_ARGS)

test-integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration $(CTEST_ARGS)

test-interop: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L interop $(CTEST_ARGS)

test-shipping: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L shipping $(CTEST_ARGS)

# The Debian package, in $(BUILD_DIR)/packages/ (docs/ci.md).
deb: build
	cd $(BUILD_DIR) && cpack -G DEB

# Unit and integration tests under AddressSanitizer + UBSan, in a build dir of their own.
sanitize: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFC_SANITIZE=ON
	cmake --build build-asan
	cd build-asan && ctest --output-on-failure -L 'unit|integration' $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR) build-asan
