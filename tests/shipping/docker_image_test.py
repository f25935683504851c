#!/usr/bin/env python3
"""The Docker image's runtime stage, checked without a Docker engine (none runs on the development
machines or in CI): a debootstrap root (Debian 12, minbase) with exactly the packages the runtime
stage of docker/Dockerfile installs (cached, see rootfs.py), the stage's other RUN steps run in it,
its COPY files and the built binary put where it puts them, then the image run the way `docker run`
would: its ENV, WORKDIR, USER, ENTRYPOINT + CMD, in network and mount namespaces of its own.

Usage: docker_image_test.py SOURCE_DIR FAKECLOUD_BINARY VERSION
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from rootfs import (  # noqa: E402
    DOCKER_PATH,
    EPHEMERAL_PORTS,
    Container,
    Dockerfile,
    TestFailure,
    apt_packages,
    cached_root,
    check,
    log,
    main,
    other_runs,
    stop,
    tree_digest,
    wait_for_file,
)

SOURCE = Path(sys.argv[1])
BINARY = Path(sys.argv[2])
VERSION = sys.argv[3]


class Image:
    """What docker/Dockerfile's runtime stage says about the image."""

    def __init__(self, dockerfile: Dockerfile):
        stage = dockerfile.runtime
        self.packages = apt_packages(stage)
        self.runs = other_runs(stage)
        self.env = {"PATH": DOCKER_PATH}
        for instruction in stage.all("ENV"):
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', instruction.args):
                self.env[key] = value.strip('"')
        self.workdir = stage.last("WORKDIR").args if stage.last("WORKDIR") else "/"
        self.user = stage.last("USER").args if stage.last("USER") else None
        self.entrypoint = stage.last("ENTRYPOINT").exec_form()
        self.cmd = stage.last("CMD").exec_form() if stage.last("CMD") else []
        self.healthcheck = stage.last("HEALTHCHECK").exec_form()
        self.expose = set()
        for instruction in stage.all("EXPOSE"):
            for port in instruction.args.split():
                self.expose.add(port if "/" in port else port + "/tcp")
        self.volumes = [v for i in stage.all("VOLUME") for v in i.args.split()]
        self.copies = []  # (source on the host, destination)
        for instruction in stage.all("COPY"):
            flags, rest = instruction.flags_and_rest()
            *sources, destination = rest.split()
            for source in sources:
                if flags.get("from"):
                    # Only the server comes from the build stage; it is the binary CMake built.
                    if Path(source).name != "fakecloud":
                        raise TestFailure(f"COPY --from={flags['from']} {source}: the test has no such build output")
                    host = BINARY
                else:
                    host = SOURCE / source
                target = destination + Path(source).name if destination.endswith("/") else destination
                self.copies.append((host, target))


def container_env(image: Image, container: Container, extra: dict | None = None) -> dict:
    env = dict(image.env)
    uid = image.user.split(":")[0] if image.user else "0"
    for line in container.file("/etc/passwd").read_text().splitlines():  # docker sets HOME from passwd
        fields = line.split(":")
        if fields[2] == uid or fields[0] == uid:
            env["HOME"] = fields[5]
    env.update(extra or {})
    return env


def build_image_layer(image: Image, root: Path) -> Container:
    """The image's own layer: the stage's COPY files and its RUN steps on top of the cached root."""
    layer = Container([root])
    try:
        for host, target in image.copies:
            check(host.is_file(), f"COPY source {host} exists")
            layer.put(target, source=host)
        for run in image.runs:
            result = layer.run(["/bin/sh", "-c", run], env={"PATH": DOCKER_PATH})
            check(result.returncode == 0, f"RUN {run[:60]}…", result.stdout)
    except BaseException:
        layer.__exit__(None, None, None)
        raise
    return layer


def token_from_log(path: Path) -> str | None:
    m = re.search(r"this run's token: (\S+)", path.read_text())
    return m.group(1) if m else None


