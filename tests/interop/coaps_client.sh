#!/usr/bin/env bash
# Interop: Debian's libcoap coap-client (libcoap3-bin, both DTLS backends: GnuTLS and OpenSSL)
# against the coaps endpoint with a device's PSK (-u identity -k key): /.well-known/core, a
# block-wise GET at 16 bytes, and the handshake failing for a wrong key and an unknown identity.
source "$(dirname "$0")/lib.sh"
require coap-client-gnutls coap-client-openssl curl od
start_fakecloud "$1"

COAPS="coaps://127.0.0.1:$COAPS_PORT"
API="http://127.0.0.1:$HTTP_PORT"
IDENTITY=meter-0001
KEY=fakecloud-psk-01  # coap-client takes the key as text; the device stores its bytes as hex
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')

curl -sf -XPOST "$API/api/v1/products" -d '{"id":"meters","dialect":"generic"}' >/dev/null || fail "create product"
curl -sf -XPOST "$API/api/v1/devices" \
  -d "{\"id\":\"m1\",\"productId\":\"meters\",\"identifiers\":{\"nodeId\":\"$IDENTITY\"},\"secrets\":{\"psk\":\"$KEY_HEX\"}}" \
  >/dev/null || fail "create device"

for client in coap-client-gnutls coap-client-openssl; do
  coaps() { timeout 20 "$client" -B 5 "$@"; }

  expect_eq "$client: /.well-known/core over DTLS" '</auth>;ct=50,</topic>;ct=50,</rd>;rt="core.rd"' \
    "$(coaps -u "$IDENTITY" -k "$KEY" "$COAPS/.well-known/core")"

  coaps -u "$IDENTITY" -k "$KEY" -v 7 -b 16 -o "$WORK/blocks.out" "$COAPS/.well-known/core" >"$WORK/blocks.log" 2>&1 \
    || fail "$client: block-wise GET failed"
  expect_eq "$client: /.well-known/core in 16-byte blocks over DTLS" '</auth>;ct=50,</topic>;ct=50,</rd>;rt="core.rd"' "$(cat "$WORK/blocks.out")"
  grep -q 'Block2:1/' "$WORK/blocks.log" || fail "$client did not fetch block 1"

  # A wrong key or an unknown identity: the handshake fails, so no answer. Each refusal is checked
  # on its own: the client ends by itself (not killed by timeout), without the resource, and the
  # server logged one more refusal of that kind for this very attempt.
  refused() {  # refused WHAT LOG_LINE coap-client options…
    local what=$1 line=$2 before rc=0 out
    shift 2
    before=$(grep -c -- "$line" "$WORK/server.log" || true)
    out=$(coaps "$@" "$COAPS/.well-known/core" 2>&1) || rc=$?
    [[ $rc -ne 124 ]] || fail "$client: $what: the client hung instead of failing the handshake"
    [[ $rc -lt 128 ]] || fail "$client: $what: the client crashed (exit $rc): $out"
    [[ $out != *'</auth>'* ]] || fail "$client: $what was answered: $out"
    for _ in $(seq 400); do
      [[ $(grep -c -- "$line" "$WORK/server.log" || true) -gt $before ]] && break
      sleep 0.05
    done
    [[ $(grep -c -- "$line" "$WORK/server.log" || true) -gt $before ]] || fail "$client: $what: the server logged no refusal"
    echo "ok - $client: $what is refused (exit $rc, logged)"
  }
  refused "a wrong key" "wrong PSK for identity '$IDENTITY'" -u "$IDENTITY" -k wrong-key-000000
  refused "an unknown identity" "unknown PSK identity 'nobody'" -u nobody -k "$KEY"
done

grep -q "DTLS session established: identity '$IDENTITY', device m1" "$WORK/server.log" || fail "no established session logged"
echo "ok - the server logged the sessions"
suites=$(grep -o "device m1, TLS_PSK_[A-Z0-9_]*" "$WORK/server.log" | sort -u | tr '\n' ' ')
echo "ok - negotiated: $suites"
