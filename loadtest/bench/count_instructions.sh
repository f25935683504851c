#!/usr/bin/env bash
# User-space instructions fakecloud executes per delivered message, under valgrind's callgrind: a
# measure of CPU per message that, unlike wall-clock throughput, does not depend on what else the
# machine is doing (docs/benchmarks.md, "Instructions per message"). For each case it runs
# fakecloud under callgrind, collecting inside io_context::run() only (the I/O threads: start-up
# and certificate generation are left out), drives it with fakecloud-load (p2p, --interval-ms 0,
# the window-8 and window-1 shapes of run_bench.py at reduced scale) for COUNT1 and then COUNT2
# messages per publisher on fresh servers, and prints
#   (instructions₂ − instructions₁) ÷ (deliveries₂ − deliveries₁),
# which cancels connecting and subscribing.
#
#   loadtest/bench/count_instructions.sh FAKECLOUD FAKECLOUD_LOAD [PUBLISHERS] [COUNT1] [COUNT2] [CASES]
#
# Defaults: 50 publishers, 100 and 300 messages each, CASES w8q0,w8q1,w1q0,w1q1.
set -euo pipefail

fakecloud=${1:?fakecloud binary}
load=${2:?fakecloud-load binary}
publishers=${3:-50}
count1=${4:-100}
count2=${5:-300}
cases=${6:-w8q0,w8q1,w1q0,w1q1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A data dir with the TLS files fakecloud generates on its first start, made once without
# valgrind (key generation under valgrind takes minutes) and copied for every run.
mkdir -p "$work/template"
"$fakecloud" --data-dir "$work/template" --db :memory: --mqtt-port 0 --mqtts-port 0 --http-port 0 --https-port 0 \
  --coap-port 0 --coaps-port 0 --ports-file "$work/template-ports.json" --log-level warn >/dev/null 2>&1 &
tpid=$!
for _ in $(seq 1 600); do
  [ -s "$work/template-ports.json" ] && break
  sleep 0.1
done
kill -TERM "$tpid"
wait "$tpid" || true

# run CASE COUNT → prints "instructions deliveries"
run() {
  local c=$1 count=$2
  local window=${c:1:1} qos=${c:3:1} dir="$work/$c-$2"
  mkdir -p "$dir"
  cp -r "$work/template" "$dir/data"
  valgrind --tool=callgrind --toggle-collect='boost::asio::io_context::run()' \
    --callgrind-out-file="$dir/callgrind.out" \
    "$fakecloud" --data-dir "$dir/data" --db :memory: --mqtt-port 0 --mqtts-port 0 --http-port 0 \
    --https-port 0 --coap-port 0 --coaps-port 0 --ports-file "$dir/ports.json" --log-level warn \
    --mqtt-max-inflight 32 --mqtt-max-queued 10000 >"$dir/fakecloud.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 6000); do
    [ -s "$dir/ports.json" ] && break
    sleep 0.1
  done
  [ -s "$dir/ports.json" ] || { echo "$c: fakecloud did not start" >&2; cat "$dir/fakecloud.log" >&2; exit 1; }
  "$load" --ports-file "$dir/ports.json" --no-progress --threads 2 --json "$dir/report.json" \
    --topology p2p --publishers "$publishers" --qos "$qos" --interval-ms 0 --window "$window" \
    --window-timeout-ms 60000 --count "$count" --connect-timeout-ms 60000 --drain-timeout-ms 60000 \
    >"$dir/load.log" 2>&1
  kill -TERM "$pid"
  wait "$pid" || true
  local ir delivered
  ir=$(grep -m1 '^summary:' "$dir/callgrind.out" | awk '{print $2}')
  delivered=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages"]["delivered"])' \
    "$dir/report.json")
  echo "$ir $delivered"
}

for c in ${cases//,/ }; do
  read -r ir1 d1 < <(run "$c" "$count1")
  read -r ir2 d2 < <(run "$c" "$count2")
  echo "$c publishers=$publishers deliveries=$d1/$d2 instructions=$ir1/$ir2 per-message=$(( (ir2 - ir1) / (d2 - d1) ))"
done