def http_status(container: Container, pid: int, url: str, token: str | None = None) -> str:
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    r = container.enter(pid, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", *headers, url])
    return r.stdout.strip()


def test() -> None:
    r = subprocess.run([str(SOURCE / "scripts/version")], stdout=subprocess.PIPE, text=True)
    check(r.stdout.strip() == VERSION, f"scripts/version (the image tag) says {VERSION}, as project(VERSION) does", r.stdout)
    dockerfile = Dockerfile.parse(SOURCE / "docker/Dockerfile")
    check(dockerfile.stages[0].base.startswith("debian:bookworm"), "the build stage is Debian 12")
    check(dockerfile.runtime.base.startswith("debian:bookworm"), "the runtime stage is Debian 12")
    build_runs = " ".join(i.args for i in dockerfile.stages[0].all("RUN"))
    check("scripts/install-deps" in build_runs and "cmake" in build_runs, "the build stage uses scripts/install-deps and CMake")
    image = Image(dockerfile)
    log(f"# runtime packages: {' '.join(image.packages)}")
    check(image.user is not None and image.user.split(":")[0] not in ("0", "root"), "the image runs as a non-root user")
    check("/data" in image.volumes and image.env.get("FAKECLOUD_DATA_DIR") == "/data", "/data is the data volume")
    check(image.env.get("FAKECLOUD_BIND") == "0.0.0.0", "listeners bind 0.0.0.0 in the container")

    root = cached_root(image.packages)
    untouched = tree_digest(root, ["/etc/passwd", "/etc/group", "/var/lib/dpkg/status"])
    with build_image_layer(image, root) as layer:
        layers = [layer.upper, root]

        with Container(layers) as c:
            env = container_env(image, c)
            r = c.run(image.entrypoint + ["--version"], user=image.user, env=env, workdir=image.workdir)
            check(r.returncode == 0 and r.stdout.strip() == f"fakecloud {VERSION}",
                  f"`docker run IMAGE --version` prints fakecloud {VERSION}", r.stdout)
            r = c.run(image.entrypoint + ["--help"], user=image.user, env=env, workdir=image.workdir)
            check(r.returncode == 0 and "--mqtt-port" in r.stdout and "FAKECLOUD_API_TOKEN" in r.stdout,
                  "`docker run IMAGE --help` lists the flags and their variables")

        plain_run(image, layers)
        ci_run(image, layers)
    check(tree_digest(root, ["/etc/passwd", "/etc/group", "/var/lib/dpkg/status"]) == untouched
          and not (root / "data").exists() and not (root / "usr/local/bin/fakecloud").exists(),
          "the cached root is as it was (the image's steps went into layers of their own)")


def plain_run(image: Image, layers: list) -> None:
    """`docker run IMAGE`: the default ports, the data in /data, the token generated and logged."""
    with Container(layers) as c:
        env = container_env(image, c)
        logfile = c.work / "server.log"
        server = c.start(image.entrypoint + image.cmd, logfile, user=image.user, env=env, workdir=image.workdir)
        try:
            wait_for_file(c.file(image.env["FAKECLOUD_PORTS_FILE"]), server)
            ports = json.loads(c.file(image.env["FAKECLOUD_PORTS_FILE"]).read_text())
            listening = {f"{port}/{'udp' if key.startswith('coap') else 'tcp'}" for key, port in ports.items()}
            check(listening == image.expose, "EXPOSE names every listener of the default start",
                  f"listening {sorted(listening)}, EXPOSE {sorted(image.expose)}")
            status = Path(f"/proc/{server.pid}/status").read_text()
            uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
            check(uid == image.user.split(":")[0], f"the server runs as uid {uid}")
            check(c.file("/data/fakecloud.db").is_file() and c.file("/data/tls/ca.pem").is_file(),
                  "the database and the generated CA are in /data")
            http = ports["http"]
            check(http_status(c, server.pid, f"http://127.0.0.1:{http}/readyz") == "200", "/readyz answers 200")
            r = c.enter(server.pid, image.healthcheck, in_root=True, user=image.user, env=env)
            check(r.returncode == 0, "the HEALTHCHECK command passes", f"status {r.returncode}: {r.stdout}")
            token = token_from_log(logfile)
            check(token is not None, "the generated API token is printed in the log")
            api = f"http://127.0.0.1:{http}/api/v1/devices"
            check(http_status(c, server.pid, api) == "401", "/api without the token is 401")
            check(http_status(c, server.pid, api, token) == "200", "/api with the logged token is 200")
            r = c.enter(server.pid, ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ports["mqtt"]), "-q", "1",
                                     "-t", "hello", "-m", "world"])
            check(r.returncode == 0, "an MQTT client publishes at QoS 1 on the default port", r.stdout)
        finally:
            code = stop(server)
        check(code == 0, "SIGTERM (docker stop) ends the server with status 0", f"status {code}")
        r = c.run(image.healthcheck, user=image.user, env=env)
        check(r.returncode != 0, "the HEALTHCHECK command fails once the server is gone")


def compose_service() -> dict:
    """docker/compose.yaml's fakecloud service, checked against the Dockerfile's image."""
    import yaml

    compose = yaml.safe_load((SOURCE / "docker/compose.yaml").read_text())
    service = compose["services"]["fakecloud"]
    check((SOURCE / "docker" / service["build"]["context"] / service["build"]["dockerfile"]).resolve()
          == (SOURCE / "docker/Dockerfile").resolve(), "compose.yaml builds docker/Dockerfile")
    tests = [s for name, s in compose["services"].items() if name != "fakecloud"]
    check(any(s.get("depends_on", {}).get("fakecloud", {}).get("condition") == "service_healthy" for s in tests),
          "compose.yaml's test service waits until fakecloud is healthy")
    return service


