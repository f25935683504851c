# Shared by the interop scripts: start fakecloud on free ports in a temp dir, check peers, assert.
# Usage: source lib.sh; start_fakecloud BINARY [extra flags…]; … ; the EXIT trap cleans up.
set -euo pipefail

WORK=$(mktemp -d /tmp/fakecloud-interop-XXXXXX)
FC_PID=""
cleanup() {
  [[ -n "$FC_PID" ]] && kill "$FC_PID" 2>/dev/null && wait "$FC_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -f "$WORK/server.log" ]]; then echo "--- server log (tail) ---" >&2; tail -n 40 "$WORK/server.log" >&2; fi
  exit 1
}

# A missing peer fails the test: scripts/install-deps installs every one of them.
require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (run scripts/install-deps)"
  done
}

start_fakecloud() {
  local binary=$1
  shift
  "$binary" --data-dir "$WORK/data" --db :memory: --mqtt-port 0 --mqtts-port 0 --mqtts-mtls-port 0 --http-port 0 --https-port 0 \
    --coap-port 0 --coaps-port 0 --ports-file "$WORK/ports.json" --log-level debug "$@" >"$WORK/server.log" 2>&1 &
  FC_PID=$!
  for _ in $(seq 200); do
    [[ -s "$WORK/ports.json" ]] && break
    kill -0 "$FC_PID" 2>/dev/null || fail "fakecloud exited during start-up"
    sleep 0.05
  done
  [[ -s "$WORK/ports.json" ]] || fail "fakecloud wrote no ports file"
  MQTT_PORT=$(sed -E 's/.*"mqtt":([0-9]+).*/\1/' "$WORK/ports.json")
  MQTTS_PORT=$(sed -E 's/.*"mqtts":([0-9]+).*/\1/' "$WORK/ports.json")
  MQTTS_MTLS_PORT=$(sed -E 's/.*"mqttsMtls":([0-9]+).*/\1/' "$WORK/ports.json")
  HTTP_PORT=$(sed -E 's/.*"http":([0-9]+).*/\1/' "$WORK/ports.json")
  HTTPS_PORT=$(sed -E 's/.*"https":([0-9]+).*/\1/' "$WORK/ports.json")
  COAP_PORT=$(sed -E 's/.*"coap":([0-9]+).*/\1/' "$WORK/ports.json")
  COAPS_PORT=$(sed -E 's/.*"coaps":([0-9]+).*/\1/' "$WORK/ports.json")
  CA="$WORK/data/tls/ca.pem"
  export MQTT_PORT MQTTS_PORT MQTTS_MTLS_PORT HTTP_PORT HTTPS_PORT COAP_PORT COAPS_PORT CA
}

expect_eq() {  # expect_eq WHAT EXPECTED ACTUAL
  [[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"
  echo "ok - $1"
}

# Condition waits instead of sleeps: the server's own counters say when a subscription or a
# connection has been taken in. Bounds are generous (20 s) because CI machines are loaded.
stat_of() {  # stat_of NAME → that counter of GET /api/v1/admin/stats (names there are unique)
  curl -sf "http://127.0.0.1:$HTTP_PORT/api/v1/admin/stats" | grep -oE "\"$1\":[0-9]+" | head -n 1 | cut -d: -f2
}

wait_stat() {  # wait_stat NAME VALUE: until the counter equals VALUE
  local now=""
  for _ in $(seq 400); do
    now=$(stat_of "$1")
    [[ $now == "$2" ]] && return 0
    sleep 0.05
  done
  fail "stats $1 did not reach $2 within 20 s (it is ${now:-unreadable})"
}

wait_grep() {  # wait_grep PATTERN FILE: until FILE has a line matching PATTERN (grep -E)
  for _ in $(seq 400); do
    grep -qE -- "$1" "$2" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no line matching '$1' in $2 within 20 s"
}
