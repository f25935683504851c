#!/usr/bin/env bash
# Interop: libcoap's coap-client (libcoap3-bin) downloads firmware block-wise (-b) over coap and,
# with a device's PSK, over coaps (both DTLS backends); the bytes must have the image's sha256.
# Then curl meets the download faults: a truncated and a corrupted body (sha256 mismatch), and a
# dropped connection that curl -C - resumes to the whole image.
source "$(dirname "$0")/lib.sh"
require coap-client-gnutls coap-client-openssl curl od sha256sum
start_fakecloud "$1"

API="http://127.0.0.1:$HTTP_PORT/api/v1"
IDENTITY=fw-node-01
KEY=fakecloud-psk-02
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')

curl -sSf -XPOST "$API/products" -d '{"id":"lamp","dialect":"generic"}' >/dev/null || fail "create a product"
curl -sSf -XPOST "$API/devices" \
  -d "{\"id\":\"l1\",\"productId\":\"lamp\",\"identifiers\":{\"nodeId\":\"$IDENTITY\"},\"secrets\":{\"psk\":\"$KEY_HEX\"}}" \
  >/dev/null || fail "create a device"
FW=$(curl -sSf -XPOST -H "Content-Type: application/json" "$API/firmware" \
  -d '{"productId":"lamp","version":"2.0","name":"app","generate":{"size":100000,"seed":3}}') || fail "generate an image"
ID=$(grep -oE '"id":"[^"]+"' <<<"$FW" | cut -d'"' -f4)
SHA=$(grep -oE '"sha256":"[0-9a-f]+"' <<<"$FW" | cut -d'"' -f4)
COAP_URL=$(grep -oE '"coap":"[^"]+"' <<<"$FW" | cut -d'"' -f4)
expect_eq "the firmware's coap URL" "coap://127.0.0.1:$COAP_PORT/fw/$ID" "$COAP_URL"
OFFER=$(curl -sSf -XPOST "$API/firmware/$ID/offers" -d '{"deviceId":"l1"}') || fail "offer"
COAPS_URL=$(grep -oE '"coaps":"[^"]+"' <<<"$OFFER" | cut -d'"' -f4)

for size in 1024 64; do
  timeout 60 coap-client-openssl -B 30 -b "$size" -o "$WORK/coap-$size.bin" "$COAP_URL" 2>"$WORK/coap-$size.log" \
    || fail "coap-client -b $size: $(tail -3 "$WORK/coap-$size.log")"
  expect_eq "coap-client -b $size over coap: the sha256" "$SHA" "$(sha256sum <"$WORK/coap-$size.bin" | cut -d' ' -f1)"
done

for client in coap-client-gnutls coap-client-openssl; do
  timeout 60 "$client" -B 30 -b 512 -u "$IDENTITY" -k "$KEY" -o "$WORK/$client.bin" "$COAPS_URL" 2>"$WORK/$client.log" \
    || fail "$client over coaps: $(tail -3 "$WORK/$client.log")"
  expect_eq "$client -b 512 over coaps (the device's PSK session): the sha256" "$SHA" \
    "$(sha256sum <"$WORK/$client.bin" | cut -d' ' -f1)"
done

# The offer's downloads: two coaps transfers, each one download, both completed.
DL=$(curl -sSf "$API/firmware/$ID/downloads")
grep -q '{"bytesServed":200000,"completed":2,"deviceId":"l1","jobId":null,"ranges":0,"requests":2,"resumed":0}' <<<"$DL" \
  || fail "the offer's downloads: $DL"
echo "ok - each block-wise transfer counts as one completed download"

# --- faults seen by curl ---
URL="http://127.0.0.1:$HTTP_PORT/ota/firmware/$ID"
sum() { sha256sum <"$1" | cut -d' ' -f1; }

curl -sSf -XPUT "$API/firmware/$ID/faults" -d '{"truncateAt":40000}' >/dev/null || fail "set truncateAt"
rc=0; curl -sS -o "$WORK/truncated.bin" "$URL" 2>"$WORK/truncated.log" || rc=$?
[[ $rc -eq 18 ]] || fail "curl should report a partial transfer (18), got $rc: $(cat "$WORK/truncated.log")"
expect_eq "a truncated body has 40000 bytes" 40000 "$(stat -c %s "$WORK/truncated.bin")"
[[ $(sum "$WORK/truncated.bin") != "$SHA" ]] || fail "a truncated body matched the sha256"
echo "ok - curl sees the truncation (exit 18, sha256 mismatch)"

curl -sSf -XPUT "$API/firmware/$ID/faults" -d '{"corruptAt":77777}' >/dev/null || fail "set corruptAt"
curl -sSf -o "$WORK/corrupt.bin" "$URL" || fail "download the corrupted image"
expect_eq "a corrupted body has every byte" 100000 "$(stat -c %s "$WORK/corrupt.bin")"
[[ $(sum "$WORK/corrupt.bin") != "$SHA" ]] || fail "a corrupted body matched the sha256"
expect_eq "one byte differs" 1 "$(cmp -l "$WORK/corrupt.bin" "$WORK/coap-1024.bin" | wc -l)"
echo "ok - curl sees the corruption (sha256 mismatch, one byte)"

curl -sSf -XPUT "$API/firmware/$ID/faults" -d '{"dropConnectionAt":60000}' >/dev/null || fail "set dropConnectionAt"
rc=0; curl -sS -o "$WORK/resumed.bin" "$URL" 2>/dev/null || rc=$?
[[ $rc -ne 0 ]] || fail "the dropped download succeeded"
expect_eq "the connection drops at 60000" 60000 "$(stat -c %s "$WORK/resumed.bin")"
curl -sSf -C - -o "$WORK/resumed.bin" "$URL" || fail "curl -C - after the drop"
expect_eq "curl -C - resumes to the image" "$SHA" "$(sum "$WORK/resumed.bin")"

curl -sSf -XPUT "$API/firmware/$ID/faults" -d '{"failWith":"5.03"}' >/dev/null || fail "set failWith"
expect_eq "failWith 5.03 is 503 over HTTP" 503 "$(curl -s -o /dev/null -w '%{http_code}' "$URL")"
out=$(timeout 30 coap-client-openssl -B 10 "$COAP_URL" 2>&1 || true)
[[ $out == *"5.03"* ]] || fail "coap-client did not see 5.03: $out"
echo "ok - coap-client sees 5.03"
