#!/usr/bin/python3
"""Interop: Debian's python3-websockets (10.x, asyncio) against fakecloud's event stream.

Usage: websocket_events.py HTTP_PORT MQTT_PORT
A WebSocket client that is not ours: it masks every frame it sends (RFC 6455 §5.3), sends a
fragmented message and a ping, and runs the close handshake; a raw socket checks that an unmasked
client frame is refused (§5.1). Exits non-zero on the first failed check; prints "ok - …" lines.
"""
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import urllib.request

try:
    import websockets
except ImportError:
    sys.exit("FAIL: python3-websockets is missing (run scripts/install-deps)")

HTTP_PORT, MQTT_PORT = int(sys.argv[1]), int(sys.argv[2])
TIMEOUT = 20


def fail(message):
    sys.exit("FAIL: " + message)


def check(what, condition):
    if not condition:
        fail(what)
    print("ok - " + what)


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (HTTP_PORT, path), data=data, method=method)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        return json.loads(answer.read())


def publish(payload):
    subprocess.run(["mosquitto_pub", "-p", str(MQTT_PORT), "-u", "ws-lamp-1", "-P", "s3cret", "-q", "1",
                    "-t", "devices/ws-lamp-1/telemetry", "-m", payload], check=True, timeout=TIMEOUT)


async def next_event(ws, wanted):
    """The next event whose type is `wanted`, skipping others (journal entries and the like)."""
    while True:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
        if not isinstance(frame, str):
            fail("a binary frame on the event stream")
        event = json.loads(frame)
        if event["type"] == wanted:
            return event


async def stream():
    uri = "ws://127.0.0.1:%d/api/v1/events?deviceId=ws-lamp-1" % HTTP_PORT
    # Small frames both ways: the client sends its messages in fragments (continuation frames).
    async with websockets.connect(uri, max_size=2 ** 20, open_timeout=TIMEOUT) as ws:
        check("the upgrade is accepted (101)", ws.open)
        await asyncio.get_running_loop().run_in_executor(None, publish, '{"temp":21}')
        event = await next_event(ws, "uplink")
        check("an uplink event arrives as one JSON text message",
              event["deviceId"] == "ws-lamp-1" and event["data"]["payload"] == {"temp": 21})

        # A fragmented, masked message from the client: text in three frames. The stream has nothing
        # to say to it, but must read it whole and keep the connection.
        await ws.send(iter(["frag", "mented ", "hello"]))
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, TIMEOUT)
        check("a ping after a fragmented message is answered with a pong", True)

        await asyncio.get_running_loop().run_in_executor(None, publish, '{"temp":22}')
        event = await next_event(ws, "uplink")
        check("the stream goes on after the fragmented message", event["data"]["payload"] == {"temp": 22})

        # A large event: the server may fragment or not; the client reassembles it either way.
        big = "x" * 70000
        await asyncio.get_running_loop().run_in_executor(None, publish, json.dumps({"big": big}))
        event = await next_event(ws, "uplink")
        check("a 70 kB event arrives whole", event["data"]["payload"] == {"big": big})

        await ws.close(code=1000, reason="done")
        check("the close handshake completes with the client's code (%s)" % ws.close_code,
              ws.close_code == 1000)


def raw_upgrade(sock):
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            fail("the server closed during the upgrade")
        head += chunk
    return head


def unmasked_frame_is_refused():
    sock = socket.create_connection(("127.0.0.1", HTTP_PORT), timeout=TIMEOUT)
    check("raw upgrade answered 101", raw_upgrade(sock).startswith(b"HTTP/1.1 101"))
    sock.sendall(bytes([0x81, 0x05]) + b"hello")  # FIN + text, no MASK bit: a protocol error from a client
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            break
        except socket.timeout:
            fail("the server kept the connection open after an unmasked client frame: %r" % data[:40])
        if not chunk:
            break
        data += chunk
    sock.close()
    # The server fails the connection (RFC 6455 §5.1); if it sends a Close first, its code is 1002.
    close_at = data.find(b"\x88")
    if close_at >= 0 and len(data) >= close_at + 4:
        code = int.from_bytes(data[close_at + 2:close_at + 4], "big")
        check("an unmasked client frame is answered with Close 1002 (got %d)" % code, code == 1002)
    else:
        check("an unmasked client frame closes the connection", True)


def plain_get_is_426():
    request = urllib.request.Request("http://127.0.0.1:%d/api/v1/events" % HTTP_PORT)
    try:
        urllib.request.urlopen(request, timeout=TIMEOUT)
        fail("a plain GET of the event stream was answered 2xx")
    except urllib.error.HTTPError as e:
        check("a plain GET of the event stream is 426", e.code == 426)


api("POST", "/products", {"id": "ws-lamp", "dialect": "generic"})
api("POST", "/devices", {"id": "ws-lamp-1", "productId": "ws-lamp", "secrets": {"secret": "s3cret"}})
asyncio.run(stream())
unmasked_frame_is_refused()
plain_get_is_426()
