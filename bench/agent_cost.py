#!/usr/bin/python3
"""What `tcpleak agent` costs the node it stays on (scripts/bench --agent):

1. The syscall tax: ns per read() of an unrelated process
   (tcpleak-syscall-loop) alone, beside `agent` (no syscall hook), beside
   `agent --exact` (close/dup hooks) and beside `leaks` (accept, close and
   dup hooks), interleaved over --rounds; medians and the overhead on alone.
2. The churn ratio: loopback connections/s of tcpleak-churn beside each
   tcpleak over the rate alone (interleaved too).
3. The agent at scale: for each --sockets count, PROCESSES processes holding
   that many loopback sockets between them (bench/scan_cost.py's
   population); the agent runs with --interval (15 s: a scrape interval) for
   --measure seconds: its CPU share of one core, its peak RSS (VmHWM), and
   the census time it exports (tcpleak_scan_duration_seconds, every scrape).

Run as root. One JSON line per measurement with --json; a table otherwise.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan_cost  # noqa: E402  (population, cpu_seconds)

TRACERS = {
    "alone": None,
    "agent": ["agent", "--listen", "127.0.0.1:0"],
    "agent --exact": ["agent", "--listen", "127.0.0.1:0", "--exact"],
    "leaks": ["leaks", "--json"],
}


class Tracer:
    """A tcpleak command running in the background, attached."""

    def __init__(self, binary, args, timeout=60):
        self.out = open("/tmp/tcpleak-agent-cost.out", "w+")
        self.err = open("/tmp/tcpleak-agent-cost.err", "w+")
        self.proc = subprocess.Popen([binary] + args, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL)
        self.port = None
        deadline = time.monotonic() + timeout
        while not self._attached():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("agent_cost: %s did not start: %s" % (args, open(self.err.name).read()))
            time.sleep(0.02)

    def _attached(self):
        if self.proc.args[1] == "agent":  # the readiness line, with the port
            m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", open(self.err.name).read())
            self.port = int(m.group(1)) if m else None
            return self.port is not None
        return os.path.getsize(self.out.name) > 0  # the start record

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=10) as reply:
            return reply.read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def tracepoint_programs():
    """BPF programs of type tracepoint loaded on the machine (bpftool): what puts
    every syscall on the slow path. Another tcpleak leaks/trace/run of a
    concurrent test has some; a measurement beside them measures them too."""
    done = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    return sum(1 for p in json.loads(done.stdout or "[]") if p.get("type") == "tracepoint")


def wait_for_quiet(timeout=180):
    """Until no foreign syscall tracepoint is loaded; False if one stays."""
    deadline = time.monotonic() + timeout
    while tracepoint_programs() > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def beside(binary, name, run, tries=5):
    """run() while the tracer of configuration name is attached, on a machine
    where nothing else hooks syscalls (retried when something did meanwhile)."""
    args = TRACERS[name]
    for _ in range(tries):
        quiet = wait_for_quiet()
        tracer = Tracer(binary, args) if args else None
        try:
            own = tracepoint_programs()
            value = run()
            if quiet and tracepoint_programs() == own:
                return value
        finally:
            if tracer:
                tracer.stop()
    print("agent_cost: %s: foreign syscall tracepoints during every try; last value kept" % name, file=sys.stderr)
    return value


def syscall_ns(loop, seconds):
    done = subprocess.run([loop, "--duration", str(seconds)], capture_output=True, check=True, text=True)
    return json.loads(done.stdout)["ns_per_call"]


def churn_rate(churn, seconds):
    done = subprocess.run([churn, "--duration", str(seconds), "--json"], capture_output=True, check=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["rate"]


def interleaved(binary, rounds, run):
    results = {name: [] for name in TRACERS}
    for _ in range(rounds):
        for name in TRACERS:
            results[name].append(beside(binary, name, run))
    return {name: statistics.median(values) for name, values in results.items()}, results


def scan_seconds(text):
    m = re.search(r"^tcpleak_scan_duration_seconds (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def sockets_held(text):
    return sum(float(v) for v in re.findall(r"^tcpleak_sockets\{[^}]*\} (\S+)$", text, re.M))


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmHWM:\s+(\d+)", f.read(), re.M).group(1))


def agent_at_scale(binary, sockets, processes, interval, seconds):
    population = scan_cost.start_population(processes, max(1, sockets // (2 * processes)))
    try:
        tracer = Tracer(binary, ["agent", "--listen", "127.0.0.1:0", "--interval", "%ds" % interval])
        try:
            cpu0, wall0 = scan_cost.cpu_seconds(tracer.proc.pid), time.monotonic()
            scans, counted = [], 0
            while time.monotonic() - wall0 < seconds:
                time.sleep(interval)  # like Prometheus: a scrape per interval
                text = tracer.scrape()
                scans.append(scan_seconds(text))
                counted = sockets_held(text)
            cpu1, wall1 = scan_cost.cpu_seconds(tracer.proc.pid), time.monotonic()
            rss = peak_rss_kib(tracer.proc.pid)
        finally:
            tracer.stop()
    finally:
        for pid in population:
            os.kill(pid, signal.SIGKILL)
        for pid in population:
            os.waitpid(pid, 0)
    return {"sockets_asked": sockets, "sockets_counted": int(counted), "processes": processes,
            "cpu_share": round((cpu1 - cpu0) / (wall1 - wall0), 4), "peak_rss_mib": round(rss / 1024, 1),
            "scan_ms": [round(1000 * s, 1) for s in scans if s is not None]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tcpleak", required=True)
    parser.add_argument("--loop", required=True, help="tcpleak-syscall-loop")
    parser.add_argument("--churn", required=True, help="tcpleak-churn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3, help="per syscall-loop and churn run")
    parser.add_argument("--sockets", default="20000,50000,100000")
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--interval", type=int, default=15)
    parser.add_argument("--measure", type=float, default=60, help="seconds per socket count")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    emit = (lambda kind, obj: print(json.dumps(dict(obj, measurement=kind)), flush=True)) if args.json else None
    tax, runs = interleaved(args.tcpleak, args.rounds, lambda: syscall_ns(args.loop, args.seconds))
    for name, ns in tax.items():
        line = {"config": name, "ns_per_syscall": ns, "overhead_pct": round(100 * (ns / tax["alone"] - 1), 1),
                "runs": runs[name]}
        emit("syscall_tax", line) if emit else print("syscall tax  %-14s %6.1f ns/read()  %+5.1f%%  runs %s"
                                                      % (name, ns, line["overhead_pct"], runs[name]))
    rate, runs = interleaved(args.tcpleak, args.rounds, lambda: churn_rate(args.churn, args.seconds))
    for name, r in rate.items():
        line = {"config": name, "connections_per_s": r, "ratio": round(r / rate["alone"], 3), "runs": runs[name]}
        emit("churn", line) if emit else print("churn        %-14s %8.0f conn/s  ratio %.3f  runs %s"
                                                % (name, r, line["ratio"], runs[name]))
    for count in (int(c) for c in args.sockets.split(",")):
        line = agent_at_scale(args.tcpleak, count, args.processes, args.interval, args.measure)
        emit("scale", line) if emit else print(
            "agent        %6d sockets (%d counted) / %d processes: CPU %.2f%% of a core, peak RSS %.1f MiB, "
            "census %s ms" % (count, line["sockets_counted"], args.processes, 100 * line["cpu_share"],
                              line["peak_rss_mib"], line["scan_ms"]))


if __name__ == "__main__":
    main()
