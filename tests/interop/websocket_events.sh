#!/usr/bin/env bash
# Interop: python3-websockets against the event stream (see websocket_events.py).
source "$(dirname "$0")/lib.sh"
# Debian's interpreter, where python3-websockets is installed (a pyenv python3 earlier on PATH would not see it).
require /usr/bin/python3 mosquitto_pub
start_fakecloud "$1"
/usr/bin/python3 "$(dirname "$0")/websocket_events.py" "$HTTP_PORT" "$MQTT_PORT" || fail "websocket checks"
