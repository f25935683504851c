#!/usr/bin/env bash
# Smoke run of fakecloud-load against the real fakecloud on free ports: 10 publishers → 10
# subscribers (20 devices) at QoS 1 for ~2 s; the --json report must show messages delivered with
# none lost or duplicated. Usage: smoke.sh FAKECLOUD FAKECLOUD_LOAD
set -euo pipefail
FAKECLOUD=$1
LOAD=$2

WORK=$(mktemp -d /tmp/fakecloud-load-smoke-XXXXXX)
FC_PID=""
cleanup() {
  [[ -n "$FC_PID" ]] && kill "$FC_PID" 2>/dev/null && wait "$FC_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [[ -f "$WORK/server.log" ]] && { echo "--- server log (tail) ---" >&2; tail -n 30 "$WORK/server.log" >&2; }
  [[ -f "$WORK/report.json" ]] && { echo "--- report ---" >&2; cat "$WORK/report.json" >&2; }
  exit 1
}

"$FAKECLOUD" --data-dir "$WORK/data" --db :memory: --mqtt-port 0 --mqtts-port 0 --mqtts-mtls-port 0 --http-port 0 --https-port 0 --coap-port 0 --coaps-port 0 \
  --ports-file "$WORK/ports.json" --log-level warn >"$WORK/server.log" 2>&1 &
FC_PID=$!
for _ in $(seq 200); do
  [[ -s "$WORK/ports.json" ]] && break
  kill -0 "$FC_PID" 2>/dev/null || fail "fakecloud exited during start-up"
  sleep 0.05
done
[[ -s "$WORK/ports.json" ]] || fail "fakecloud wrote no ports file"

"$LOAD" --ports-file "$WORK/ports.json" --publishers 10 --qos 1 --interval-ms 20 --duration 2 \
  --threads 2 --server-pid "$FC_PID" --json "$WORK/report.json" --no-progress || fail "fakecloud-load exited with $?"

python3 - "$WORK/report.json" <<'PY' || fail "report check"
import json, sys
r = json.load(open(sys.argv[1]))
m, c = r["messages"], r["connections"]
checks = [
    ("20 devices connected", c["connected"] == 20),
    ("10 subscribed", c["subscribed"] == 10),
    ("messages sent", m["sent"] > 100),
    ("every message delivered", m["delivered"] == m["expected"] == m["sent"]),
    ("none lost", m["lost"] == 0),
    ("none duplicated", m["duplicated"] == 0),
    ("all acknowledged", m["acked"] == m["sent"]),
    ("latency measured", r["latencyMs"]["count"] == m["delivered"] and r["latencyMs"]["p99"] > 0),
    ("no errors", r["errorCount"] == 0),
    ("server sampled", r["server"]["rssEndKb"] > 0),
]
bad = [name for name, ok in checks if not ok]
for name, ok in checks:
    print(("ok - " if ok else "not ok - ") + name)
sys.exit(1 if bad else 0)
PY
