#!/usr/bin/env bash
# Interop: an OceanConnect application as curl sees it — login (form), the app_key + Bearer headers,
# deviceCredentials, deviceCommands create / list / cancel, the command callback received by a
# small Python HTTP server, and the device queried and deleted.
source "$(dirname "$0")/lib.sh"
require curl /usr/bin/python3
start_fakecloud "$1"

HTTP="http://127.0.0.1:$HTTP_PORT"
json_field() {  # json_field FIELD < json — a top-level field as text
  /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print(v if isinstance(v,str) else json.dumps(v))' "$1"
}

# The callback receiver: appends each POSTed body as one line to $WORK/callbacks.
cat >"$WORK/receiver.py" <<'EOF'
import http.server, sys
out = sys.argv[1]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
open(out + ".port", "w").write(str(server.server_port))
server.serve_forever()
EOF
/usr/bin/python3 "$WORK/receiver.py" "$WORK/callbacks" &
RECEIVER_PID=$!
trap 'kill $RECEIVER_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do [[ -s "$WORK/callbacks.port" ]] && break; sleep 0.05; done
[[ -s "$WORK/callbacks.port" ]] || fail "the callback receiver did not start"
CALLBACK="http://127.0.0.1:$(cat "$WORK/callbacks.port")/cb"

curl -sSf -XPOST "$HTTP/api/v1/products" \
  -d '{"id":"meters","dialect":"oceanconnect","keys":{"appId":"meter-app","appSecret":"app-secret"}}' >/dev/null \
  || fail "create the oceanconnect product"

expect_eq "a wrong secret: 400 100208" '400 100208' \
  "$(curl -s -w '%{http_code} ' -o "$WORK/bad" -XPOST "$HTTP/iocm/app/sec/v1.1.0/login" \
       --data-urlencode appId=meter-app --data-urlencode secret=nope)$(json_field error_code <"$WORK/bad")"
LOGIN=$(curl -sSf -XPOST "$HTTP/iocm/app/sec/v1.1.0/login" --data-urlencode appId=meter-app --data-urlencode secret=app-secret) \
  || fail "login"
TOKEN=$(json_field accessToken <<<"$LOGIN")
expect_eq "the token lives an hour" 3600 "$(json_field expiresIn <<<"$LOGIN")"
AUTH=(-H "app_key: meter-app" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")

expect_eq "no token: 401 1010005" '401 1010005' \
  "$(curl -s -w '%{http_code} ' -o "$WORK/bad" "$HTTP/iocm/app/cmd/v1.4.0/deviceCommands")$(json_field error_code <"$WORK/bad")"

REG=$(curl -sSf "${AUTH[@]}" -XPOST "$HTTP/iocm/app/reg/v1.1.0/deviceCredentials" \
  -d '{"nodeId":"863703030000001","verifyCode":"863703030000001","timeout":0,"deviceInfo":{"name":"meter 1"}}') \
  || fail "deviceCredentials"
DEVICE=$(json_field deviceId <<<"$REG")
expect_eq "the registered device carries the nodeId" '"863703030000001"' \
  "$(curl -sSf "$HTTP/api/v1/devices/$DEVICE" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["identifiers"]["nodeId"]))')"
[[ $(json_field psk <<<"$REG") =~ ^[0-9a-f]{32}$ ]] || fail "the generated psk is not 16 bytes of hex: $REG"
echo "ok - a psk was generated"

CMD=$(curl -sSf "${AUTH[@]}" -XPOST "$HTTP/iocm/app/cmd/v1.4.0/deviceCommands" \
  -d "{\"deviceId\":\"$DEVICE\",\"command\":{\"serviceId\":\"RawData\",\"method\":\"RawData\",\"paras\":{\"rawData\":\"AQI=\"}},\"expireTime\":600,\"callbackUrl\":\"$CALLBACK\"}") \
  || fail "create a command"
COMMAND=$(json_field commandId <<<"$CMD")
expect_eq "the command is cached for the offline device" PENDING "$(json_field status <<<"$CMD")"
[[ $(json_field creationTime <<<"$CMD") =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || fail "creationTime is not yyyyMMdd'T'HHmmss'Z': $CMD"
echo "ok - creationTime in Huawei's format"
expect_eq "it is listed" 1 \
  "$(curl -sSf "${AUTH[@]}" "$HTTP/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=$DEVICE&pageNo=0&pageSize=10" \
       | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pagination"]["totalSize"])')"
expect_eq "it is canceled" CANCELED \
  "$(curl -sSf "${AUTH[@]}" -XPUT "$HTTP/iocm/app/cmd/v1.4.0/deviceCommands/$COMMAND" -d '{"status":"CANCELED"}' | json_field status)"
expect_eq "a second cancel: 400 100435" '400 100435' \
  "$(curl -s -w '%{http_code} ' -o "$WORK/bad" "${AUTH[@]}" -XPUT "$HTTP/iocm/app/cmd/v1.4.0/deviceCommands/$COMMAND" \
       -d '{"status":"CANCELED"}')$(json_field error_code <"$WORK/bad")"

for _ in $(seq 100); do [[ $(wc -l <"$WORK/callbacks" 2>/dev/null || echo 0) -ge 2 ]] && break; sleep 0.05; done
expect_eq "the callbacks: PENDING then CANCELED" 'PENDING CANCELED' \
  "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(json.loads(l)["result"]["resultCode"] for l in open(sys.argv[1])))' "$WORK/callbacks")"

expect_eq "the device is queried, offline" OFFLINE \
  "$(curl -sSf "${AUTH[@]}" "$HTTP/iocm/app/dm/v1.4.0/devices/$DEVICE" \
       | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["deviceInfo"]["status"])')"
expect_eq "and deleted" 204 \
  "$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" -XDELETE "$HTTP/iocm/app/dm/v1.4.0/devices/$DEVICE")"
expect_eq "then it is gone" '404 100403' \
  "$(curl -s -w '%{http_code} ' -o "$WORK/bad" "${AUTH[@]}" "$HTTP/iocm/app/dm/v1.4.0/devices/$DEVICE")$(json_field error_code <"$WORK/bad")"
