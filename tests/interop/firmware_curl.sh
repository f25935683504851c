#!/usr/bin/env bash
# Interop: curl uploads a firmware image as the raw body (with Expect: 100-continue, as curl sends
# for large bodies), downloads it over HTTP and HTTPS, asks for ranges, resumes a cut download with
# -C -, and reads the headers with HEAD (-I).
source "$(dirname "$0")/lib.sh"
require curl sha256sum head cmp
start_fakecloud "$1"

API="http://127.0.0.1:$HTTP_PORT/api/v1"
curl -sSf -XPOST "$API/products" -d '{"id":"lamp","dialect":"generic"}' >/dev/null || fail "create a product"
head -c 3000000 /dev/urandom >"$WORK/image.bin"
SHA=$(sha256sum "$WORK/image.bin" | cut -d' ' -f1)

# --data-binary of 3 MB: curl sends "Expect: 100-continue" and waits for the 100 before the body.
UPLOAD=$(curl -sS -w '\n%{http_code}' -XPOST -H 'Content-Type: application/octet-stream' \
  --data-binary @"$WORK/image.bin" "$API/firmware?productId=lamp&version=1.2.3&name=app&sha256=$SHA")
expect_eq "upload answers 201" 201 "$(tail -n 1 <<<"$UPLOAD")"
expect_eq "the upload's sha256" "$SHA" "$(head -n 1 <<<"$UPLOAD" | grep -oE '"sha256":"[0-9a-f]+"' | cut -d'"' -f4)"
ID=$(head -n 1 <<<"$UPLOAD" | grep -oE '"id":"[^"]+"' | cut -d'"' -f4)
URL="http://127.0.0.1:$HTTP_PORT/ota/firmware/$ID"

curl -sSf -o "$WORK/whole.bin" "$URL" || fail "download"
cmp -s "$WORK/image.bin" "$WORK/whole.bin" || fail "the download differs from the upload"
echo "ok - a whole download is the image"

curl -sSf --cacert "$CA" -o "$WORK/tls.bin" "https://localhost:$HTTPS_PORT/ota/firmware/$ID" || fail "HTTPS download"
cmp -s "$WORK/image.bin" "$WORK/tls.bin" || fail "the HTTPS download differs from the upload"
echo "ok - a whole download over HTTPS is the image"

expect_eq "a range answers 206" 206 "$(curl -s -o "$WORK/range.bin" -w '%{http_code}' -r 1000-1999 "$URL")"
cmp -s "$WORK/range.bin" <(head -c 2000 "$WORK/image.bin" | tail -c 1000) || fail "the range's bytes"
echo "ok - the range's bytes"
expect_eq "a range past the end answers 416" 416 "$(curl -s -o /dev/null -w '%{http_code}' -r 5000000- "$URL")"

# Resume: the first megabyte as a cut download, then curl -C - asks for the rest.
head -c 1000000 "$WORK/image.bin" >"$WORK/resumed.bin"
curl -sSf -C - -o "$WORK/resumed.bin" "$URL" || fail "resume with -C -"
cmp -s "$WORK/image.bin" "$WORK/resumed.bin" || fail "the resumed download differs from the image"
echo "ok - curl -C - resumes to the whole image"
curl -sSf -C - --cacert "$CA" -o "$WORK/resumed.bin" "https://localhost:$HTTPS_PORT/ota/firmware/$ID" 2>/dev/null || true
cmp -s "$WORK/image.bin" "$WORK/resumed.bin" || fail "resuming a finished download changed it"

HEAD=$(curl -sSf -I "$URL" | tr -d '\r')
expect_eq "HEAD: Content-Length" "content-length: 3000000" "$(grep -i '^content-length' <<<"$HEAD" | tr 'A-Z' 'a-z')"
expect_eq "HEAD: the ETag is the sha256" "etag: \"$SHA\"" "$(grep -i '^etag' <<<"$HEAD" | sed 's/^[Ee][Tt][Aa][Gg]/etag/')"
expect_eq "HEAD: ranges accepted" "accept-ranges: bytes" "$(grep -i '^accept-ranges' <<<"$HEAD" | tr 'A-Z' 'a-z')"
expect_eq "HEAD sends no body" 0 "$(curl -s -I -o /dev/null -w '%{size_download}' "$URL")"

expect_eq "an unknown product is refused" 422 "$(curl -s -o /dev/null -w '%{http_code}' -XPOST \
  --data-binary @"$WORK/image.bin" "$API/firmware?productId=none&version=1&name=a")"
expect_eq "the server is still up" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")"
