#!/usr/bin/python3
"""What tcpleak leaks costs on a machine full of descriptors while sockets
keep leaking: its CPU share, and the cost of one descriptor-table scan.

The load, built once and shared by every tcpleak measured:
  - PROCESSES processes holding CONNECTIONS loopback connections each (both
    ends: 2 descriptors per connection): every descriptor on the machine is
    one a scan walks;
  - a steady leaker: RATE sockets a second enter CLOSE_WAIT and stay there
    HOLD seconds (past the threshold of 1 s: each is a leak, then resolved).

Each tcpleak binary given runs `leaks --json --threshold 1s` for SECONDS,
one after another (interleaved over --rounds); its CPU time (utime + stime
of /proc/PID/stat, from attached to caught up) over the wall time is its
share of one core. The summary record gives the scans and their time.

Run as root (scripts/bench --scans does, with the build's binary; add
--compare OTHER_BINARY for a side by side).

--top: the same population (no leaker), measured under `tcpleak top --json
--interval INTERVAL` instead: per census, the wall time of the reads (the
census record's scan.us) and the CPU time of the whole interval (reads,
join, ranking, output: utime + stime over the censuses written). Sockets on
the machine: 2 x PROCESSES x CONNECTIONS plus the listeners, e.g.
  bench/scan_cost.py --tcpleak build/tcpleak --top --connections 250   # ~100,000 sockets
"""

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LEAKER = os.path.join(HERE, "..", "tests", "e2e", "leaker.py")
TICKS = os.sysconf("SC_CLK_TCK")


