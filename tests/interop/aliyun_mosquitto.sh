#!/usr/bin/env bash
# Interop: Debian's mosquitto_pub / mosquitto_sub and curl signing in as an Alibaba (aliyun) device,
# with the password computed by `openssl dgst -hmac` exactly as ../shared/protocols/aliyun.md says.
source "$(dirname "$0")/lib.sh"
require mosquitto_pub mosquitto_sub openssl curl
start_fakecloud "$1"

PK=a1MZxOdcBnO
DN=test_01
SECRET=t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56
TS=2524608000000
API="http://127.0.0.1:$HTTP_PORT"

curl -sf -XPOST "$API/api/v1/products" -d "{\"id\":\"light\",\"dialect\":\"aliyun\",\"keys\":{\"productKey\":\"$PK\"}}" >/dev/null \
  || fail "create product"
curl -sf -XPOST "$API/api/v1/devices" \
  -d "{\"id\":\"lamp\",\"productId\":\"light\",\"identifiers\":{\"deviceName\":\"$DN\"},\"secrets\":{\"deviceSecret\":\"$SECRET\"}}" \
  >/dev/null || fail "create device"

hmac() {  # hmac ALG CONTENT → lowercase hex
  printf '%s' "$2" | openssl dgst "-$1" -hmac "$SECRET" | sed 's/^.*= //'
}
# Client id prefix ID, sign method ALG → the three MQTT credentials as mosquitto arguments.
login() {  # login ID ALG
  local id=$1 alg=$2
  local password
  password=$(hmac "$alg" "clientId${id}deviceName${DN}productKey${PK}timestamp${TS}")
  echo "-i ${id}|securemode=3,signmethod=hmac${alg},timestamp=${TS}| -u ${DN}&${PK} -P ${password}"
}

# The worked example of the protocol notes, computed by openssl.
expect_eq "openssl computes the worked example" "d8b19bb8f07df191ef73a0e868a4b65373017f1f" \
  "$(hmac sha1 "clientId${PK}.${DN}deviceName${DN}productKey${PK}timestamp${TS}")"

# Property post → the exact _reply, seen by a second connection of the same device.
SYS="/sys/$PK/$DN"
# shellcheck disable=SC2046
timeout 20 mosquitto_sub -p "$MQTT_PORT" $(login "$PK.$DN-sub" sha256) -t "$SYS/thing/event/property/post_reply" -C 1 \
  >"$WORK/reply" 2>"$WORK/reply.err" &
sub=$!
wait_stat subscriptions 1
# shellcheck disable=SC2046
mosquitto_pub -p "$MQTT_PORT" -q 1 $(login "$PK.$DN" sha1) -t "$SYS/thing/event/property/post" \
  -m '{"id":"2","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}' \
  || fail "mosquitto_pub as the device was refused"
wait "$sub" || fail "no property post reply: $(cat "$WORK/reply" "$WORK/reply.err")"
expect_eq "property post reply" '{"code":200,"data":{},"id":"2","message":"success"}' "$(cat "$WORK/reply")"

history=$(curl -sf "$API/api/v1/devices/lamp/messages")
[[ $history == *'"LightSwitch":1'* ]] || fail "the property post is not in the uplink history: $history"
echo "ok - property post kept in the uplink history"

