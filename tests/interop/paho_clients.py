#!/usr/bin/python3
"""Interop: Debian's python3-paho-mqtt (1.6) against fakecloud, as MQTT 3.1 and 3.1.1 clients.

Usage: paho_clients.py MQTT_PORT MQTTS_PORT CA_FILE HTTP_PORT
Exits non-zero on the first failed check; prints one "ok - …" line per check.
"""
import json
import queue
import ssl
import sys
import time
import urllib.request

try:
    import paho.mqtt.client as mqtt
except ImportError:
    sys.exit("FAIL: python3-paho-mqtt is missing (run scripts/install-deps)")

PORT, TLS_PORT, CA, HTTP_PORT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
TIMEOUT = 5


def fail(message):
    sys.exit("FAIL: " + message)


class Client:
    """A paho client with a message queue and blocking helpers."""

    def __init__(self, client_id, protocol, clean_session=True, port=PORT, tls=False):
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = queue.Queue()
        self.client = mqtt.Client(client_id=client_id, clean_session=clean_session, protocol=protocol)
        self.client.on_connect = lambda c, u, flags, rc: self.connacks.put((flags.get("session present", 0), rc))
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_subscribe = lambda c, u, mid, granted: self.subacks.put(granted)
        if tls:
            self.client.tls_set(ca_certs=CA, cert_reqs=ssl.CERT_REQUIRED)
        self.port = port

    def connect(self, will=None):
        if will:
            self.client.will_set(*will)
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        try:
            return self.connacks.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("no CONNACK")

    def subscribe(self, topic, qos):
        self.client.subscribe(topic, qos)
        try:
            return self.subacks.get(timeout=TIMEOUT)
        except queue.Empty:
            fail("no SUBACK for " + topic)

    def publish(self, topic, payload, qos, retain=False):
        info = self.client.publish(topic, payload, qos, retain)
        info.wait_for_publish()
        if not info.is_published():
            fail("publish to %s not acknowledged" % topic)

    def receive(self, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def kill(self):
        """Drop the socket without DISCONNECT, so that the server publishes the will."""
        self.client.loop_stop()
        self.client.socket().close()


def check(what, condition):
    if not condition:
        fail(what)
    print("ok - " + what)


for name, protocol in (("3.1", mqtt.MQTTv31), ("3.1.1", mqtt.MQTTv311)):
    tag = name.replace(".", "")
    sub = Client("paho-sub-" + tag, protocol)
    check(name + " CONNACK accepted", sub.connect()[1] == 0)
    check(name + " SUBACK grants QoS 2", sub.subscribe("paho/%s/#" % tag, 2) == (2,))
    pub = Client("paho-pub-" + tag, protocol)
    pub.connect()
    for qos in (0, 1, 2):
        pub.publish("paho/%s/q%d" % (tag, qos), b"payload-%d" % qos, qos)
        m = sub.receive()
        check("%s QoS %d round trip" % (name, qos),
              m is not None and m.payload == b"payload-%d" % qos and m.qos == qos)

    pub.publish("paho/%s/retained" % tag, b"kept", 1, retain=True)
    sub.receive()
    late = Client("paho-late-" + tag, protocol)
    late.connect()
    late.subscribe("paho/%s/retained" % tag, 1)
    m = late.receive()
    check(name + " retained delivered with retain flag", m is not None and m.payload == b"kept" and m.retain)

    dying = Client("paho-dying-" + tag, protocol)
    dying.connect(will=("paho/%s/will" % tag, b"gone", 1, False))
    dying.kill()
    m = sub.receive()
    check(name + " will published", m is not None and m.topic == "paho/%s/will" % tag and m.payload == b"gone")

    # Persistent session: messages published while offline arrive on reconnect.
    durable = Client("paho-durable-" + tag, protocol, clean_session=False)
    durable.connect()
    durable.subscribe("paho/%s/durable" % tag, 1)
    durable.disconnect()
    for i in range(3):
        pub.publish("paho/%s/durable" % tag, b"offline-%d" % i, 1)
    durable = Client("paho-durable-" + tag, protocol, clean_session=False)
    present, rc = durable.connect()
    if protocol == mqtt.MQTTv311:
        check(name + " session present after reconnect", present == 1)
    got = [durable.receive() for _ in range(3)]
    check(name + " offline messages delivered in order",
          all(got) and [m.payload for m in got] == [b"offline-%d" % i for i in range(3)])
    for c in (sub, pub, late, durable):
        c.disconnect()

secure = Client("paho-tls", mqtt.MQTTv311, port=TLS_PORT, tls=True)
check("TLS CONNACK accepted", secure.connect()[1] == 0)
secure.subscribe("paho/tls", 1)
secure.publish("paho/tls", b"over tls", 1)
m = secure.receive()
check("TLS round trip", m is not None and m.payload == b"over tls")
secure.disconnect()


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (HTTP_PORT, path), data=data, method=method)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        return json.loads(answer.read())


def wait_until(what, predicate, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    fail("timed out: " + what)


# A generic device that publishes its result from inside its message callback: paho sends the
# PUBACK only after on_message returns, so the result reaches fakecloud before the PUBACK and the
# late PUBACK must not turn SUCCESSFUL back into DELIVERED.
api("POST", "/products", {"id": "paho-lamp", "dialect": "generic"})
api("POST", "/devices", {"id": "paho-lamp-1", "productId": "paho-lamp", "secrets": {"secret": "s3cret"}})
device = mqtt.Client(client_id="paho-lamp-1", clean_session=True, protocol=mqtt.MQTTv311)
device.username_pw_set("paho-lamp-1", "s3cret")
subscribed = queue.Queue()
device.on_subscribe = lambda c, u, mid, granted: subscribed.put(granted)


def answer_command(client, userdata, message):
    command = json.loads(message.payload)
    client.publish("devices/paho-lamp-1/commands/%s/result" % command["id"], json.dumps({"success": True}), 1)


device.on_message = answer_command
device.connect("127.0.0.1", PORT, keepalive=30)
device.loop_start()
device.subscribe("devices/paho-lamp-1/commands", 1)
try:
    check("the device's SUBACK grants QoS 1", subscribed.get(timeout=TIMEOUT) == (1,))
except queue.Empty:
    fail("no SUBACK for the device's commands")
command_id = api("POST", "/devices/paho-lamp-1/commands", {"payload": {"light": 1}, "expireTime": 3600})["id"]
wait_until("command %s SUCCESSFUL" % command_id,
           lambda: api("GET", "/commands/" + command_id)["status"] == "SUCCESSFUL")


def journal():
    """What the device sent, in order: the summaries of the journal's "in" entries."""
    items = api("GET", "/devices/paho-lamp-1/journal?limit=1000")["items"]
    return [e["summary"] for e in items if e["direction"] == "in"]


wait_until("the late PUBACK in the journal", lambda: any(s.startswith("PUBACK") for s in journal()))
summaries = journal()
result_at = next(i for i, s in enumerate(summaries) if s.startswith("PUBLISH") and "/result" in s)
puback_at = next(i for i, s in enumerate(summaries) if s.startswith("PUBACK"))
check("the result arrived before the PUBACK", result_at < puback_at)
# A QoS 1 round trip after the PUBACK on the same connection: the PUBACK has been handled.
info = device.publish("devices/paho-lamp-1/telemetry", b"{}", 1)
info.wait_for_publish()
command = api("GET", "/commands/" + command_id)
check("a PUBACK after the result leaves the command SUCCESSFUL (got %s)" % command["status"],
      command["status"] == "SUCCESSFUL" and command["result"] == {"success": True})
device.disconnect()
device.loop_stop()
