"""Debian 12 root file systems for the shipping tests, without a Docker engine.

- `Dockerfile.parse` reads the subset of Dockerfile syntax that docker/Dockerfile uses, stage by stage.
- `cached_root(packages)` is a debootstrap root (bookworm, minbase) with those packages, built once
  and cached outside the clone in ${XDG_CACHE_HOME:-~/.cache}/fakecloud/rootfs-<hash of the list>.
  It is built in a temporary directory and renamed when complete, under a lock, so a killed first
  run leaves no half-built cache and two tests never build it at once.
- `Container` runs commands in an overlay of read-only layers (the cached root never changes) with a
  fresh writable layer, in a mount namespace of its own and, by default, a network namespace of its
  own with only loopback, as a container would.
Needs root (mount and network namespaces, chroot), debootstrap and util-linux: scripts/install-deps.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUITE = "bookworm"
VARIANT = "minbase"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# fakecloud's flags for every listener on a free port.
EPHEMERAL_PORTS = [word for flag in ["--mqtt-port", "--mqtts-port", "--mqtts-mtls-port", "--http-port", "--https-port",
                                     "--coap-port", "--coaps-port"] for word in (flag, "0")]
# What `docker run` puts on PATH when the image sets none (Debian's images set none).
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(message: str) -> None:
    print(message, flush=True)


class TestFailure(Exception):
    pass


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        raise TestFailure(what + (": " + detail if detail else ""))
    log("ok - " + what)


# --- Dockerfile ----------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str  # upper case
    args: str  # continuation lines joined, comments dropped
    line: int

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """`--from=build a b` → ({"from": "build"}, "a b")."""
        flags = {}
        rest = self.args
        while rest.startswith("--"):
            word, _, rest = rest.partition(" ")
            key, _, value = word[2:].partition("=")
            flags[key] = value
            rest = rest.lstrip()
        return flags, rest

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ENTRYPOINT/CMD/HEALTHCHECK CMD, or a shell form as sh -c."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = re.sub(r"^(--\S+\s+)*", "", text)
            if not text.startswith("CMD "):
                raise TestFailure(f"Dockerfile line {self.line}: HEALTHCHECK without CMD")
            text = text[4:].strip()
        if text.startswith("["):
            return json.loads(text)
        return ["/bin/sh", "-c", text]


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


class Dockerfile:
    def __init__(self, stages: list[Stage]):
        self.stages = stages

    @staticmethod
    def parse(path: Path) -> "Dockerfile":
        stages: list[Stage] = []
        pending = ""
        start = 0
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            stripped = raw.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if pending and stripped.startswith("#"):
                continue  # a comment inside a continued instruction
            if not pending:
                start = number
            if stripped.endswith("\\"):
                pending += stripped[:-1].strip() + " "
                continue
            text = (pending + stripped).strip()
            pending = ""
            keyword, _, args = text.partition(" ")
            keyword = keyword.upper()
            args = args.strip()
            if keyword == "FROM":
                words = args.split()
                name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
                stages.append(Stage(base=words[0], name=name))
            elif not stages:
                if keyword != "ARG":
                    raise TestFailure(f"{path}:{number}: {keyword} before FROM")
            else:
                stages[-1].instructions.append(Instruction(keyword, args, start))
        if not stages:
            raise TestFailure(f"{path}: no FROM")
        return Dockerfile(stages)

    @property
    def runtime(self) -> Stage:
        """The stage `docker build` produces: the last one."""
        return self.stages[-1]


def split_commands(script: str) -> list[str]:
    return [part.strip() for part in re.split(r"&&|;", script) if part.strip()]


def apt_packages(stage: Stage) -> list[str]:
    """The packages the stage's `apt-get install` steps name. A RUN that uses apt-get may do nothing
    else (update, install, clean the lists), so that a debootstrap --include reproduces it exactly."""
    packages: list[str] = []
    for run in stage.all("RUN"):
        if "apt-get" not in run.args:
            continue
        for command in split_commands(run.args):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "update"] or words == ["rm", "-rf", "/var/lib/apt/lists/*"]:
                continue
            if words[:2] == ["apt-get", "install"]:
                packages += [w for w in words[2:] if not w.startswith("-")]
                continue
            raise TestFailure(
                f"Dockerfile line {run.line}: '{command}' beside apt-get; keep package RUNs to "
                "update/install/rm lists so the test root has exactly those packages"
            )
    if not packages:
        raise TestFailure(f"stage {stage.name}: no apt-get install")
    return sorted(set(packages))


def other_runs(stage: Stage) -> list[str]:
    """The stage's RUN steps that install no packages, to be run in the root as they are."""
    return [run.args for run in stage.all("RUN") if "apt-get" not in run.args]


