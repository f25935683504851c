#!/usr/bin/env bash
# Interop: Debian's mosquitto_pub / mosquitto_sub against fakecloud — plain, TLS with --cafile,
# mutual TLS with --cert/--key, MQTT 3.1 and 3.1.1, QoS 0/1/2, retained, will.
source "$(dirname "$0")/lib.sh"
require mosquitto_pub mosquitto_sub openssl curl
start_fakecloud "$1"

# Subscribes in the background, waits until the server holds its subscriptions, then runs the publisher.
sub_then_pub() {  # sub_then_pub OUTFILE COUNT SUB_ARGS… -- PUB_COMMANDS (as one string)
  local out=$1 count=$2
  shift 2
  local args=()
  while [[ $1 != "--" ]]; do args+=("$1"); shift; done
  shift
  local filters=0 a
  for a in "${args[@]}"; do [[ $a == -t ]] && filters=$((filters + 1)); done
  local before
  before=$(stat_of subscriptions)
  timeout 20 mosquitto_sub "${args[@]}" -C "$count" -v >"$out" 2>"$out.err" &
  local sub=$!
  wait_stat subscriptions $((before + filters))
  eval "$1"
  wait "$sub" || fail "mosquitto_sub ${args[*]} did not get $count messages: $(cat "$out" "$out.err")"
  wait_stat subscriptions "$before"  # its clean session is gone: the next count starts from here
}

for v in mqttv31 mqttv311; do
  for q in 0 1 2; do
    sub_then_pub "$WORK/out" 1 -V $v -p "$MQTT_PORT" -q 2 -t "interop/$v/q$q" -- \
      "mosquitto_pub -V $v -p $MQTT_PORT -q $q -t interop/$v/q$q -m hello-$q"
    expect_eq "$v QoS $q publish/subscribe" "interop/$v/q$q hello-$q" "$(cat "$WORK/out")"
  done
done

mosquitto_pub -p "$MQTT_PORT" -q 1 -r -t interop/retained -m kept
got=$(timeout 20 mosquitto_sub -p "$MQTT_PORT" -t interop/retained -C 1 -v)
expect_eq "retained message delivered on subscribe" "interop/retained kept" "$got"
wait_stat subscriptions 0
mosquitto_pub -p "$MQTT_PORT" -q 1 -r -t interop/retained -n
# The subscriber must get something to prove it ran: a marker published after its SUBSCRIBE. Had
# the retained message survived, it would come first (retained messages go out on subscribe).
sub_then_pub "$WORK/out" 1 -p "$MQTT_PORT" -q 1 -t interop/retained -t interop/marker -- \
  "mosquitto_pub -p $MQTT_PORT -q 1 -t interop/marker -m marker"
expect_eq "empty retained payload clears it" "interop/marker marker" "$(cat "$WORK/out")"

# Will: a subscriber with a will is killed; another sees the will.
subs=$(stat_of subscriptions)
timeout 20 mosquitto_sub -p "$MQTT_PORT" -t interop/will -C 1 -v >"$WORK/will" &
watcher=$!
wait_stat subscriptions $((subs + 1))
mosquitto_sub -p "$MQTT_PORT" -t interop/nothing --will-topic interop/will --will-payload "lost" -k 60 &
victim=$!
wait_stat subscriptions $((subs + 2))  # connected with its will, and subscribed
kill -9 "$victim"
wait "$watcher" || fail "will not delivered"
expect_eq "will published when a client dies" "interop/will lost" "$(cat "$WORK/will")"
wait_stat subscriptions "$subs"

# TLS with the CA fakecloud generated, fetched over HTTP like a device team would.
curl -sf "http://127.0.0.1:$HTTP_PORT/api/v1/ca.pem" -o "$WORK/ca-http.pem" || fail "GET /api/v1/ca.pem"
cmp -s "$WORK/ca-http.pem" "$CA" || fail "the CA served over HTTP differs from the one on disk"
sub_then_pub "$WORK/out" 1 -p "$MQTTS_PORT" --cafile "$WORK/ca-http.pem" -t interop/tls -q 1 -- \
  "mosquitto_pub -p $MQTTS_PORT --cafile $WORK/ca-http.pem -t interop/tls -q 1 -m secure"
expect_eq "TLS with --cafile" "interop/tls secure" "$(cat "$WORK/out")"

# Mutual TLS, on its own port (ports.mqttsMtls): a client certificate signed by fakecloud's CA.
openssl req -new -newkey rsa:2048 -nodes -subj /CN=interop-device -keyout "$WORK/dev.key" -out "$WORK/dev.csr" 2>/dev/null
openssl x509 -req -in "$WORK/dev.csr" -CA "$CA" -CAkey "$WORK/data/tls/ca.key" -CAcreateserial -days 2 \
  -out "$WORK/dev.pem" 2>/dev/null || fail "openssl could not sign the client certificate"
sub_then_pub "$WORK/out" 1 -p "$MQTTS_MTLS_PORT" --cafile "$CA" --cert "$WORK/dev.pem" --key "$WORK/dev.key" \
  -t interop/mtls -q 2 -- \
  "mosquitto_pub -p $MQTTS_MTLS_PORT --cafile $CA --cert $WORK/dev.pem --key $WORK/dev.key -t interop/mtls -q 2 -m mutual"
expect_eq "mutual TLS with --cert/--key" "interop/mtls mutual" "$(cat "$WORK/out")"

# A self-signed client certificate is refused during the handshake.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=intruder -days 2 -keyout "$WORK/bad.key" -out "$WORK/bad.pem" 2>/dev/null
if mosquitto_pub -p "$MQTTS_MTLS_PORT" --cafile "$CA" --cert "$WORK/bad.pem" --key "$WORK/bad.key" -t interop/x -m no 2>/dev/null; then
  fail "a client certificate from another CA was accepted"
fi
echo "ok - self-signed client certificate refused"
# The server logs the failure after its alert has gone out, so the client may exit first: wait for it.
wait_grep "TLS handshake failed" "$WORK/server.log"
echo "ok - refused handshake logged"
