#!/usr/bin/env bash
# Interop: curl against the REST API over HTTPS (verifying the local CA), and the bearer token the
# API demands when fakecloud is bound beyond loopback.
source "$(dirname "$0")/lib.sh"
require curl
start_fakecloud "$1"

HTTPS="https://localhost:$HTTPS_PORT"
expect_eq "HTTPS health with the local CA" '{"status":"ok"}' "$(curl -sS --cacert "$CA" "$HTTPS/healthz")"
curl -sSf --cacert "$CA" -XPOST "$HTTPS/api/v1/products" -d '{"id":"lamp","dialect":"generic"}' >/dev/null \
  || fail "create a product over HTTPS"
expect_eq "the product is there over plain HTTP too" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/api/v1/products/lamp")"
expect_eq "an untrusted certificate is refused by curl" 60 \
  "$(curl -s -o /dev/null "$HTTPS/healthz"; echo $?)"

kill "$FC_PID"; wait "$FC_PID" 2>/dev/null || true
rm -f "$WORK/ports.json"
start_fakecloud "$1" --bind 0.0.0.0
TOKEN=$(sed -nE "s/.*this run's token: ([A-Za-z0-9]+).*/\1/p" "$WORK/server.log")
[[ ${#TOKEN} -eq 32 ]] || fail "no generated token in the log"
API="http://127.0.0.1:$HTTP_PORT/api/v1"
expect_eq "no token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$API/devices")"
expect_eq "the challenge names the scheme" 'www-authenticate: Bearer realm="fakecloud"' \
  "$(curl -s -D - -o /dev/null "$API/devices" | tr -d '\r' | grep -i '^www-authenticate' | sed 's/^[Ww][Ww][Ww]-[Aa]uthenticate/www-authenticate/')"
expect_eq "wrong token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$API/devices")"
expect_eq "the token: 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$API/devices")"
expect_eq "over HTTPS with curl's --oauth2-bearer" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" --oauth2-bearer "$TOKEN" "https://localhost:$HTTPS_PORT/api/v1/devices")"
expect_eq "health needs no token" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/healthz")"