def ci_run(image: Image, layers: list) -> None:
    """compose.yaml's fakecloud service (its command, environment and mounted fixtures) with every
    port ephemeral, as docs/ci.md starts it for a test on the same network."""
    service = compose_service()
    published = set()
    for mapping in service["ports"]:
        host, _, container = str(mapping).partition(":")
        published.add(container if "/" in container else container + "/tcp")
    check(published == image.expose, "compose.yaml publishes every exposed port",
          f"published {sorted(published)}, EXPOSE {sorted(image.expose)}")
    with Container(layers) as c:
        fixtures = None
        for volume in service["volumes"]:
            source, target = volume.split(":")[:2]
            host = (SOURCE / "docker" / source).resolve()
            check(host.is_file(), f"compose.yaml mounts {source}, which exists")
            c.put(target, source=host)
            if target in service["command"]:
                fixtures = json.loads(host.read_text())
        check(fixtures is not None, "compose.yaml's command loads the mounted fixtures")
        device = fixtures["devices"][0]
        device_id, secret = device["id"], device["secrets"]["secret"]
        token = service["environment"]["FAKECLOUD_API_TOKEN"]
        env = container_env(image, c, service["environment"])
        args = list(service["command"]) + EPHEMERAL_PORTS
        check("--db" in args and ":memory:" in args, "compose.yaml runs with --db :memory:")
        logfile = c.work / "server.log"
        server = c.start(image.entrypoint + args, logfile, user=image.user, env=env, workdir=image.workdir)
        try:
            seconds = wait_for_file(c.file(image.env["FAKECLOUD_PORTS_FILE"]), server)
            # Not a check: most of it is generating the TLS CA and server key (RSA 2048) in the new
            # /data, whose time varies with the prime search and the machine's load.
            log(f"# first start, generating the TLS CA in /data: ready in {seconds:.2f} s")
            ports = json.loads(c.file(image.env["FAKECLOUD_PORTS_FILE"]).read_text())
            check(ports["http"] not in (0, 8080) and ports["mqtt"] not in (0, 1883), "the ports are ephemeral")
            base = f"http://127.0.0.1:{ports['http']}"
            check(http_status(c, server.pid, f"{base}/readyz") == "200", "/readyz answers 200 on the ephemeral port")
            r = c.enter(server.pid, image.healthcheck, in_root=True, user=image.user, env=env)
            check(r.returncode == 0, "the HEALTHCHECK follows the ports file to the ephemeral HTTP port",
                  f"status {r.returncode}: {r.stdout}")
            check(token_from_log(logfile) is None, "with FAKECLOUD_API_TOKEN no token is generated")
            messages = f"{base}/api/v1/devices/{device_id}/messages"
            check(http_status(c, server.pid, messages, "wrong") == "401", "a wrong token is 401")
            mqtt = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ports["mqtt"]), "-u", device_id, "-q", "1",
                    "-t", f"devices/{device_id}/telemetry"]
            r = c.enter(server.pid, mqtt + ["-P", secret, "-m", '{"temperature":21.5}'])
            check(r.returncode == 0, "the fixtures' device connects and publishes telemetry", r.stdout)
            r = c.enter(server.pid, mqtt + ["-P", secret + "-wrong", "-m", "x"])
            check(r.returncode != 0, "a wrong device secret is refused", r.stdout)
            deadline = time.monotonic() + 10
            body = ""
            while time.monotonic() < deadline and "temperature" not in body:
                body = c.enter(server.pid, ["curl", "-sf", "-H", f"Authorization: Bearer {token}", messages]).stdout
                time.sleep(0.05)
            check("temperature" in body, "the API, with compose.yaml's token, shows the device's telemetry", body)
        finally:
            code = stop(server)
        check(code == 0, "SIGTERM ends the server with status 0", f"status {code}")

        # `docker restart`: the same container, its /data (and CA) kept.
        c.file(image.env["FAKECLOUD_PORTS_FILE"]).unlink()
        server = c.start(image.entrypoint + args, logfile, user=image.user, env=env, workdir=image.workdir)
        try:
            seconds = wait_for_file(c.file(image.env["FAKECLOUD_PORTS_FILE"]), server)
            check(seconds < 1.0, f"ready in {seconds:.2f} s with --db :memory: (under 1 s)")
            ports = json.loads(c.file(image.env["FAKECLOUD_PORTS_FILE"]).read_text())
            r = c.enter(server.pid, image.healthcheck, in_root=True, user=image.user, env=env)
            check(r.returncode == 0, "healthy again after a restart", f"status {r.returncode}: {r.stdout}")
            r = c.enter(server.pid, ["curl", "-s", "-H", f"Authorization: Bearer {token}",
                                     f"http://127.0.0.1:{ports['http']}/api/v1/devices/{device_id}"])
            check(f'"{device_id}"' in r.stdout, "the fixtures are loaded again (the database is in memory)", r.stdout)
        finally:
            code = stop(server)
        check(code == 0, "SIGTERM ends it again with status 0", f"status {code}")


if __name__ == "__main__":
    main(test)