def holder(connections, ready_fd):
    """A child that holds `connections` loopback connections, then waits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * connections + 64
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    kept = []
    for _ in range(connections):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = listener.accept()
        kept += [c, s]
    os.write(ready_fd, b"x")
    os.close(ready_fd)
    signal.pause()


def start_population(processes, connections):
    pids = []
    r, w = os.pipe()
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                holder(connections, w)
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    got = 0
    while got < processes:
        chunk = os.read(r, processes)
        if not chunk:
            raise SystemExit("scan_cost: a holder died before it was ready")
        got += len(chunk)
    os.close(r)
    return pids


def stop_population(pids):
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        os.waitpid(pid, 0)


def descriptors_on_machine():
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                total += len(os.listdir("/proc/%s/fd" % pid))
            except OSError:
                pass
    return total


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def run_measured(argv, output, seconds):
    """Runs argv (its NDJSON to `output`) for `seconds` once it has written its
    start record; returns its records and (CPU seconds, wall seconds) of the span."""
    out = open(output, "w+")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while os.path.getsize(out.name) == 0:  # the start record: attached
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("scan_cost: %s did not start" % argv[0])
        time.sleep(0.01)
    cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(seconds)
    cpu1, wall1 = cpu_seconds(proc.pid), time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    out.seek(0)
    return [json.loads(line) for line in out if line.strip()], (cpu1 - cpu0, wall1 - wall0)


def measure(binary, seconds):
    records, (cpu, wall) = run_measured([binary, "leaks", "--json", "--threshold", "1s"],
                                        "/tmp/tcpleak-scan-cost.ndjson", seconds)
    summary = next((r for r in records if r.get("type") == "summary"), {})
    leaks = sum(1 for r in records if r.get("type") == "leak")
    return {
        "cpu_share": cpu / wall,
        "leaks": leaks,
        "scans": summary.get("scans"),
        "scan_ms": summary.get("scan_ms"),
    }


def measure_top(binary, seconds, interval):
    """CPU and scan time per census of `tcpleak top` over `seconds`."""
    records, (cpu, wall) = run_measured([binary, "top", "--json", "--interval", interval],
                                        "/tmp/tcpleak-top-cost.ndjson", seconds)
    censuses = [r for r in records if r.get("type") == "census"]
    # The censuses of the measured span: all but the first, which top takes
    # as it starts, about when the span begins.
    measured = max(1, len(censuses) - 1)
    scan_us = sorted(c["scan"]["us"] for c in censuses)
    return {
        "sockets": censuses[-1]["sockets"] if censuses else 0,
        "holders": censuses[-1]["scan"]["holders"] if censuses else 0,
        "censuses": len(censuses),
        "cpu_share": cpu / wall,
        "cpu_ms_per_census": 1000 * cpu / measured,
        "scan_ms_median": scan_us[len(scan_us) // 2] / 1000 if scan_us else None,
        "scan_ms_max": scan_us[-1] / 1000 if scan_us else None,
    }


def main_top(args, binaries):
    for b in binaries:
        runs = [measure_top(b, args.seconds, args.interval) for _ in range(args.rounds)]
        runs.sort(key=lambda r: r["cpu_ms_per_census"])
        mid = runs[len(runs) // 2]
        line = dict(binary=b, interval=args.interval, **mid,
                    runs_cpu_ms_per_census=[round(r["cpu_ms_per_census"], 1) for r in runs])
        if args.json:
            print(json.dumps(line))
        else:
            print("%-30s %7d sockets %7d holders  census every %s: scan %.1f ms (max %.1f), CPU %.1f ms per census "
                  "(%.1f%% of a core; runs: %s)"
                  % (b, mid["sockets"], mid["holders"], args.interval, mid["scan_ms_median"], mid["scan_ms_max"],
                     mid["cpu_ms_per_census"], 100 * mid["cpu_share"],
                     ", ".join("%.1f" % r for r in line["runs_cpu_ms_per_census"])))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tcpleak", required=True, help="the tcpleak binary to measure")
    parser.add_argument("--compare", action="append", default=[], help="another tcpleak binary, side by side")
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--connections", type=int, default=500, help="per process (2 descriptors each)")
    parser.add_argument("--rate", type=float, default=10, help="leaks per second")
    parser.add_argument("--hold", type=float, default=3, help="seconds each leaked socket stays in CLOSE_WAIT")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="one JSON line per binary")
    parser.add_argument("--top", action="store_true", help="measure `tcpleak top` instead (no leaker)")
    parser.add_argument("--interval", default="2s", help="with --top: its --interval")
    args = parser.parse_args()

    population = start_population(args.processes, args.connections)
    if args.top:
        try:
            main_top(args, [args.tcpleak] + args.compare)
        finally:
            stop_population(population)
        return
    leaker = subprocess.Popen([sys.executable, LEAKER, "steady", str(args.rate), str(args.hold)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    leaker.stdout.readline()  # ready
    try:
        descriptors = descriptors_on_machine()
        binaries = [args.tcpleak] + args.compare
        results = {b: [] for b in binaries}
        for _ in range(args.rounds):
            for b in binaries:
                results[b].append(measure(b, args.seconds))
        for b in binaries:
            runs = results[b]
            share = sorted(r["cpu_share"] for r in runs)[len(runs) // 2]
            scans = sum(r["scans"] or 0 for r in runs)
            scan_ms = sum(r["scan_ms"] or 0 for r in runs)
            line = {"binary": b, "descriptors": descriptors, "leak_rate": args.rate,
                    "cpu_share_median": round(share, 4), "runs": [round(r["cpu_share"], 4) for r in runs],
                    "leaks": [r["leaks"] for r in runs],
                    "scans": scans, "ms_per_scan": round(scan_ms / scans, 1) if scans else None}
            if args.json:
                print(json.dumps(line))
            else:
                print("%-40s %7d descriptors  %4.1f leaks/s  CPU %5.1f%% of a core (runs: %s)  %s scans, %s ms each"
                      % (b, descriptors, args.rate, 100 * share, ", ".join("%.1f%%" % (100 * r["cpu_share"]) for r in runs),
                         scans, line["ms_per_scan"]))
    finally:
        leaker.kill()
        stop_population(population)


if __name__ == "__main__":
    main()
