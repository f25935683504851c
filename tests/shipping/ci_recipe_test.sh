#!/usr/bin/env bash
# The "Plain shell (any CI)" recipe of docs/ci.md, read from the document and run as written, with
# the built fakecloud on PATH and docker/fixtures.json as the reader's tests/fixtures.json; then what
# it promises: the FAKECLOUD_* variables, /readyz, the fixtures' device, the variables handed to later
# GitHub Actions steps, and a clean stop. Usage: ci_recipe_test.sh FAKECLOUD SOURCE_DIR
set -euo pipefail
FAKECLOUD=$1
SOURCE=$2
WORK=$(mktemp -d /tmp/fakecloud-ci-recipe-XXXXXX)
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [[ -f $WORK/fakecloud.log ]] && tail -n 30 "$WORK/fakecloud.log" >&2
  exit 1
}
ok() { echo "ok - $*"; }

recipe=$(awk '$0 == "## Plain shell (any CI)" { found = 1; next }
  found && /^```sh/ { inside = 1; next }
  inside && /^```/ { exit }
  inside { print }' "$SOURCE/docs/ci.md")
[[ -n $recipe ]] || fail "no sh block under '## Plain shell (any CI)' in docs/ci.md"

cd "$WORK"
mkdir tests
cp "$SOURCE/docker/fixtures.json" tests/fixtures.json
export PATH="$(dirname "$FAKECLOUD"):$PATH"
export GITHUB_ENV=$WORK/github_env
: >"$GITHUB_ENV"
eval "$recipe"
ok "the recipe runs as written"

for var in FAKECLOUD_MQTT_PORT FAKECLOUD_MQTTS_PORT FAKECLOUD_HTTP_PORT FAKECLOUD_COAP_PORT; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || fail "$var is '${!var}', not a port"
done
[[ $FAKECLOUD_URL == "http://127.0.0.1:$FAKECLOUD_HTTP_PORT" ]] || fail "FAKECLOUD_URL is $FAKECLOUD_URL"
ok "it exports the ports and FAKECLOUD_URL"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$FAKECLOUD_URL/readyz") == 200 ]] || fail "/readyz"
ok "/readyz answers 200"
mosquitto_pub -h "$FAKECLOUD_HOST" -p "$FAKECLOUD_MQTT_PORT" -u thermo-1 -P s3cret -q 1 \
  -t devices/thermo-1/telemetry -m '{"temperature":21.5}' || fail "the fixtures' device could not publish"
curl -sf "$FAKECLOUD_URL/api/v1/devices/thermo-1/messages" | grep -q temperature || fail "no telemetry in the API"
ok "the fixtures' device publishes and the API (no token on loopback) shows it"
grep -qx "FAKECLOUD_URL=$FAKECLOUD_URL" "$GITHUB_ENV" && grep -qx "FAKECLOUD_MQTT_PORT=$FAKECLOUD_MQTT_PORT" "$GITHUB_ENV" \
  || fail "GITHUB_ENV holds: $(cat "$GITHUB_ENV")"
ok "the variables are handed to later GitHub Actions steps"
kill %1
status=0
wait %1 || status=$?
[[ $status == 0 ]] || fail "fakecloud exited with $status after kill %1"
ok "kill %1 stops it with status 0"
