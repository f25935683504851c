#!/usr/bin/env python3
"""The Debian package: `cpack -G DEB` on the build, its name, version and Depends, then `dpkg -i` +
`apt-get -f install` into the Docker image's runtime root (the cached debootstrap root of rootfs.py,
never modified: the package goes into a writable layer over it), and the service started the way
its systemd unit starts it, as an unprivileged user, on free ports.

Usage: deb_test.py SOURCE_DIR BUILD_DIR VERSION
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
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
    main,
    stop,
    tree_digest,
    wait_for_file,
)

SOURCE = Path(sys.argv[1])
BUILD = Path(sys.argv[2])
VERSION = sys.argv[3]
SERVICE_UID = "61234:61234"  # stands in for the unit's DynamicUser=yes


def unit_settings(text: str) -> dict:
    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def without_comments(jsonc: str) -> str:
    return "\n".join(line for line in jsonc.splitlines() if not line.lstrip().startswith("//"))


def test() -> None:
    out = Path(tempfile.mkdtemp(prefix="fakecloud-deb-"))
    try:
        package_test(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def package_test(out: Path) -> None:
    r = subprocess.run(["cpack", "-G", "DEB", "--config", str(BUILD / "CPackConfig.cmake"), "-B", str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0, "cpack -G DEB builds the package", r.stdout)
    deb = out / f"fakecloud_{VERSION}_amd64.deb"
    check(deb.is_file(), f"it is named {deb.name}", str(sorted(p.name for p in out.glob("*.deb"))))

    def field(name: str) -> str:
        return subprocess.run(["dpkg-deb", "-f", str(deb), name], stdout=subprocess.PIPE, text=True).stdout.strip()

    check(field("Package") == "fakecloud" and field("Version") == VERSION and field("Architecture") == "amd64",
          f"Package fakecloud, Version {VERSION} (project(VERSION)), Architecture amd64")
    depends = field("Depends")
    depends_names = {d.split()[0] for d in depends.split(", ")}
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb)], stdout=subprocess.PIPE).stdout
    members = subprocess.run(["tar", "-t"], input=control, stdout=subprocess.PIPE).stdout.decode().split()
    check(not any(m.endswith(("postinst", "preinst", "prerm", "postrm")) for m in members),
          "no maintainer script: the service stays off until enabled", str(members))
    contents = subprocess.run(["dpkg-deb", "-c", str(deb)], stdout=subprocess.PIPE, text=True).stdout
    check("/etc/systemd/" not in contents, "no unit enabled by the package's files (/etc/systemd)", contents)
    conffiles = subprocess.run(["tar", "-xO", "./conffiles"], input=control, stdout=subprocess.PIPE).stdout.decode()
    check(conffiles.split() == ["/etc/fakecloud/config.json"], "/etc/fakecloud/config.json is a conffile", conffiles)

    image_packages = apt_packages(Dockerfile.parse(SOURCE / "docker/Dockerfile").runtime)
    root = cached_root(image_packages)
    untouched = tree_digest(root, ["/var/lib/dpkg/status", "/etc/passwd"])
    with Container([root]) as c:
        c.put("/tmp/fakecloud.deb", source=deb)
        env = {"PATH": DOCKER_PATH, "DEBIAN_FRONTEND": "noninteractive"}
        r = c.run(["dpkg", "-i", "/tmp/fakecloud.deb"], env=env)
        check(r.returncode == 0, "dpkg -i installs it into the image's runtime root", r.stdout)
        r = c.run(["apt-get", "-f", "install", "-y", "--no-download"], env=env)
        check(r.returncode == 0 and "0 newly installed" in r.stdout, "apt-get -f install has nothing left to do", r.stdout)
        r = c.run(["dpkg-query", "-W", "-f", "${Status}", "fakecloud"], env=env)
        check(r.stdout == "install ok installed", "dpkg says it is installed", r.stdout)

        # Depends, resolved to the root's packages (libspdlog1.10 provides libspdlog1.10-fmt9), must be
        # exactly the packages of the libraries the two programs link (their NEEDED entries), and
        # take in every library package the Dockerfile's runtime stage installs.
        r = c.run(["dpkg-query", "-W", "-f", "${Package}|${Provides}\n"], env=env)
        provider = {}
        for line in r.stdout.splitlines():
            package, _, provides = line.partition("|")
            provider[package] = package
            for virtual in filter(None, (p.strip().split(" ")[0] for p in provides.split(","))):
                provider.setdefault(virtual, package)
        unsatisfied = sorted(name for name in depends_names if name not in provider)
        check(not unsatisfied, "every Depends: entry is a package of the root or one it provides", str(unsatisfied))
        resolved = {provider[name] for name in depends_names}
        needed = set()
        for program in ["fakecloud", "fakecloud-load"]:
            elf = subprocess.run(["readelf", "-d", str(c.file(f"/usr/bin/{program}"))], stdout=subprocess.PIPE, text=True)
            for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", elf.stdout):
                owner = c.run(["dpkg-query", "-S", f"*/{soname}"], env=env)
                if owner.returncode != 0:
                    raise TestFailure(f"{program} needs {soname}, which no package of the root has")
                needed.add(owner.stdout.split(":")[0])
        check(resolved == needed, "Depends names exactly the packages of the libraries the programs link",
              f"Depends {sorted(resolved)}, linked {sorted(needed)}")
        r = c.run(["dpkg-query", "-W", "-f", "${Package} ${Section}\n", *image_packages], env=env)
        image_libraries = {line.split()[0] for line in r.stdout.splitlines() if line.split()[1] == "libs"}
        check(image_libraries <= resolved, "the Dockerfile's runtime libraries are all in Depends",
              f"{sorted(image_libraries - resolved)} are not")

        for path in ["/usr/bin/fakecloud", "/usr/bin/fakecloud-load", "/usr/lib/systemd/system/fakecloud.service",
                     "/etc/fakecloud/config.json"]:
            check(c.file(path).is_file(), f"installs {path}")
        r = c.run(["fakecloud", "--version"], env=env)
        check(r.stdout.strip() == f"fakecloud {VERSION}", f"fakecloud --version prints {VERSION}", r.stdout)
        r = c.run(["fakecloud-load", "--help"], env=env)
        check(r.returncode == 0, "fakecloud-load runs", r.stdout)

        unit = unit_settings(c.file("/usr/lib/systemd/system/fakecloud.service").read_text())
        exec_start = unit["ExecStart"].split()
        config = json.loads(without_comments(c.file("/etc/fakecloud/config.json").read_text()))
        check(config["dataDir"] == "/var/lib/" + unit["StateDirectory"], "the config's dataDir is the unit's StateDirectory")
        check(Path(config["portsFile"]).parent == Path("/run/" + unit["RuntimeDirectory"]),
              "the config's portsFile is in the unit's RuntimeDirectory")
        # What systemd does before ExecStart: the state and runtime directories, owned by the service user.
        uid, gid = SERVICE_UID.split(":")
        r = c.run(["sh", "-ec", f"mkdir -p {config['dataDir']} /run/{unit['RuntimeDirectory']} && "
                   f"chown {uid}:{gid} {config['dataDir']} /run/{unit['RuntimeDirectory']}"], env=env)
        check(r.returncode == 0, "the unit's directories are made", r.stdout)
        args = exec_start + EPHEMERAL_PORTS
        logfile = c.work / "server.log"
        server = c.start(args, logfile, user=SERVICE_UID, env={"PATH": DOCKER_PATH})
        try:
            wait_for_file(c.file(config["portsFile"]), server)
            ports = json.loads(c.file(config["portsFile"]).read_text())
            r = c.enter(server.pid, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                     f"http://127.0.0.1:{ports['http']}/readyz"])
            check(r.stdout == "200", "the unit's command line starts a server whose /readyz answers 200", r.stdout)
            r = c.enter(server.pid, ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(ports["mqtt"]), "-q", "1",
                                     "-t", "hello", "-m", "world"])
            check(r.returncode == 0, "a device connects and publishes at QoS 1", r.stdout)
            check(c.file(config["dataDir"] + "/fakecloud.db").is_file(), "the database is in the StateDirectory")
        finally:
            code = stop(server)
        check(code == 0, "SIGTERM stops the service with status 0", f"status {code}")

        r = c.run(["dpkg", "-r", "fakecloud"], env=env)
        check(r.returncode == 0 and not c.file("/usr/bin/fakecloud").exists() and c.file("/etc/fakecloud/config.json").exists(),
              "dpkg -r removes the programs and keeps the configuration", r.stdout)
        r = c.run(["dpkg", "-P", "fakecloud"], env=env)
        check(r.returncode == 0 and not c.file("/etc/fakecloud/config.json").exists(), "dpkg -P removes the configuration",
              r.stdout)
    check(tree_digest(root, ["/var/lib/dpkg/status", "/etc/passwd"]) == untouched and not (root / "usr/bin/fakecloud").exists(),
          "the cached root is as it was (the package went into the container's own layer)")


if __name__ == "__main__":
    main(test)
