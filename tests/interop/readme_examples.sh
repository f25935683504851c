#!/usr/bin/env bash
# Interop: the shell examples of README.md ("A command in 60 seconds") and docs/dialects/generic.md
# ("Example with mosquitto clients"), read from the documents themselves and run as written with
# curl, mosquitto_sub and mosquitto_pub. Only what a reader adapts is adapted: the ports
# (localhost:8080 and mosquitto's default 1883 become this server's), and the placeholder
# <command id> / <id> becomes the id mosquitto_sub printed. Then the outcomes the comments promise
# are checked.
source "$(dirname "$0")/lib.sh"
require curl mosquitto_sub mosquitto_pub
start_fakecloud "$1"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

# The first ```sh block after the heading $2 in file $1.
example() {
  awk -v heading="$2" '
    $0 == heading { found = 1; next }
    found && /^```sh/ { inside = 1; next }
    inside && /^```/ { exit }
    inside { print }' "$1"
}

# The example runs in this shell with these stand-ins, so that it stays exactly as written.
OUT="$WORK/example"
mkdir -p "$OUT"
STEP=0
curl() {
  local args=() a
  for a in "$@"; do args+=("${a//localhost:8080/127.0.0.1:$HTTP_PORT}"); done
  STEP=$((STEP + 1))
  command curl -sS --max-time 20 "${args[@]}" | tee "$OUT/$STEP.curl"
  echo
}
mosquitto_sub() {
  command timeout 20 mosquitto_sub -p "$MQTT_PORT" "$@" | tee "$OUT/sub"
  CMD_ID=$(sed -E 's/.*"id":"([^"]+)".*/\1/' "$OUT/sub" | head -n 1)
  [[ -n $CMD_ID ]] || fail "mosquitto_sub printed no command: $(cat "$OUT/sub")"
}
mosquitto_pub() {
  local args=() a
  for a in "$@"; do
    a=${a//<command id>/$CMD_ID}
    args+=("${a//<id>/$CMD_ID}")
  done
  command timeout 20 mosquitto_pub -p "$MQTT_PORT" "${args[@]}"
}

run_example() {  # run_example FILE HEADING
  local script
  script=$(example "$1" "$2")
  [[ -n $script ]] || fail "no sh example under '$2' in $1"
  # <command id> / <id> in curl lines too (shell-quoted placeholders would not survive as arguments).
  script=${script//<command id>/\$CMD_ID}
  script=${script//<id>/\$CMD_ID}
  STEP=0
  CMD_ID=""
  rm -f "$OUT"/*
  echo "--- running the example of $1 ($2)"
  eval "$script" || fail "the example of $1 failed"
}

status_of() { command curl -sf "http://127.0.0.1:$HTTP_PORT/api/v1/commands/$1" | sed -E 's/.*"status":"([A-Z]+)".*/\1/'; }
wait_status() {  # wait_status ID STATUS
  for _ in $(seq 400); do
    [[ $(status_of "$1") == "$2" ]] && return 0
    sleep 0.05
  done
  fail "command $1 did not become $2 (it is $(status_of "$1"))"
}

# --- README.md ---
run_example "$ROOT/README.md" "## A command in 60 seconds"
[[ -n $CMD_ID ]] || fail "README: no command was received"
wait_status "$CMD_ID" SUCCESSFUL
echo "ok - README: the cached command reached mosquitto_sub and its result made it SUCCESSFUL"
grep -q '"status":"SUCCESSFUL"' "$OUT/3.curl" || echo "note - README: the list right after mosquitto_pub showed: $(cat "$OUT/3.curl")"
grep -q '"direction":"in","id":[0-9]*,"rawBase64":"[^"]*","summary":"PUBACK' "$OUT/4.curl" || fail "README: the journal has no PUBACK: $(cat "$OUT/4.curl")"
echo "ok - README: the journal shows the exchange"
grep -q '"status":"EXPIRED"' "$OUT/7.curl" && grep -q '"total":1' "$OUT/7.curl" \
  || fail "README: the 48-hour expiry: $(cat "$OUT/7.curl")"
echo "ok - README: the second command EXPIRED after the clock moved 48 hours"

# --- docs/dialects/generic.md ---
command curl -sf -XPOST "http://127.0.0.1:$HTTP_PORT/api/v1/admin/reset" >/dev/null || fail "reset"
run_example "$ROOT/docs/dialects/generic.md" "## Example with mosquitto clients"
[[ -n $CMD_ID ]] || fail "generic.md: no command was received"
wait_status "$CMD_ID" SUCCESSFUL
grep -q '"id":"'"$CMD_ID"'"' "$OUT/4.curl" || fail "generic.md: GET /commands/<id> gave $(cat "$OUT/4.curl")"
echo "ok - generic.md: product, device, command, mosquitto_sub, the result, SUCCESSFUL"