# md5 signs in too; a wrong secret is CONNACK 0x04.
# shellcheck disable=SC2046
mosquitto_pub -p "$MQTT_PORT" $(login "$PK.$DN" md5) -t "/$PK/$DN/update" -m hi || fail "hmacmd5 login refused"
echo "ok - hmacmd5 login"
# A refused password is CONNACK 0x04 "bad user name or password" (docs/dialects/aliyun.md), never 0x05.
refused() {  # refused WHAT PASSWORD
  local out
  if out=$(mosquitto_pub -p "$MQTT_PORT" -i "$PK.$DN|securemode=3,signmethod=hmacsha1,timestamp=$TS|" -u "$DN&$PK" \
    -P "$2" -t "/$PK/$DN/update" -m no 2>&1); then
    fail "$1 was accepted"
  fi
  [[ $out == *"bad user name or password"* ]] || fail "$1: not CONNACK 0x04 but: $out"
  echo "ok - $1 refused with CONNACK 0x04"
}
accepted() {  # accepted WHAT PASSWORD
  mosquitto_pub -p "$MQTT_PORT" -i "$PK.$DN|securemode=3,signmethod=hmacsha1,timestamp=$TS|" -u "$DN&$PK" \
    -P "$2" -t "/$PK/$DN/update" -m yes || fail "$1 was refused"
  echo "ok - $1 accepted"
}
good=$(hmac sha1 "clientId${PK}.${DN}deviceName${DN}productKey${PK}timestamp${TS}")
refused "a wrong signature" 0000000000000000000000000000000000000000
refused "the signature followed by one more character" "${good}0"
refused "the signature twice" "${good}${good}"
refused "the signature truncated by one character" "${good:0:39}"
refused "the signature truncated to half" "${good:0:20}"
refused "an empty password" ""
accepted "the signature in upper case" "${good^^}"
grep -q "wrong signature" "$WORK/server.log" || fail "the refusal was not logged"
echo "ok - refusal logged"

# HTTP device channel with curl: /auth, then /topic with "password:" and no space.
sign=$(hmac sha1 "clientId${PK}.${DN}deviceName${DN}productKey${PK}")
auth=$(curl -sf -XPOST "$API/auth" -H 'Content-Type: application/json' \
  -d "{\"version\":\"default\",\"clientId\":\"$PK.$DN\",\"signmethod\":\"hmacsha1\",\"sign\":\"$sign\",\"productKey\":\"$PK\",\"deviceName\":\"$DN\"}")
token=$(sed -E 's/.*"token":"([^"]+)".*/\1/' <<<"$auth")
[[ $auth == *'"code":0'* && -n $token ]] || fail "HTTP /auth: $auth"
echo "ok - HTTP channel /auth"
sent=$(curl -sf -XPOST "$API/topic/$PK/$DN/user/update" -H "password:$token" -H 'Content-Type: application/octet-stream' \
  --data-binary '{"temp":20}')
[[ $sent == *'"code":0'* && $sent == *'"messageId":'* ]] || fail "HTTP /topic: $sent"
echo "ok - HTTP channel /topic"
# /auth with the sign extended, truncated or empty: refused; in upper case: accepted.
auth_with() {  # auth_with SIGN → the /auth answer
  curl -s -XPOST "$API/auth" -H 'Content-Type: application/json' \
    -d "{\"version\":\"default\",\"clientId\":\"$PK.$DN\",\"signmethod\":\"hmacsha1\",\"sign\":\"$1\",\"productKey\":\"$PK\",\"deviceName\":\"$DN\"}"
}
for wrong in "${sign}0" "${sign}${sign}" "${sign:0:39}"; do
  answer=$(auth_with "$wrong")
  [[ $answer == *'"code":20000'* && $answer != *'"token"'* ]] || fail "HTTP /auth with sign [$wrong] gave: $answer"
done
echo "ok - HTTP channel /auth refuses a sign extended or truncated (20000)"
answer=$(auth_with "")
[[ $answer == *'"code":10001'* && $answer != *'"token"'* ]] || fail "HTTP /auth with an empty sign gave: $answer"
echo "ok - HTTP channel /auth refuses an empty sign as missing (10001)"
answer=$(auth_with "${sign^^}")
[[ $answer == *'"code":0'* && $answer == *'"token"'* ]] || fail "HTTP /auth with an upper-case sign: $answer"
echo "ok - HTTP channel /auth accepts an upper-case sign"
bad=$(curl -sf -XPOST "$API/topic/$PK/$DN/user/update" -H "password:nope" --data-binary x)
[[ $bad == *'"code":20001'* ]] || fail "a bad token gave: $bad"
echo "ok - HTTP channel bad token is 20001"
