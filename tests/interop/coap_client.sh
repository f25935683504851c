#!/usr/bin/env bash
# Interop: Debian's libcoap coap-client-notls against the CoAP endpoint: /.well-known/core, a
# block-wise GET at 16 bytes, and the aliyun CoAP channel (/auth signed by `openssl dgst -hmac`,
# then /topic/... with the token in option 2088) landing in the uplink history.
source "$(dirname "$0")/lib.sh"
require coap-client-notls openssl curl
start_fakecloud "$1"

COAP="coap://127.0.0.1:$COAP_PORT"
API="http://127.0.0.1:$HTTP_PORT"
PK=a1MZxOdcBnO
DN=test_01
SECRET=t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56
coap() { timeout 20 coap-client-notls -B 5 "$@"; }

expect_eq "/.well-known/core" '</auth>;ct=50,</topic>;ct=50,</rd>;rt="core.rd"' "$(coap "$COAP/.well-known/core")"

# Block-wise: 16-byte blocks, the same document; the client's log shows it asked for block 1.
coap -v 7 -b 16 -o "$WORK/blocks.out" "$COAP/.well-known/core" >"$WORK/blocks.log" 2>&1 || fail "block-wise GET failed"
expect_eq "/.well-known/core in 16-byte blocks" '</auth>;ct=50,</topic>;ct=50,</rd>;rt="core.rd"' "$(cat "$WORK/blocks.out")"
grep -q 'Block2:1/' "$WORK/blocks.log" || fail "coap-client did not fetch block 1: $(grep -c Block2 "$WORK/blocks.log") Block2 lines"
echo "ok - the download took several blocks"

curl -sf -XPOST "$API/api/v1/products" -d "{\"id\":\"light\",\"dialect\":\"aliyun\",\"keys\":{\"productKey\":\"$PK\"}}" >/dev/null \
  || fail "create product"
curl -sf -XPOST "$API/api/v1/devices" \
  -d "{\"id\":\"lamp\",\"productId\":\"light\",\"identifiers\":{\"deviceName\":\"$DN\"},\"secrets\":{\"deviceSecret\":\"$SECRET\"}}" \
  >/dev/null || fail "create device"

# iotkit-embedded's IOT_CoAP_DeviceNameAuth: hmac-md5 over clientId{pk}.{dn}deviceName{dn}productKey{pk}.
SIGN=$(printf '%s' "clientId$PK.${DN}deviceName${DN}productKey$PK" | openssl dgst -md5 -hmac "$SECRET" | sed 's/^.*= //')
AUTH="{\"productKey\":\"$PK\",\"deviceName\":\"$DN\",\"clientId\":\"$PK.$DN\",\"sign\":\"$SIGN\"}"
answer=$(coap -m post -t 50 -A 50 -e "$AUTH" "$COAP/auth") || fail "/auth failed"
TOKEN=$(printf '%s' "$answer" | sed -nE 's/.*"token":"([^"]+)".*/\1/p')
[[ -n "$TOKEN" ]] || fail "no token in the /auth answer: $answer"
echo "ok - /auth answered a token"

POST='{"id":"3","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}'
coap -m post -t 50 -O "2088,$TOKEN" -e "$POST" "$COAP/topic/sys/$PK/$DN/thing/event/property/post" \
  >"$WORK/publish.out" 2>&1 || fail "/topic publish failed: $(cat "$WORK/publish.out")"
history=$(curl -sf "$API/api/v1/devices/lamp/messages")
[[ $history == *'"transport":"coap"'* && $history == *'"LightSwitch":1'* ]] \
  || fail "the CoAP publish is not in the uplink history: $history"
echo "ok - the CoAP publish is in the uplink history"

# A wrong token is 4.01, and nothing more lands.
coap -m post -t 50 -O "2088,not-a-token" -e "$POST" "$COAP/topic/sys/$PK/$DN/thing/event/property/post" \
  >"$WORK/forged.out" 2>&1 || true
grep -q '4\.01' "$WORK/forged.out" || fail "a forged token was not refused with 4.01: $(cat "$WORK/forged.out")"
echo "ok - forged token refused with 4.01"
count=$(curl -sf "$API/api/v1/devices/lamp/messages" | grep -o '"transport":"coap"' | wc -l)
expect_eq "uplinks after the forged publish" 1 "$count"

# LwM2M: a refused Register is in the journal of the device its ep names (4.12 for lwm2m=1.2), and
# an accepted one shows the version and binding the client used (LwM2M 1.1: b=U plus the bare Q).
curl -sf -XPOST "$API/api/v1/products" -d '{"id":"meter","dialect":"oceanconnect"}' >/dev/null || fail "create meter product"
curl -sf -XPOST "$API/api/v1/devices" -d '{"id":"meter-1","productId":"meter"}' >/dev/null || fail "create meter-1"
coap -m post -t 40 -e '</3/0>' "$COAP/rd?ep=meter-1&lwm2m=1.2" >"$WORK/rd12.out" 2>&1 || true
grep -q '4\.12' "$WORK/rd12.out" || fail "lwm2m=1.2 was not refused with 4.12: $(cat "$WORK/rd12.out")"
journal=$(curl -sf "$API/api/v1/devices/meter-1/journal")
[[ $journal == *'POST /rd?ep=meter-1&lwm2m=1.2'* && $journal == *'4.12 Precondition Failed'* ]] \
  || fail "the refused Register is not in meter-1's journal: $journal"
echo "ok - the refused Register (4.12) is journaled"
coap -m post -t 40 -e '</3/0>' "$COAP/rd?ep=meter-1&lwm2m=1.1&b=U&Q&lt=300" >"$WORK/rd11.out" 2>&1 \
  || fail "Register with lwm2m=1.1 failed: $(cat "$WORK/rd11.out")"
registration=$(curl -sf "$API/api/v1/devices/meter-1/lwm2m") || fail "no registration for meter-1"
[[ $registration == *'"version":"1.1"'* && $registration == *'"binding":"UQ"'* && $registration == *'"queueMode":true'* \
   && $registration == *'"lifetime":300'* ]] || fail "the registration does not show what the client sent: $registration"
echo "ok - the registration shows lwm2m=1.1, b=U with Q, lt=300"
