#!/usr/bin/env python3
"""fakecloud vs Mosquitto: the same fakecloud-load settings against both, each case repeated.

Starts a fresh broker for every run (fakecloud on free ports with --ports-file, Debian's mosquitto
on a free port with persistence off), runs fakecloud-load with --server-pid so it samples the
broker's RSS and CPU time, and prints the medians of every case for both brokers and their ratio.

    loadtest/bench/run_bench.py                      # everything, 3 repetitions (≈ 15 minutes)
    loadtest/bench/run_bench.py --cases a0,e --reps 1 --duration 3   # a quick look
    loadtest/bench/run_bench.py --baseline OLD/server/fakecloud --cases a0,a1 --window 1
                                 # this build against an earlier one instead of Mosquitto

Cases (docs/benchmarks.md):
    a0/a1  point-to-point, 1000 publishers → 1000 subscribers, QoS 0 / QoS 1
    b0/b1  fan-in, 1000 publishers → 1 subscriber (<prefix>/+), QoS 0 / QoS 1
    c0/c1  fan-out, 5 publishers → 1000 subscribers (one topic), QoS 0 / QoS 1
    d      idle: 10,000 clients holding one subscription each; broker RSS per connection
    e      connect storm: time to connect 10,000 clients

Throughput cases publish as fast as an end-to-end window allows (--interval-ms 0): each publisher
keeps at most `window` messages not yet received by all its subscribers, so both brokers run
saturated with bounded queues and nothing is dropped for being too far behind.

Not part of `make test`: it takes minutes and wants a machine nobody else is using. For every run
waits until other processes leave the CPUs alone, measures the CPU time the machine spent beyond
the broker and fakecloud-load during the run (/proc/stat), repeats runs that shared the machine,
and flags the ones it had to keep anyway.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Identical broker limits: in-flight window and queue per client (Mosquitto: max_inflight_messages,
# max_queued_messages; fakecloud: mqtt.maxInflight, mqtt.maxQueued).
MAX_INFLIGHT = 32
MAX_QUEUED = 10000

THROUGHPUT = {
    "a0": ("(a) p2p 1000→1000 QoS 0", ["--topology", "p2p", "--publishers", "1000", "--qos", "0"]),
    "a1": ("(a) p2p 1000→1000 QoS 1", ["--topology", "p2p", "--publishers", "1000", "--qos", "1"]),
    "b0": ("(b) fan-in 1000→1 QoS 0", ["--topology", "fan-in", "--publishers", "1000", "--qos", "0"]),
    "b1": ("(b) fan-in 1000→1 QoS 1", ["--topology", "fan-in", "--publishers", "1000", "--qos", "1"]),
    "c0": ("(c) fan-out 5→1000 QoS 0",
           ["--topology", "fan-out", "--publishers", "5", "--subscribers", "1000", "--qos", "0"]),
    "c1": ("(c) fan-out 5→1000 QoS 1",
           ["--topology", "fan-out", "--publishers", "5", "--subscribers", "1000", "--qos", "1"]),
}
IDLE = ("(d) idle 10k clients, 1 subscription each", ["--publishers", "0", "--subscribers", "10000"])
STORM = ("(e) connect storm, 10k clients", ["--publishers", "10000", "--subscribers", "0", "--count", "0"])
ALL_CASES = list(THROUGHPUT) + ["d", "e"]


HZ = os.sysconf("SC_CLK_TCK")


def machine_busy_ticks():
    """Busy CPU time of the whole machine so far (all CPUs), in clock ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(v) - v[3] - v[4]


def process_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def others_share(seconds=1.0):
    """Share of all CPUs that other processes use right now (nothing of ours is running)."""
    b0 = machine_busy_ticks()
    time.sleep(seconds)
    return (machine_busy_ticks() - b0) / (HZ * seconds * os.cpu_count())


def wait_quiet(args):
    """Waits (at most --wait-quiet seconds) until other processes leave the machine alone."""
    deadline, said = time.time() + args.wait_quiet, 0.0
    while True:
        share = others_share()
        if share <= args.max_other or time.time() >= deadline:
            return share
        if time.time() - said > 30:
            print(f"         waiting for a quiet machine: others use {share:.0%} of it", flush=True)
            said = time.time()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode} during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