# --- the cached root -----------------------------------------------------------------------------


def machine_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 .sources or sources.list), so debootstrap
    reaches the same place apt does. FAKECLOUD_DEBIAN_MIRROR overrides it."""
    if os.environ.get("FAKECLOUD_DEBIAN_MIRROR"):
        return os.environ["FAKECLOUD_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for block in path.read_text().split("\n\n"):
            fields = {}
            for line in block.splitlines():
                if ":" in line and not line.startswith("#"):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if (
                "deb" in fields.get("types", "").split()
                and SUITE in fields.get("suites", "").split()
                and fields.get("enabled", "yes") != "no"
            ):
                return fields["uris"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    return DEFAULT_MIRROR


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fakecloud"


def cached_root(packages: list[str]) -> Path:
    """A debootstrap root with `packages`, built once per package list (see the module comment)."""
    key = hashlib.sha256(f"{SUITE} {VARIANT} {' '.join(sorted(packages))}".encode()).hexdigest()[:16]
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    root = directory / f"rootfs-{key}"
    with open(directory / f"rootfs-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if root.is_dir():
            log(f"# cached root {root} ({' '.join(packages)})")
            return root
        for stale in directory.glob(f"rootfs-{key}.tmp-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        if not shutil.which("debootstrap"):
            raise TestFailure("debootstrap is missing (run scripts/install-deps)")
        temporary = directory / f"rootfs-{key}.tmp-{os.getpid()}"
        mirror = machine_mirror()
        log(f"# building {root} with debootstrap {SUITE} {VARIANT} from {mirror}: {' '.join(packages)}")
        started = time.monotonic()
        result = subprocess.run(
            ["debootstrap", f"--variant={VARIANT}", f"--include={','.join(packages)}", SUITE, str(temporary), mirror],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if result.returncode != 0:
            shutil.rmtree(temporary, ignore_errors=True)
            raise TestFailure(f"debootstrap failed ({result.returncode}):\n{result.stdout[-3000:]}")
        # As the Dockerfile does: no package lists, no downloaded .debs.
        shutil.rmtree(temporary / "var/cache/apt/archives", ignore_errors=True)
        (temporary / "var/cache/apt/archives/partial").mkdir(parents=True)
        for entry in (temporary / "var/lib/apt/lists").iterdir():
            if entry.is_file():
                entry.unlink()
        (temporary / "fakecloud-rootfs.txt").write_text(f"{SUITE} {VARIANT} {mirror}\n" + "\n".join(packages) + "\n")
        os.rename(temporary, root)
        log(f"# built {root} in {time.monotonic() - started:.0f} s")
        return root


# --- containers ----------------------------------------------------------------------------------


class Container:
    """An overlay of `layers` (read-only, first on top) with a fresh writable layer, in its own mount
    namespace; `isolated` also gives it its own network namespace with loopback up."""

    def __init__(self, layers: list[Path], isolated: bool = True):
        for tool in ["unshare", "nsenter", "chroot", "mount"] + (["ip"] if isolated else []):
            if not shutil.which(tool):
                raise TestFailure(f"{tool} is missing (run scripts/install-deps)")
        if os.geteuid() != 0:
            raise TestFailure("the shipping tests need root (mount and network namespaces, chroot)")
        self.work = Path(tempfile.mkdtemp(prefix="fakecloud-container-"))
        self.upper = self.work / "upper"
        self.merged = self.work / "merged"
        for d in (self.upper, self.work / "overlay-work", self.merged):
            d.mkdir()
        self.layers = layers
        self.isolated = isolated
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def put(self, path: str, source: Path | None = None, text: str | None = None, mode: int | None = None) -> None:
        """Writes a file into the writable layer (as COPY does), before the container starts."""
        target = self.upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            shutil.copy2(source, target)
        else:
            target.write_text(text or "")
        if mode is not None:
            target.chmod(mode)

    def file(self, path: str) -> Path:
        """Where the container's file shows on the host: in the writable layer if the container wrote
        it, else in the first layer below that has it (the writable layer's path if none has)."""
        for layer in [self.upper, *self.layers]:
            candidate = layer / path.lstrip("/")
            if candidate.exists():
                return candidate
        return self.upper / path.lstrip("/")

    def _start_argv(self, argv: list[str]) -> list[str]:
        lower = ":".join(str(layer) for layer in self.layers)
        setup = (
            f"mount -t overlay overlay -o lowerdir={lower},upperdir={self.upper},"
            f"workdir={self.work / 'overlay-work'} {self.merged}"
            f" && mount -t proc proc {self.merged}/proc"
            f" && mount --bind /dev {self.merged}/dev"
        )
        if self.isolated:
            setup += " && ip link set lo up"
        namespaces = ["--mount", "--propagation", "private"] + (["--net"] if self.isolated else [])
        # exec all the way down: the process started is the one that ends up running argv.
        return ["unshare", *namespaces, "--", "sh", "-ec", setup + ' && exec "$@"', "sh", *argv]

    def chroot_argv(self, argv: list[str], user: str | None = None, env: dict | None = None, workdir: str = "/") -> list[str]:
        prefix = ["chroot"] + ([f"--userspec={user}"] if user else []) + [str(self.merged)]
        environment = [f"{k}={v}" for k, v in (env or {}).items()]
        return prefix + ["/usr/bin/env", "-i", "-C", workdir, *environment, *argv]

    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        """Runs argv in the root in a namespace of its own (that ends with it); output captured."""
        return subprocess.run(
            self._start_argv(self.chroot_argv(argv, **kwargs)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )

    def start(self, argv: list[str], logfile: Path, **kwargs) -> subprocess.Popen:
        """Starts argv in the root in the background, its output in logfile; the returned process
        is argv's own (its pid names the container's namespaces for `enter`)."""
        out = open(logfile, "w")
        p = subprocess.Popen(self._start_argv(self.chroot_argv(argv, **kwargs)), stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.processes.append(p)
        return p

    def enter(self, pid: int, argv: list[str], in_root: bool = False, timeout: float = 30, **kwargs) -> subprocess.CompletedProcess:
        """Runs argv in the namespaces of process `pid`: a host tool in the container's network
        (a device or a client on the same network), or with in_root a command inside the root."""
        if in_root:
            argv = ["--mount", *self.chroot_argv(argv, **kwargs)]
        else:
            argv = ["--", *argv]
        namespaces = ["--net"] if self.isolated else []
        return subprocess.run(
            ["nsenter", f"--target={pid}", *namespaces, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )


def tree_digest(root: Path, paths: list[str]) -> str:
    """A digest of some of a root's files, to show a test left the cached root as it was."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update((root / path.lstrip("/")).read_bytes())
    return digest.hexdigest()


def wait_for_file(path: Path, process: subprocess.Popen, timeout: float = 20) -> float:
    """Seconds until `path` holds a complete JSON object; fails if the process exits first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if path.is_file():
            try:
                json.loads(path.read_text())
                return time.monotonic() - started
            except ValueError:
                pass
        if process.poll() is not None:
            raise TestFailure(f"the server exited with {process.returncode} during start-up")
        time.sleep(0.01)
    raise TestFailure(f"no {path} within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 10) -> int:
    process.terminate()
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise TestFailure(f"the server did not exit within {timeout} s of SIGTERM")


def main(test) -> None:
    """Runs test(), printing the failure (and its log, if it names one) as the last line."""
    try:
        test()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
