#!/usr/bin/env bash
# Interop: curl as GService's device client, and Debian's mosquitto_pub / mosquitto_sub speaking
# MQTT 3.1 (-V mqttv31, protocol name MQIsdp) as a Gizwits GAgent device with hand-built frames
# (../shared/protocols/gizwits.md): register, provision, pass-through both ways, the online app count,
# a device log, and the CONNACK codes of refused logins.
source "$(dirname "$0")/lib.sh"
require mosquitto_pub mosquitto_sub curl
start_fakecloud "$1"

API="http://127.0.0.1:$HTTP_PORT"
PK=6f3074fe43894547a4f1314bd7e3ae0b
PASSCODE=PASSCODE01

curl -sf -XPOST "$API/api/v1/products" -d "{\"id\":\"plug\",\"dialect\":\"gizwits\",\"keys\":{\"productKey\":\"$PK\"}}" \
  >/dev/null || fail "create product"

# Register (201 did=<22>), then again: the same DID.
reg=$(curl -s -w ' %{http_code}' -XPOST "$API/dev/devices" -d "passcode=$PASSCODE&mac=a0b1c2d3e4f5&product_key=$PK")
[[ $reg =~ ^did=([A-Za-z0-9]{22})\ 201$ ]] || fail "register answered [$reg]"
DID=${BASH_REMATCH[1]}
echo "ok - registered as $DID"
expect_eq "registering again" "did=$DID 201" \
  "$(curl -s -w ' %{http_code}' -XPOST "$API/dev/devices" -d "passcode=$PASSCODE&mac=a0b1c2d3e4f5&product_key=$PK")"

# Provision: host and port of M2M, an '&' right after the port.
prov=$(curl -sf "$API/dev/devices/$DID" -H "Host: api.gizwits.com") || fail "provision"
[[ $prov == "host=api.gizwits.com&port=$MQTT_PORT&server_ts="*"&biz_log=0&sys_log=0" ]] || fail "provision answered [$prov]"
echo "ok - provision: $prov"

login=(-V mqttv31 -p "$MQTT_PORT" -i "$DID" -u "$DID" -P "$PASSCODE")

# The device listens as GAgent does; the API pushes an app count and sends a pass-through command.
timeout 20 mosquitto_sub "${login[@]}" -t "ser2cli_res/$DID" -t "app2dev/$DID/#" -C 2 -F '%t %x' \
  >"$WORK/sub" 2>"$WORK/sub.err" &
sub=$!
wait_stat subscriptions 2
curl -sf -XPUT "$API/api/v1/devices/$DID/gizwits/apps" -d '{"count":3}' >/dev/null || fail "set the app count"
wait_grep "^ser2cli_res/$DID " "$WORK/sub"
curl -sf -XPOST "$API/api/v1/devices/$DID/commands" -d '{"name":"@app7","payloadBase64":"qrs="}' >/dev/null \
  || fail "send a command"
wait "$sub" || fail "mosquitto_sub ended badly: $(cat "$WORK/sub" "$WORK/sub.err")"
# 0x0210 count 3: 00000003 0210 0003;  0x0090 aabb: 00000003 05 00 0090 aabb
expect_eq "app count push" "ser2cli_res/$DID 0000000302100003" "$(sed -n 1p "$WORK/sub")"
expect_eq "pass-through command (0x0090)" "app2dev/$DID/app7 0000000305000090aabb" "$(sed -n 2p "$WORK/sub")"

# The device publishes a 0x0091 pass-through and a 0x0012 log, hand-built.
printf '\x00\x00\x00\x03\x06\x00\x00\x91\x01\x02\x03' >"$WORK/p0"
mosquitto_pub "${login[@]}" -t "dev2app/$DID/app7" -f "$WORK/p0" || fail "publish 0x0091"
printf '\x00\x00\x00\x03\x10\x00\x00\x12\x02\x00\x03net\x00\x01M\x00\x02ok' >"$WORK/log"
mosquitto_pub "${login[@]}" -t "dev2app/$DID" -f "$WORK/log" || fail "publish 0x0012"
for _ in $(seq 100); do
  msgs=$(curl -sf "$API/api/v1/devices/$DID/messages")
  logs=$(curl -sf "$API/api/v1/devices/$DID/logs")
  [[ $msgs == *'"payloadBase64":"AQID"'* && $logs == *'"content":"ok"'* ]] && break
  sleep 0.1
done
[[ $msgs == *"\"topic\":\"dev2app/$DID/app7\""* && $msgs == *'"payloadBase64":"AQID"'* ]] || fail "0x0091 not in the history: $msgs"
echo "ok - 0x0091 in the uplink history with its app client id"
[[ $logs == *'"level":2'* && $logs == *'"tag":"net"'* && $logs == *'"source":"M"'* ]] || fail "0x0012 not in the logs: $logs"
echo "ok - 0x0012 in the device's log"

# Refused logins: a wrong passcode is 0x04, an unknown DID 0x02.
out=$(mosquitto_pub -V mqttv31 -p "$MQTT_PORT" -i "$DID" -u "$DID" -P WRONGWRONG -t "dev2app/$DID" -m x 2>&1 || true)
[[ $out == *"bad user name or password"* ]] || fail "wrong passcode: $out"
echo "ok - wrong passcode: CONNACK 0x04"
out=$(mosquitto_pub -V mqttv31 -p "$MQTT_PORT" -i unknownDid000000000000 -u unknownDid000000000000 -P x -t t -m x 2>&1 || true)
[[ $out == *"identifier rejected"* ]] || fail "unknown DID: $out"
echo "ok - unknown DID: CONNACK 0x02"

# Deregister: the device is gone.
expect_eq "deregister" "200" "$(curl -s -o /dev/null -w '%{http_code}' -XDELETE "$API/dev/devices" -d "did=$DID&passcode=$PASSCODE")"
expect_eq "device gone" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$API/api/v1/devices/$DID")"