class Broker:
    """A broker process for one run."""

    def __init__(self, kind, args, work):
        self.kind, self.args, self.work = kind, args, work
        self.proc, self.port = None, None

    def start(self):
        run_dir = Path(tempfile.mkdtemp(prefix=f"{self.kind}-", dir=self.work))
        log = open(run_dir / "broker.log", "w")
        if self.kind in ("fakecloud", "baseline"):
            ports = run_dir / "ports.json"
            binary = self.args.fakecloud if self.kind == "fakecloud" else self.args.baseline
            cmd = [binary, "--data-dir", str(run_dir / "data"), "--db", ":memory:", "--mqtt-port", "0",
                   "--mqtts-port", "0", "--http-port", "0", "--https-port", "0", "--coap-port", "0",
                   "--coaps-port", "0", "--ports-file", str(ports), "--log-level", "warn",
                   "--mqtt-max-inflight", str(MAX_INFLIGHT), "--mqtt-max-queued", str(MAX_QUEUED)]
            # Builds before the mutual-TLS port existed do not know its flag.
            if "--mqtts-mtls-port" in subprocess.run([binary, "--help"], capture_output=True, text=True).stdout:
                cmd += ["--mqtts-mtls-port", "0"]
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
            deadline = time.time() + 20
            while not (ports.exists() and ports.stat().st_size > 0):
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("fakecloud did not start: " + (run_dir / "broker.log").read_text()[-2000:])
                time.sleep(0.05)
            time.sleep(0.05)
            self.port = json.loads(ports.read_text())["mqtt"]
        else:
            self.port = free_port()
            conf = run_dir / "mosquitto.conf"
            conf.write_text("\n".join([
                f"listener {self.port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                f"max_inflight_messages {MAX_INFLIGHT}",
                f"max_queued_messages {MAX_QUEUED}",
                "set_tcp_nodelay true",  # fakecloud sets TCP_NODELAY on every connection too
                "log_dest none",
                "",
            ]))
            self.proc = subprocess.Popen([self.args.mosquitto, "-c", str(conf)], stdout=log, stderr=log)
            wait_port(self.port, self.proc)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_load(args, broker, case_args, report):
    cmd = [args.load, "--port", str(broker.port), "--server-pid", str(broker.proc.pid), "--json", str(report),
           "--no-progress", "--threads", str(args.load_threads)] + case_args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0 or not report.exists():
        raise RuntimeError(f"fakecloud-load failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(report.read_text())


def measured_run(args, kind, report_path, case):
    """One run on a fresh broker, and the share of the CPUs that something else used meanwhile."""
    broker = Broker(kind, args, report_path.parent).start()
    try:
        # Whatever CPU the machine spent beyond the broker and fakecloud-load during the run was
        # someone else's, and makes the run noisy.
        t0, busy0, broker0 = time.time(), machine_busy_ticks(), process_ticks(broker.proc.pid)
        report = run_load(args, broker, case_args(case, args), report_path)
        busy1, broker1, t1 = machine_busy_ticks(), process_ticks(broker.proc.pid), time.time()
    finally:
        broker.stop()
    ours = (broker1 - broker0) + report["client"]["cpuS"] * HZ
    return report, max(0.0, (busy1 - busy0 - ours) / (HZ * (t1 - t0) * os.cpu_count()))


def case_args(case, args):
    if case in THROUGHPUT:
        # A long window timeout: the window, not a write-off, bounds what waits in the broker.
        return THROUGHPUT[case][1] + ["--interval-ms", "0", "--window", str(args.window), "--window-timeout-ms", "10000",
                                      "--payload-size", str(args.payload), "--duration", str(args.duration)]
    if case == "d":
        return IDLE[1] + ["--duration", str(args.idle_hold)]
    return STORM[1] + ["--connect-concurrency", str(args.storm_concurrency)]


def title(case):
    return THROUGHPUT[case][0] if case in THROUGHPUT else (IDLE if case == "d" else STORM)[0]


def metrics(case, r):
    """The numbers a case is judged by, from one fakecloud-load report."""
    if case in THROUGHPUT:
        m = r["messages"]
        return {
            "delivered/s": m["deliveredPerSec"],
            "p50 ms": r["latencyMs"]["p50"],
            "p99 ms": r["latencyMs"]["p99"],
            "broker CPU µs/msg": r["server"].get("cpuUsPerDelivered", 0),
            "lost+dup": m["lost"] + m["duplicated"],
        }
    if case == "d":
        return {"RSS B/conn": r["server"].get("rssPerConnectionBytes", 0),
                "connected": r["connections"]["connected"]}
    return {"connect s": r["connections"]["phaseS"], "connected": r["connections"]["connected"],
            "connect p99 ms": r["connections"]["latencyMs"]["p99"]}


# Targets of issue 4: ratio targets compare with Mosquitto, absolute ones apply to fakecloud.
TARGETS = {
    "delivered/s": ("ratio", lambda x: x >= 2.0, "≥ 2× mosquitto"),
    "p99 ms": ("ratio", lambda x: x <= 1.0, "≤ mosquitto"),
    "RSS B/conn": ("abs", lambda x: x <= 2048, "≤ 2048 B"),
    "connect s": ("abs", lambda x: x <= 2.0, "≤ 2 s"),
}


def fmt(v):
    if isinstance(v, float) and v >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def other_kind(results):
    """What fakecloud was compared with: "mosquitto", or "baseline" (an earlier fakecloud build)."""
    return "baseline" if any("baseline" in runs for runs in results.values()) else "mosquitto"


def table(results, cases):
    rows = []
    other = other_kind(results)
    for case in cases:
        runs = results.get(case)
        if not runs:
            continue
        names = list(metrics(case, runs["fakecloud"][0]).keys())
        first = True
        for name in names:
            fc = statistics.median(metrics(case, r)[name] for r in runs["fakecloud"])
            mq = statistics.median(metrics(case, r)[name] for r in runs[other])
            ratio = fc / mq if mq else None
            verdict = ""
            if name in TARGETS and other == "mosquitto":
                kind, ok, text = TARGETS[name]
                judged = ratio if kind == "ratio" else fc
                verdict = "—" if judged is None else ("met " if ok(judged) else "MISSED ") + f"({text})"
            rows.append((title(case) if first else "", name, fmt(fc), fmt(mq),
                         "—" if ratio is None else f"{ratio:.2f}", verdict))
            first = False
    return rows


def render_text(rows, other="mosquitto"):
    head = ("case", "metric (median)", "fakecloud", other, "fc/mq" if other == "mosquitto" else "fc/base", "target")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(w) if i < 2 or i == 5 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(head), line(tuple("-" * w for w in widths))] + [line(r) for r in rows])


