#!/usr/bin/env bash
# Interop: python3-paho-mqtt against fakecloud (see paho_clients.py).
source "$(dirname "$0")/lib.sh"
# Debian's interpreter, where python3-paho-mqtt is installed (a pyenv python3 earlier on PATH would not see it).
require /usr/bin/python3
start_fakecloud "$1"
/usr/bin/python3 "$(dirname "$0")/paho_clients.py" "$MQTT_PORT" "$MQTTS_PORT" "$CA" "$HTTP_PORT" || fail "paho checks"
