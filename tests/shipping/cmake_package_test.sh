#!/usr/bin/env bash
# The CMake package as a firmware project uses it: `cmake --install` the build into a fresh prefix,
# build the out-of-tree example (cmake_example/: find_package(fakecloud), fakecloud::client, a CTest
# fixture with a fixtures file) against it, and run its ctest: the fixture starts the installed
# server on free ports, the tests read the ports from the environment, the fixture stops it.
# Usage: cmake_package_test.sh BUILD_DIR EXAMPLE_DIR
set -euo pipefail
BUILD=$1
EXAMPLE=$2
WORK=$(mktemp -d /tmp/fakecloud-cmake-package-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

cmake --install "$BUILD" --prefix "$WORK/prefix" >"$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
for f in bin/fakecloud bin/fakecloud-load include/fakecloud/client/sync_mqtt_client.hpp \
  include/fakecloud/protocols/mqtt/packet.hpp lib/cmake/fakecloud/fakecloudConfig.cmake \
  lib/cmake/fakecloud/FakecloudFixture.cmake; do
  [[ -e "$WORK/prefix/$f" ]] || fail "cmake --install did not install $f"
done
ok "cmake --install installs the server, the client headers and the CMake package"
# The service files are for the Debian package only: a prefix install writes nowhere else.
outside=$(grep -E '^-- (Installing|Up-to-date): ' "$WORK/install.log" | grep -vF -- "-- Installing: $WORK/prefix/" \
  | grep -vF -- "-- Up-to-date: $WORK/prefix/" || true)
[[ -z "$outside" ]] || fail "cmake --install wrote outside the prefix: $outside"
ok "cmake --install writes only into the prefix (no /etc, no systemd unit)"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$EXAMPLE" -B "$WORK/example" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" "${launcher[@]}" \
  >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; fail "the example does not configure against the package"; }
ok "find_package(fakecloud) finds the installed package"
cmake --build "$WORK/example" -j2 >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "the example does not build"; }
ok "the example links fakecloud::client"

ctest --test-dir "$WORK/example" --output-on-failure -V >"$WORK/ctest.log" 2>&1 || { cat "$WORK/ctest.log"; fail "the example's ctest failed"; }
grep -q "100% tests passed, 0 tests failed out of 4" "$WORK/ctest.log" || { cat "$WORK/ctest.log"; fail "expected 4 tests (start, 2 tests, stop)"; }
grep -q "ok - the fixture's device signs in over TLS" "$WORK/ctest.log" || fail "device_test did not run"
ok "the example's ctest passes: fixture start, device_connects, api_lists_device, fixture stop"

pid=$(sed -nE 's/.*fakecloud \(pid ([0-9]+)\) ready.*/\1/p' "$WORK/ctest.log" | head -n 1)
[[ -n "$pid" ]] || fail "the fixture did not report its server"
grep -q "fakecloud (pid $pid) stopped" "$WORK/ctest.log" || fail "the fixture did not stop its server"
! kill -0 "$pid" 2>/dev/null || fail "the fixture's server (pid $pid) still runs"
grep -q -- "$WORK/prefix/bin/fakecloud" "$WORK/ctest.log" || fail "the fixture did not run the installed server"
ok "the fixture ran the installed server and stopped it"