def render_markdown(rows, other="mosquitto"):
    ratio = "fc/mq" if other == "mosquitto" else "fc/base"
    out = [f"| case | metric (median) | fakecloud | {other} | {ratio} | target |", "|---|---|--:|--:|--:|---|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", default=str(ROOT / "build-load"), help="where fakecloud and fakecloud-load are built")
    p.add_argument("--fakecloud", help="fakecloud binary (default: BUILD/server/fakecloud)")
    p.add_argument("--load", help="fakecloud-load binary (default: BUILD/loadtest/fakecloud-load)")
    p.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    p.add_argument("--baseline", help="an earlier fakecloud binary to compare with instead of Mosquitto "
                                      "(same settings, runs alternated)")
    p.add_argument("--cases", default=",".join(ALL_CASES), help="comma-separated: " + ",".join(ALL_CASES))
    p.add_argument("--reps", type=int, default=3, help="repetitions of each case and broker (median reported)")
    p.add_argument("--duration", type=float, default=10, help="publishing seconds per throughput run")
    p.add_argument("--payload", type=int, default=64, help="payload bytes")
    p.add_argument("--window", type=int, default=8,
                   help="throughput cases: messages per publisher not yet received by all its subscribers")
    p.add_argument("--idle-hold", type=float, default=5, help="seconds the idle fleet is held before sampling RSS")
    p.add_argument("--storm-concurrency", type=int, default=1000, help="connection attempts in flight in case e")
    p.add_argument("--load-threads", type=int, default=2, help="fakecloud-load I/O threads")
    p.add_argument("--max-other", type=float, default=0.08,
                   help="a run during which other processes used more than this share of the CPUs is repeated")
    p.add_argument("--attempts", type=int, default=4, help="tries per run before keeping a noisy one")
    p.add_argument("--wait-quiet", type=float, default=300,
                   help="seconds to wait before each run for other processes to leave the machine alone")
    p.add_argument("--json", help="write every run's report and the medians here")
    p.add_argument("--render", nargs="+", metavar="JSON",
                   help="run nothing: print the table of results saved with --json (a later file's cases "
                        "replace an earlier one's)")
    p.add_argument("--markdown", help="write the table as Markdown here")
    args = p.parse_args()
    if args.render:
        results = {}
        for path in args.render:
            results.update(json.loads(Path(path).read_text())["runs"])
        rows = table(results, [c for c in ALL_CASES if c in results])
        print(render_text(rows, other_kind(results)))
        if args.markdown:
            Path(args.markdown).write_text(render_markdown(rows, other_kind(results)) + "\n")
        return
    args.fakecloud = args.fakecloud or str(Path(args.build_dir) / "server" / "fakecloud")
    args.load = args.load or str(Path(args.build_dir) / "loadtest" / "fakecloud-load")
    other = "baseline" if args.baseline else "mosquitto"
    for binary in (args.fakecloud, args.load, args.baseline or args.mosquitto):
        if not os.access(binary, os.X_OK):
            sys.exit(f"run_bench: {binary} is missing (build with: cmake --build {args.build_dir} "
                     f"--target fakecloud fakecloud-load; apt-get install mosquitto)")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in ALL_CASES]
    if unknown:
        sys.exit(f"run_bench: unknown case(s) {unknown}; choose from {ALL_CASES}")

    work = Path(tempfile.mkdtemp(prefix="fakecloud-bench-"))
    results, busy = {}, []
    started = time.time()
    try:
        for case in cases:
            results[case] = {"fakecloud": [], other: []}
            for rep in range(args.reps):
                # Alternate who goes first, so a drift in the machine's state does not favour one.
                order = ["fakecloud", other] if rep % 2 == 0 else [other, "fakecloud"]
                for kind in order:
                    for attempt in range(1, args.attempts + 1):
                        wait_quiet(args)
                        report, others = measured_run(args, kind, work / f"{case}-{kind}-{rep}.json", case)
                        if others <= args.max_other or attempt == args.attempts:
                            break
                        print(f"         {case} {kind} #{rep + 1}: others used {others:.0%} of the machine; again",
                              flush=True)
                    if others > args.max_other:
                        busy.append((case, kind, rep, others))
                    report["bench"] = {"otherCpuShare": others, "attempts": attempt}
                    results[case][kind].append(report)
                    summary = ", ".join(f"{k} {fmt(v)}" for k, v in metrics(case, report).items())
                    print(f"[{time.time() - started:6.0f}s] {case} {kind:9} #{rep + 1}: {summary} "
                          f"(others used {others:.0%} of the machine)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = table(results, cases)
    print()
    print(render_text(rows, other))
    cpu = (os.popen("lscpu | sed -n 's/^Model name:\\s*//p'").read().strip() or "?")
    print(f"\n{os.cpu_count()} CPUs ({cpu}); fakecloud-load with {args.load_threads} threads on the same machine; "
          f"{args.reps} runs per case and broker; {args.duration:g} s per throughput run, window {args.window}.")
    if busy:
        print(f"WARNING: other processes used more than {args.max_other:.0%} of the machine during {len(busy)} "
              "run(s); their numbers are noisy: " + ", ".join(f"{c}/{k}#{r + 1} {o:.0%}" for c, k, r, o in busy[:10]))
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(rows, other) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "table": rows, "busy": busy}, indent=1))


if __name__ == "__main__":
    main()
