#!/usr/bin/env bash
# Interop: libcoap's coap-client (libcoap3-bin) as an LwM2M client of /rd — Register, Update and
# De-register for a known and an unknown endpoint, over UDP and over DTLS-PSK with both DTLS
# backends (GnuTLS, OpenSSL) — and the device's state checked through the REST API after each step.
source "$(dirname "$0")/lib.sh"
require coap-client-gnutls coap-client-openssl curl od
start_fakecloud "$1"

API="http://127.0.0.1:$HTTP_PORT/api/v1"
KEY=fakecloud-psk-01  # coap-client takes the key as text; the device stores its bytes as hex
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')

curl -sf -XPOST "$API/products" -d '{"id":"meters","dialect":"oceanconnect"}' >/dev/null || fail "create product"
for n in 1 2 3; do
  curl -sf -XPOST "$API/devices" \
    -d "{\"id\":\"m$n\",\"productId\":\"meters\",\"identifiers\":{\"nodeId\":\"node-$n\"},\"secrets\":{\"psk\":\"$KEY_HEX\"}}" \
    >/dev/null || fail "create device m$n"
done

device() { curl -sf "$API/devices/$1"; }
online() { device "$1" | grep -o '"online":[a-z]*' | cut -d: -f2; }
transport() { device "$1" | grep -o '"transport":"[a-z]*"' | cut -d'"' -f4; }

# One CoAP request; prints coap-client's debug log, where the response's options are shown.
request() {  # request CLIENT URI [coap-client options…]
  local client=$1 uri=$2
  shift 2
  timeout 20 "$client" -B 5 -v 7 "$@" "$uri" 2>&1
}
# The response code coap-client logged for the answer (e.g. 2.01), and the Location-Path it carried.
code_of() { grep -oE '(ACK|NON|CON)\] c:[0-9]\.[0-9]{2}|c:[0-9]\.[0-9]{2}' <<<"$1" | tail -n 1 | grep -oE '[0-9]\.[0-9]{2}'; }
location_of() { grep -oE 'Location-Path:[^ ,]+' <<<"$1" | cut -d: -f2 | paste -sd/ -; }

lwm2m_cycle() {  # lwm2m_cycle LABEL CLIENT BASE_URI DEVICE_ID NODE EXPECTED_TRANSPORT [dtls options…]
  local label=$1 client=$2 base=$3 id=$4 node=$5 want=$6
  shift 6
  local out code location
  out=$(request "$client" "$base/rd?ep=$node&lt=300&lwm2m=1.0&b=U" -m post -t 40 -e '</3/0>,</19/0>,</19/1>' "$@") \
    || fail "$label: Register did not complete: $out"
  code=$(code_of "$out")
  expect_eq "$label: Register answered" "2.01" "$code"
  location=$(location_of "$out")
  [[ $location == rd/* ]] || fail "$label: no Location-Path rd/…: $out"
  expect_eq "$label: online after Register" "true" "$(online "$id")"
  expect_eq "$label: transport" "$want" "$(transport "$id")"

  out=$(request "$client" "$base/$location?lt=600" -m post "$@") || fail "$label: Update did not complete: $out"
  expect_eq "$label: Update answered" "2.04" "$(code_of "$out")"
  expect_eq "$label: online after Update" "true" "$(online "$id")"

  out=$(request "$client" "$base/$location" -m delete "$@") || fail "$label: De-register did not complete: $out"
  expect_eq "$label: De-register answered" "2.02" "$(code_of "$out")"
  expect_eq "$label: offline after De-register" "false" "$(online "$id")"

  out=$(request "$client" "$base/$location" -m delete "$@") || fail "$label: second De-register did not complete"
  expect_eq "$label: a registration that ended is 4.04" "4.04" "$(code_of "$out")"

  out=$(request "$client" "$base/rd?ep=nobody-$node&lt=300&lwm2m=1.0&b=U" -m post -t 40 -e '</3/0>' "$@") \
    || fail "$label: Register of an unknown endpoint did not complete: $out"
  expect_eq "$label: an unknown endpoint is refused" "4.03" "$(code_of "$out")"
}

lwm2m_cycle "UDP" coap-client-openssl "coap://127.0.0.1:$COAP_PORT" m1 node-1 coap
lwm2m_cycle "DTLS-PSK (GnuTLS)" coap-client-gnutls "coaps://127.0.0.1:$COAPS_PORT" m2 node-2 coaps -u node-2 -k "$KEY"
lwm2m_cycle "DTLS-PSK (OpenSSL)" coap-client-openssl "coaps://127.0.0.1:$COAPS_PORT" m3 node-3 coaps -u node-3 -k "$KEY"

grep -q "node-1" "$WORK/server.log" || fail "the registrations were not logged"
journal=$(curl -sf "$API/devices/m2/journal")
[[ $journal == *'"transport":"coaps"'* ]] || fail "the DTLS registration is not journaled as coaps: $journal"
echo "ok - the journal has the DTLS exchanges as coaps"
