# Over 500 lines: one test per outcome of run (exit statuses, reports, signals, the tree).
"""End-to-end tests of `tcpleak run`: the real binary running real commands.

The traced program is usually peer.py itself, started by tcpleak run and
driven through tcpleak's stdin/stdout (Peer(prefix=...)): its "ready pid=N"
line comes through tcpleak's stdout, its commands through tcpleak's stdin,
and Peer.exit() returns tcpleak's exit status. Its server is a Peer outside
the traced tree. tcpleak's report goes to stderr (Peer.err) and the files.
"""

import json
import os
import re
import select
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

import harness
from harness import Peer, Tcpleak, open_connection

THRESHOLD = "500ms"
THRESHOLD_MS = 500
LEAKER_COMM = "run-leaker"
SERVER_COMM = "run-server"
# sh runs the peer as its child (not exec'd: a command follows it).
SH_WRAP = ["sh", "-c", '"$0" "$@"; exit $?']


# ---------------------------------------------------------------------------
# Helpers


def run_schema_path():
    """docs/tcpleak-run-report.schema.json, next to the events schema."""
    return os.path.join(os.path.dirname(os.path.abspath(harness.schema_path())),
                        "tcpleak-run-report.schema.json")


_run_validator = None


def run_validator():
    global _run_validator
    if _run_validator is None:
        from jsonschema import Draft202012Validator

        with open(run_schema_path(), encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
        _run_validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return _run_validator


def read_report(path):
    """The JSON report, parsed strictly and validated against its schema."""
    with open(path, "rb") as f:
        raw = f.read()
    report = json.loads(raw.decode("utf-8"))
    errors = ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(document)", e.message)
              for e in run_validator().iter_errors(report)]
    assert not errors, "the JSON report does not match its schema:\n  %s\n%s" % (
        "\n  ".join(errors[:10]), raw[:3000].decode("utf-8", "replace"))
    return report


def junit_schema_path():
    """docs/junit.xsd, next to the events schema."""
    return os.path.join(os.path.dirname(os.path.abspath(harness.schema_path())), "junit.xsd")


def read_junit(path):
    """The JUnit report: valid against docs/junit.xsd (xmllint, from
    libxml2-utils), its counts matching its elements. Returns (root, suite)."""
    p = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", junit_schema_path(), str(path)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, "%s is not valid against docs/junit.xsd:\n%s\n%s" % (
        path, p.stderr.decode("utf-8", "replace"), open(path, "rb").read()[:3000].decode("utf-8", "replace"))
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites", root.tag
    suites = root.findall("testsuite")
    assert len(suites) == 1, ET.tostring(root)[:2000]
    for element in (root, suites[0]):
        counts = (element.get("tests"), element.get("failures"), element.get("errors"))
        found = tuple(str(len(element.findall(".//" + tag))) for tag in ("testcase", "failure", "error"))
        assert counts == found, "tests/failures/errors %r, elements %r\n%s" % (counts, found,
                                                                               ET.tostring(root)[:3000])
    return root, suites[0]


def run_prefix(*opts, threshold=THRESHOLD):
    return [harness.tcpleak_bin(), "run", "--threshold", threshold] + list(opts) + ["--"]


def traced_peer(*opts, wrap=(), comm=LEAKER_COMM, threshold=THRESHOLD):
    """A peer run by `tcpleak run OPTS -- [WRAP...] python3 peer.py`."""
    return Peer(comm=comm, prefix=run_prefix(*opts, threshold=threshold) + list(wrap))


def run_plain(*args, stdin=subprocess.DEVNULL, threshold=THRESHOLD):
    """`tcpleak run --threshold THRESHOLD ARGS...` (ARGS include "--" COMMAND)."""
    return Tcpleak(["run", "--threshold", threshold] + list(args), json_mode=False, stdin=stdin)


def leak_in_traced_peer(prog, server):
    """The traced peer connects to `server`, which hangs up: the traced side
    is left in CLOSE_WAIT. Returns the Connection (server = the outside peer)."""
    lst = server.listen()
    c = prog.connect(lst["port"])
    a = server.accept(lst["fd"])
    assert a["port"] == c["sport"], (a, c)
    server.close(a["fd"])
    prog.wait_eof(c["fd"])
    assert prog.state(c["fd"]) == "CLOSE_WAIT"
    return {"fd": c["fd"], "sport": c["sport"], "port": lst["port"], "sock": prog.cookie(c["fd"])}


def wait_announce(prog, pid, fd, timeout=harness.DEFAULT_TIMEOUT):
    """tcpleak run's "tcpleak: leak: pid N comm fd F ..." line on stderr."""
    want = ("tcpleak: leak: pid %d " % pid).encode()
    fd_words = (" fd %d " % fd).encode()

    def found():
        return [l for l in prog.err.lines if l.startswith(want) and fd_words in l]

    got = prog.err.wait(found, timeout)
    assert got, "no %r line with fd %d on stderr within %.0fs\n%s" % (want, fd, timeout, prog.report())
    return got[0]


def wait_threshold_passed(threshold=THRESHOLD):
    """Returns once a socket that entered CLOSE_WAIT now has been there longer
    than `threshold`, as `tcpleak leaks` measures it: a fresh leak between two
    peers outside every traced tree, reported by a `tcpleak leaks -p`."""
    server, client = Peer(comm="clock-server"), Peer(comm="clock-client")
    clock = Tcpleak(["leaks", "--json", "--threshold", threshold, "-p", str(server.pid)])
    clock.wait_started()
    c = open_connection(server, client)
    client.close(c.cfd)
    server.wait_eof(c.afd)
    clock.wait_for(lambda r: r["type"] == "leak" and r["sock"] == c.server_sock, what="the clock's leak")
    assert clock.stop() == 3
    return c


def stderr_text(peer):
    return peer.err.text()


def parent_of(pid):
    """The ppid in /proc/PID/stat (the comm may hold spaces and parentheses)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def comm_of(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def keeper_of(command_pid, tcpleak_pid):
    """COMMAND's parent: tcpleak's keeper process (a child of tcpleak)."""
    keeper = parent_of(command_pid)
    assert parent_of(keeper) == tcpleak_pid and comm_of(keeper) == "tcpleak-keeper", (keeper, tcpleak_pid)
    return keeper


# ---------------------------------------------------------------------------
# 1: a clean program


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "verbose-report"])
def test_clean_program(tmp_path, quiet):
    report_path = tmp_path / "report.json"
    server = Peer(comm=SERVER_COMM)
    opts = (["-q"] if quiet else []) + ["--json-report", str(report_path)]
    prog = traced_peer(*opts)
    lst = server.listen()
    c = prog.connect(lst["port"])
    a = server.accept(lst["fd"])
    server.close(a["fd"])
    prog.wait_eof(c["fd"])  # in CLOSE_WAIT ...
    prog.close(c["fd"])  # ... and closed at once
    keeper = keeper_of(prog.pid, prog.proc.pid)
    wait_threshold_passed()  # the run goes on past the threshold
    assert prog.exit(0) == 0, prog.report()
    err = prog.err.lines
    if quiet:
        assert err == [], "-q and no leak, yet stderr has:\n%s" % stderr_text(prog)
    else:
        text = stderr_text(prog)
        assert "tcpleak: no socket left in CLOSE_WAIT past 500ms by 1 traced process" in text, text
        assert "tcpleak: leak:" not in text, text
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (0, 0, None), report
    assert report["leaks_found"] == 0 and report["leaks"] == [], report
    assert report["threshold_ms"] == THRESHOLD_MS
    procs = report["processes"]
    assert [p["pid"] for p in procs] == [prog.pid], procs
    assert procs[0]["ppid"] == keeper and procs[0]["traced"] is True, procs
    assert (procs[0]["exit_code"], procs[0]["exit_signal"], procs[0]["leaks"]) == (0, None, []), procs
    assert report["command"] == prog.argv[prog.argv.index("--") + 1:], report["command"]


# ---------------------------------------------------------------------------
# 2: a leaking program


def check_leak_of_traced(leak, prog, conn, *, pid, comm=LEAKER_COMM):
    """A leak of the traced peer's connected socket, never closed, ended by its exit."""
    want = {
        "pid": pid, "comm": comm, "fd": conn["fd"], "family": "ipv4",
        "saddr": "127.0.0.1", "sport": conn["sport"], "daddr": "127.0.0.1", "dport": conn["port"],
        "netns": os.stat("/proc/self/ns/net").st_ino, "verdict": "never_closed", "since_start": False,
        "closed_by": None, "closed_by_comm": None, "closed_by_fd": None, "closed_via": None,
        "holders": [{"pid": pid, "comm": comm, "fd": conn["fd"]}],
        "owner_pid": pid, "owner_comm": comm, "sock": conn["sock"], "rx_queue": 0,
    }
    got = {k: leak[k] for k in want}
    diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not diff, "leak differs (got, expected): %r\n%s" % (diff, json.dumps(leak, indent=1))
    assert leak["close_wait_ms"] >= THRESHOLD_MS, leak
    assert "peer.py" in leak["cmdline"], leak
    res = leak["resolved"]
    assert res is not None, leak
    assert (res["how"], res["by_pid"], res["by_comm"]) == ("exit", pid, comm), leak
    assert res["close_wait_ms"] >= THRESHOLD_MS, leak


def test_leaking_program(tmp_path):
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("--json-report", str(report_path), "--junit", str(junit_path))
    conn = leak_in_traced_peer(prog, server)
    line = wait_announce(prog, prog.pid, conn["fd"])
    assert ("pid %d %s fd %d 127.0.0.1:%d -> 127.0.0.1:%d in CLOSE_WAIT for " % (
        prog.pid, LEAKER_COMM, conn["fd"], conn["sport"], conn["port"])).encode() in line, line
    # The server closed its end: on this host, so named, with no descriptor.
    assert line.endswith(b": never closed; the other end: orphaned in FIN_WAIT2"), line
    assert prog.exit(0) == 3, prog.report()

    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (3, 0, None)
    assert report["leaks_found"] == 1 and len(report["leaks"]) == 1, report
    leak = report["leaks"][0]
    check_leak_of_traced(leak, prog, conn, pid=prog.pid)
    named = {leak["pid"], leak["owner_pid"], leak["resolved"]["by_pid"]} | {h["pid"] for h in leak["holders"]}
    assert server.pid not in named, "the server's pid in the leak: %r" % leak
    procs = report["processes"]
    assert [p["pid"] for p in procs] == [prog.pid], procs
    assert procs[0]["leaks"] == [leak], procs
    assert procs[0]["exit_code"] == 0 and procs[0]["traced"] is True, procs

    root, suite = read_junit(junit_path)
    assert (root.get("tests"), root.get("failures")) == ("1", "1"), ET.tostring(root)[:2000]
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1"), ET.tostring(suite)[:2000]
    cases = suite.findall("testcase")
    assert len(cases) == 1, ET.tostring(suite)[:3000]
    failures = cases[0].findall("failure")
    assert len(failures) == 1, ET.tostring(cases[0])[:3000]
    f = failures[0]
    assert f.get("type") == "never_closed", f.attrib
    assert f.get("message").startswith("pid %d %s fd %d 127.0.0.1:%d -> 127.0.0.1:%d in CLOSE_WAIT for " % (
        prog.pid, LEAKER_COMM, conn["fd"], conn["sport"], conn["port"])), f.attrib
    assert ": never closed; the other end: orphaned in FIN_WAIT2; ended: exit by %d %s" % (prog.pid, LEAKER_COMM) in f.get("message"), f.attrib
    assert str(prog.pid) in cases[0].get("name"), cases[0].attrib
    assert ("fd:" in f.text and str(conn["fd"]) in f.text), f.text
    # The properties carry the run's outcome.
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["exit_status"] == "3" and props["leaked_sockets"] == "1", props


def test_junit_has_a_failing_test_case_per_leaked_socket(tmp_path):
    """One process leaves two sockets in CLOSE_WAIT: two failing test cases,
    one <failure> each, failures="2" (it said 1, with two <failure>
    elements in one test case, which docs/junit.xsd refuses)."""
    junit_path = tmp_path / "junit.xml"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("--junit", str(junit_path))
    conns = [leak_in_traced_peer(prog, server) for _ in range(2)]
    for conn in conns:
        wait_announce(prog, prog.pid, conn["fd"])
    assert prog.exit(0) == 3, prog.report()
    root, suite = read_junit(junit_path)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "2"), ET.tostring(suite)[:2000]
    cases = suite.findall("testcase")
    for case, conn in zip(sorted(cases, key=lambda c: c.get("name")), sorted(conns, key=lambda c: c["fd"])):
        assert case.get("name").startswith("pid %d " % prog.pid), case.attrib
        assert case.get("name").endswith("[fd %d 127.0.0.1:%d -> 127.0.0.1:%d]" % (
            conn["fd"], conn["sport"], conn["port"])), case.attrib
        assert [f.get("type") for f in case.findall("failure")] == ["never_closed"], ET.tostring(case)[:2000]


# (tcpleak's options, COMMAND's exit code, tcpleak's exit status) with a leak
LEAK_EXIT_CASES = [
    (["--leak-exit-code", "42"], 0, 42),
    ([], 5, 3),  # the leak's status wins over COMMAND's failure
    (["--leak-exit-code", "0"], 5, 5),  # leaks reported, never hiding COMMAND's own failure
]


@pytest.mark.parametrize("options, command_code, status", LEAK_EXIT_CASES,
                         ids=["leak-exit-code-42", "default-over-nonzero-exit", "leak-exit-code-0"])
def test_exit_status_with_a_leak(tmp_path, options, command_code, status):
    report_path = tmp_path / "report.json"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer(*options, "--json-report", str(report_path))
    conn = leak_in_traced_peer(prog, server)
    wait_announce(prog, prog.pid, conn["fd"])
    assert prog.exit(command_code) == status, prog.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["leaks_found"]) == (
        status, command_code, 1), report


def test_reports_land_where_the_command_recreated_their_directory(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    report_path = out / "report.json"
    tl = run_plain("-q", "--json-report", str(report_path), "--", "/bin/sh", "-c", 'rm -rf "$0" && mkdir "$0"',
                   str(out))
    assert tl.wait_exit() == 0, tl.report()
    assert read_report(report_path)["exit_status"] == 0


def test_the_same_file_for_both_reports_is_a_usage_error(tmp_path):
    path = str(tmp_path / "report")
    tl = run_plain("--json-report", path, "--junit", path, "--", "true")
    assert tl.wait_exit() == 2, tl.report()
    err = tl.stderr_lines()
    assert b"same file" in err[0] and err[-1].startswith(b"Run 'tcpleak run --help'"), tl.report()


@pytest.mark.parametrize("option", ["--json-report", "--junit"])
def test_unwritable_report_fails_before_the_command_runs(tmp_path, option):
    marker = tmp_path / "ran"
    bad = tmp_path / "a-directory"
    bad.mkdir()
    tl = run_plain(option, str(bad), "--", "/bin/sh", "-c", 'touch "$0"', str(marker))
    assert tl.wait_exit() == 1, tl.report()
    err = tl.stderr_lines()
    assert len(err) == 1 and str(bad).encode() in err[0], tl.report()
    assert not marker.exists(), "COMMAND ran although its report could not be written"


def shared_directory(tmp_path):
    """A directory like /tmp: everyone may write, sticky."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    return shared


@pytest.mark.parametrize("option", ["--json-report", "--junit"])
@pytest.mark.parametrize("planted_by", ["before", "command"])
def test_report_symlink_in_a_shared_directory_is_not_followed(tmp_path, option, planted_by):
    """--junit /tmp/leaks.xml where someone made /tmp/leaks.xml a symbolic
    link to a file of root's: tcpleak must not write through it, whether the
    link is there at the start (checked before COMMAND runs) or appears
    while COMMAND runs (checked again at the end)."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    report = shared_directory(tmp_path) / "report"
    marker = tmp_path / "ran"
    if planted_by == "before":
        os.symlink(victim, report)
        command = ["/bin/sh", "-c", 'touch "$0"', str(marker)]
    else:
        command = ["/bin/sh", "-c", 'ln -s "$1" "$2" && touch "$0"', str(marker), str(victim), str(report)]
    tl = run_plain("-q", option, str(report), "--", *command)
    assert tl.wait_exit() == 1, tl.report()
    err = tl.stderr_lines()
    assert len(err) == 1 and err[0].startswith(("tcpleak: cannot write %s: a symbolic link in " % report).encode()), \
        tl.report()
    assert victim.read_text() == "precious\n", "tcpleak wrote through the link"
    assert marker.exists() == (planted_by == "command"), "COMMAND ran although its report could not be written"


@pytest.mark.parametrize("path", ["/proc/version", "/proc/self/comm"])
def test_kernel_interface_as_report_fails_before_the_command_runs(tmp_path, path):
    """/proc/version opens for writing as root and fails only when written;
    /proc/self/comm would take the report as tcpleak's new name."""
    marker = tmp_path / "ran"
    tl = run_plain("-q", "--junit", path, "--", "/bin/sh", "-c", 'touch "$0"', str(marker))
    assert tl.wait_exit() == 1, tl.report()
    err = tl.stderr_lines()
    assert err == [("tcpleak: cannot write %s: a kernel interface (procfs), not a file for a report" % path).encode()], \
        tl.report()
    assert not marker.exists(), "COMMAND ran although its report could not be written"


@pytest.mark.parametrize("option", ["--json-report", "--junit"])
def test_full_disk_names_the_report(tmp_path, option):
    with harness.full_tmpfs(tmp_path / "full") as full:
        report = os.path.join(full, "leaks.xml")
        tl = run_plain("-q", option, report, "--", "true")
        assert tl.wait_exit() == 1, tl.report()
        assert tl.stderr_lines() == [("tcpleak: cannot write %s: No space left on device" % report).encode()], \
            tl.report()


def test_report_directory_made_by_the_command(tmp_path):
    """`--junit reports/x.xml -- make soak` where the soak creates reports/."""
    report_path = tmp_path / "reports" / "junit.xml"
    tl = run_plain("-q", "--junit", str(report_path), "--", "/bin/mkdir", str(report_path.parent))
    assert tl.wait_exit() == 0, tl.report()
    read_junit(report_path)


def test_report_directory_never_made_fails_at_the_end(tmp_path):
    marker = tmp_path / "ran"
    bad = tmp_path / "no-such-dir" / "report"
    tl = run_plain("-q", "--json-report", str(bad), "--", "/bin/sh", "-c", 'touch "$0"', str(marker))
    assert tl.wait_exit() == 1, tl.report()
    err = tl.stderr_lines()
    assert len(err) == 1 and str(bad).encode() in err[0], tl.report()
    assert marker.exists()


def test_quiet_still_reports_a_leak(tmp_path):
    report_path = tmp_path / "report.json"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("-q", "--json-report", str(report_path))
    conn = leak_in_traced_peer(prog, server)
    # No announcement with -q: a tcpleak leaks with twice the threshold tells
    # when run has surely had its look (every 50 ms) past its own threshold.
    clock = Tcpleak(["leaks", "--json", "--threshold", "1s", "-p", str(prog.pid)])
    clock.wait_started()
    clock.wait_for(lambda r: r["type"] == "leak" and r["sock"] == conn["sock"], what="the leak, seen by leaks")
    assert prog.exit(0) == 3, prog.report()
    assert clock.stop() == 3
    text = stderr_text(prog)
    assert re.search(r"^tcpleak: 1 socket leaked in CLOSE_WAIT by 1 process", text, re.M), text
    assert "tcpleak: leak:" not in text, "-q announced the leak as it happened:\n%s" % text
    assert "pid %d " % prog.pid in text, text
    report = read_report(report_path)
    check_leak_of_traced(report["leaks"][0], prog, conn, pid=prog.pid)


def test_traced_server_leaks_accepted_socket(tmp_path):
    """The traced program accepts; an outside client hangs up. On loopback the
    server's CLOSE_WAIT transition runs while the client's close() is on the
    CPU: the leak is still the traced server's."""
    report_path = tmp_path / "report.json"
    client = Peer(comm="run-client")
    prog = traced_peer("--json-report", str(report_path))
    c = open_connection(prog, client)
    client.close(c.cfd)
    prog.wait_eof(c.afd)
    wait_announce(prog, prog.pid, c.afd)
    assert prog.exit(0) == 3, prog.report()
    report = read_report(report_path)
    assert report["leaks_found"] == 1, report
    leak = report["leaks"][0]
    want = {"pid": prog.pid, "fd": c.afd, "sport": c.port, "dport": c.sport, "sock": c.server_sock,
            "verdict": "never_closed", "owner_pid": prog.pid,
            "holders": [{"pid": prog.pid, "comm": LEAKER_COMM, "fd": c.afd}]}
    got = {k: leak[k] for k in want}
    assert got == want, "got %r\nexpected %r" % (got, want)
    assert (leak["resolved"]["how"], leak["resolved"]["by_pid"]) == ("exit", prog.pid), leak


def test_forked_child_still_holds_at_the_end(tmp_path):
    """A child of the traced program inherits the socket, the program closes
    its copy and exits; the child still holds it when the run ends."""
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("--json-report", str(report_path), "--junit", str(junit_path))
    lst = server.listen()
    c = prog.connect(lst["port"])  # no SO_COOKIE asked: tcpleak must not need it
    child = prog.cmd("fork")["pid"]
    prog.close(c["fd"])
    a = server.accept(lst["fd"])
    server.close(a["fd"])  # the child's copy goes to CLOSE_WAIT, nobody reads it
    wait_announce(prog, child, c["fd"])
    assert prog.exit(0) == 3, prog.report()  # the orphaned child lingers until tcpleak ends it
    report = read_report(report_path)
    assert report["leaks_found"] == 1, report
    leak = report["leaks"][0]
    sock = leak["sock"]
    want = {"pid": child, "comm": LEAKER_COMM, "fd": c["fd"],
            "sport": c["sport"], "dport": lst["port"],
            "verdict": "closed_still_referenced", "closed_by": prog.pid, "closed_by_comm": LEAKER_COMM,
            "closed_by_fd": c["fd"], "closed_via": "close", "owner_pid": prog.pid,
            "holders": [{"pid": child, "comm": LEAKER_COMM, "fd": c["fd"]}], "resolved": None}
    got = {k: leak[k] for k in want}
    diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not diff, "leak differs (got, expected): %r\n%s" % (diff, json.dumps(leak, indent=1))
    procs = {p["pid"]: p for p in report["processes"]}
    assert [p["pid"] for p in report["processes"]] == [prog.pid, child], report["processes"]
    assert procs[child]["ppid"] == prog.pid and procs[child]["traced"] is True, procs
    assert procs[child]["exit_status"] is None, procs  # still running at the end
    assert [l["sock"] for l in procs[child]["leaks"]] == [sock] and procs[prog.pid]["leaks"] == [], procs
    root, suite = read_junit(junit_path)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1"), ET.tostring(suite)[:2000]
    failure = suite.find("testcase/failure")
    assert failure.get("type") == "closed_still_referenced", failure.attrib


# Both ends in one process: it closes the accepted end, waits for EOF on the
# connected one (now in CLOSE_WAIT), prints its port, holds it for argv[1]
# seconds and exits with it open.
HOLDER = r"""
import os, socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname())
a, _ = l.accept()
a.close()
assert c.recv(1) == b""
t = time.monotonic()
dup = os.dup(c.fileno()) if sys.argv[2] == "dup" else -1  # both die with the process
print("fd=%d sport=%d dport=%d dup=%d" % (c.fileno(), c.getsockname()[1], l.getsockname()[1], dup), flush=True)
while time.monotonic() - t < float(sys.argv[1]):
    time.sleep(0.001)
os._exit(0)
"""


@pytest.mark.parametrize("extra_ms,dup", [(2, False), (20, False), (45, False), (2, True), (20, True)],
                         ids=["2ms", "20ms", "45ms", "2ms-dup", "20ms-dup"])
def test_exit_just_past_the_threshold(tmp_path, extra_ms, dup):
    """Held past the threshold, then gone before tcpleak's next look (it looks
    every 50 ms): still a leak, reported at the exit. With a dup, the exit
    releases one descriptor while the other still holds the socket: that is
    not a close, the verdict stays never closed."""
    report_path = tmp_path / "report.json"
    hold = (THRESHOLD_MS + extra_ms) / 1000
    tl = run_plain("-q", "--json-report", str(report_path), "--", "/usr/bin/python3", "-c", HOLDER, str(hold),
                   "dup" if dup else "single")
    assert tl.wait_exit(timeout=30) == 3, tl.report()
    out = harness.parse_reply("ok " + tl.stdout_lines()[0].decode())
    report = read_report(report_path)
    assert report["leaks_found"] == 1, report
    leak = report["leaks"][0]
    pid = report["processes"][0]["pid"]
    got = (leak["pid"], leak["comm"], leak["sport"], leak["dport"], leak["verdict"], leak["owner_pid"],
           leak["resolved"]["how"], leak["resolved"]["by_pid"])
    assert got == (pid, "python3", out["sport"], out["dport"], "never_closed", pid, "exit", pid), leak
    assert leak["resolved"]["close_wait_ms"] >= THRESHOLD_MS, leak
    # tcpleak learns descriptors only from its descriptor-table scan: when the
    # exit beat the scan, fd is null and holders empty ("when known", says the
    # schema); otherwise they are exactly the program's.
    held = [{"pid": pid, "comm": "python3", "fd": fd} for fd in sorted({out["fd"], out["dup"]} - {-1})]
    assert (leak["fd"], leak["holders"]) in ((out["fd"], held), (None, [])), leak


# ---------------------------------------------------------------------------
# 3: a grandchild


def test_leak_in_grandchild_through_sh(tmp_path):
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("--json-report", str(report_path), "--junit", str(junit_path), wrap=SH_WRAP)
    # prog.pid came through tcpleak's stdout from the grandchild itself.
    sh_pid = parent_of(prog.pid)
    assert sh_pid != prog.proc.pid and sh_pid != prog.pid
    keeper = keeper_of(sh_pid, prog.proc.pid)
    conn = leak_in_traced_peer(prog, server)
    wait_announce(prog, prog.pid, conn["fd"])
    assert prog.exit(0) == 3, prog.report()

    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["leaks_found"]) == (3, 0, 1), report
    check_leak_of_traced(report["leaks"][0], prog, conn, pid=prog.pid)
    procs = {p["pid"]: p for p in report["processes"]}
    assert [p["pid"] for p in report["processes"]] == [sh_pid, prog.pid], report["processes"]
    assert procs[sh_pid]["ppid"] == keeper and procs[sh_pid]["leaks"] == [], procs
    assert procs[sh_pid]["exit_code"] == 0, procs
    assert procs[prog.pid]["ppid"] == sh_pid and procs[prog.pid]["traced"] is True, procs
    assert procs[prog.pid]["exit_code"] == 0, procs
    assert [l["sock"] for l in procs[prog.pid]["leaks"]] == [conn["sock"]], procs
    for p in procs.values():  # both seen starting (fork) and exiting
        assert p["start_time"] is not None and p["exit_time"] is not None, p
        assert p["start_time"] <= p["exit_time"], p
    assert procs[sh_pid]["comm"] == "sh", procs

    root, suite = read_junit(junit_path)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1"), ET.tostring(suite)[:2000]
    cases = suite.findall("testcase")
    failing = [tc for tc in cases if tc.findall("failure")]
    assert len(failing) == 1 and str(prog.pid) in failing[0].get("name"), [tc.attrib for tc in cases]


def test_hostile_names_in_reports(tmp_path):
    """A hostile process name (the leaker's) and command line (sh's $0): the
    JSON report stays valid, the JUnit file parses, stderr has no raw control
    characters."""
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    comm = b'q"<&>\x1b[2J\xff'
    comm_json = 'q"<&>\x1b[2J\ufffd'
    arg0 = 'evil<&>"\x01\x1b]0;x\x07\udcff]]>'  # \udcff: the byte 0xff (surrogateescape)
    server = Peer(comm=SERVER_COMM)
    prog = Peer(comm=comm, prefix=run_prefix("--json-report", str(report_path), "--junit", str(junit_path))
                + ["sh", "-c", '"$1" "$2" "$3" "$4"; exit $?', arg0])
    conn = leak_in_traced_peer(prog, server)
    wait_announce(prog, prog.pid, conn["fd"])
    assert prog.exit(0) == 3, prog.report()

    report = read_report(report_path)
    leak = report["leaks"][0]
    assert (leak["pid"], leak["comm"], leak["owner_comm"]) == (prog.pid, comm_json, comm_json), leak
    assert leak["holders"] == [{"pid": prog.pid, "comm": comm_json, "fd": conn["fd"]}], leak
    sh = report["processes"][0]
    assert sh["cmdline"].startswith("sh -c "), sh
    assert 'evil<&>"\x01\x1b]0;x\x07\ufffd]]>' in sh["cmdline"], sh

    root, suite = read_junit(junit_path)
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1"), ET.tostring(suite)[:2000]
    text = ET.tostring(root, encoding="unicode")
    assert "\x1b" not in text and "\x01" not in text and "\x07" not in text, text[:3000]
    assert "evil<&>" in " ".join(tc.get("name") for tc in suite.findall("testcase")), text[:3000]

    for line in prog.err.lines:  # tcpleak's report: printable
        bad = [b for b in line if (b < 0x20 and b != 0x09) or b == 0x7F]
        assert not bad, "raw control bytes %r on stderr: %r" % (bad, line)


# ---------------------------------------------------------------------------
# 4-5, 10: exit statuses


def test_command_exit_status_passes_through(tmp_path):
    report_path = tmp_path / "report.json"
    tl = run_plain("--json-report", str(report_path), "--", "sh", "-c", "exit 7")
    assert tl.wait_exit() == 7, tl.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (7, 7, None)
    assert report["command"] == ["sh", "-c", "exit 7"], report["command"]
    assert "sh -c 'exit 7' exited with 7" in tl.stderr_text(), tl.report()


def test_command_killed_by_signal(tmp_path):
    report_path = tmp_path / "report.json"
    tl = run_plain("--json-report", str(report_path), "--", "sh", "-c", "kill -9 $$")
    assert tl.wait_exit() == 137, tl.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (137, None, 9)
    assert report["processes"][0]["exit_signal"] == 9, report["processes"]
    assert "killed by signal 9 (SIGKILL)" in tl.stderr_text(), tl.report()


def test_exec_failure(tmp_path):
    report_path = tmp_path / "report.json"
    tl = run_plain("--json-report", str(report_path), "--", "/nonexistent")
    assert tl.wait_exit() == 127, tl.report()
    err = tl.stderr_lines()
    assert len(err) == 1, "expected a one-line error:\n%s" % tl.report()
    assert b"/nonexistent" in err[0] and err[0].startswith(b"tcpleak"), err
    assert tl.stdout_lines() == []


def test_not_executable(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o644)
    tl = run_plain("--", str(script))
    assert tl.wait_exit() == 126, tl.report()
    err = tl.stderr_lines()
    assert len(err) == 1 and str(script).encode() in err[0], tl.report()


# ---------------------------------------------------------------------------
# 6: leaks outside the traced tree


def test_unrelated_leaks_are_not_reported(tmp_path):
    report_path = tmp_path / "report.json"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("--json-report", str(report_path))
    # The traced program hangs up on an outside server, which leaks: its
    # CLOSE_WAIT transition even runs while the traced client's close() is on
    # the CPU. Not the traced tree's leak.
    lst = server.listen()
    c = prog.connect(lst["port"])
    a = server.accept(lst["fd"])
    prog.close(c["fd"])
    server.wait_eof(a["fd"])
    # And an unrelated pair leaking at the same time; once its leak is
    # reported the server's socket has been in CLOSE_WAIT past the threshold.
    wait_threshold_passed()
    assert server.state(a["fd"]) == "CLOSE_WAIT"
    assert prog.exit(0) == 0, prog.report()
    text = stderr_text(prog)
    assert "tcpleak: no socket left in CLOSE_WAIT past 500ms by 1 traced process" in text, text
    report = read_report(report_path)
    assert (report["exit_status"], report["leaks_found"], report["leaks"]) == (0, 0, []), report
    assert [p["pid"] for p in report["processes"]] == [prog.pid], report["processes"]


# ---------------------------------------------------------------------------
# 8: signals to tcpleak


def test_sigterm_is_forwarded(tmp_path):
    report_path = tmp_path / "report.json"
    prog = traced_peer("--json-report", str(report_path))
    prog.cmd("ping")
    prog.proc.send_signal(signal.SIGTERM)
    assert prog.proc.wait(harness.DEFAULT_TIMEOUT) == 143, prog.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (143, None, 15)
    assert report["processes"][0]["pid"] == prog.pid and report["processes"][0]["exit_signal"] == 15


# A command that says "ready" once its signal dispositions are set, then waits.
WAITER = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGTERM, lambda n, f: sys.exit(0))
print("ready", flush=True)
while True:
    signal.pause()
"""


@pytest.mark.parametrize("sig, status, code, died_of", [
    (signal.SIGINT, 130, None, 2),     # dies of SIGINT, as a shell would report it
    (signal.SIGTERM, 0, 0, None),      # handles SIGTERM and exits 0: its status
], ids=["sigint-dies", "sigterm-handled"])
def test_stop_signal_is_forwarded(tmp_path, sig, status, code, died_of):
    report_path = tmp_path / "report.json"
    tl = run_plain("--json-report", str(report_path), "--", "/usr/bin/python3", "-c", WAITER)
    tl.wait_stdout_line(lambda l: l == b"ready", timeout=harness.START_TIMEOUT, what="ready")
    tl.send_signal(sig)
    assert tl.wait_exit() == status, tl.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (
        status, code, died_of), report


# Says "got N" for every SIGINT/SIGTERM and keeps running.
STUBBORN = r"""
import signal, sys
def caught(n, f):
    print("got %d" % n, flush=True)
signal.signal(signal.SIGINT, caught)
signal.signal(signal.SIGTERM, caught)
print("ready", flush=True)
while True:
    signal.pause()
"""


def test_second_stop_signal_kills_the_command(tmp_path):
    report_path = tmp_path / "report.json"
    tl = run_plain("--json-report", str(report_path), "--", "/usr/bin/python3", "-c", STUBBORN)
    tl.wait_stdout_line(lambda l: l == b"ready", timeout=harness.START_TIMEOUT, what="ready")
    tl.send_signal(signal.SIGINT)
    tl.wait_stdout_line(lambda l: l == b"got 2", what="the command got the forwarded SIGINT")
    assert tl.proc.poll() is None, "tcpleak ended on the first SIGINT:\n%s" % tl.report()
    tl.send_signal(signal.SIGTERM)  # the second stop signal: COMMAND is killed
    assert tl.wait_exit() == 137, tl.report()
    assert b"got 15" not in tl.stdout_lines(), tl.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (137, None, 9)


# Says "got N" for every SIGINT/SIGTERM; exits 0 when a line arrives on stdin.
INTERACTIVE = r"""
import signal, sys
signal.signal(signal.SIGINT, lambda n, f: print("got %d" % n, flush=True))
signal.signal(signal.SIGTERM, lambda n, f: print("got %d" % n, flush=True))
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("own_group", [False, True], ids=["same-group", "setsid"])
def test_ctrl_c_on_a_terminal_reaches_the_command_once(own_group):
    """^C on a terminal goes to the whole foreground process group, COMMAND
    included: tcpleak must not send it a second SIGINT (many programs take a
    second one as "quit now"). A COMMAND in a group of its own (setsid,
    timeout) gets it from tcpleak instead."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()

    def controlling_terminal():  # after setsid (start_new_session)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    command = (["setsid"] if own_group else []) + ["/usr/bin/python3", "-c", INTERACTIVE]
    proc = subprocess.Popen([harness.tcpleak_bin(), "run", "--threshold", THRESHOLD, "--"] + command, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=controlling_terminal)
    os.close(slave)
    seen = b""

    def read_until(want, stream_fd, timeout=harness.DEFAULT_TIMEOUT):
        nonlocal seen
        got = b""
        deadline = time.monotonic() + timeout
        while want not in got:
            left = deadline - time.monotonic()
            assert left > 0, "no %r within %.0fs; got %r (terminal: %r)" % (want, timeout, got, seen)
            if select.select([stream_fd], [], [], left)[0]:
                try:
                    chunk = os.read(stream_fd, 4096)
                except OSError:  # EIO: the terminal's last user closed it
                    chunk = b""
                assert chunk, "end of output before %r; got %r" % (want, got)
                got += chunk
                if stream_fd == master:
                    seen += chunk
        return got

    try:
        read_until(b"ready", master, timeout=harness.START_TIMEOUT)
        os.write(master, b"\x03")  # ^C: SIGINT to tcpleak and COMMAND
        note = read_until(b"kills it\n", proc.stderr.fileno())
        how = b"passed on to COMMAND" if own_group else b"reached COMMAND from the terminal"
        assert b"tcpleak: SIGINT " + how + b"; a second signal kills it" in note, note
        os.write(master, b"done\n")  # COMMAND exits 0
        assert proc.wait(harness.DEFAULT_TIMEOUT) == 0
        try:
            while True:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                seen += chunk
        except OSError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert seen.count(b"got 2") == 1, "COMMAND got SIGINT %d times:\n%r" % (seen.count(b"got 2"), seen)


def test_sigterm_with_a_leak_held(tmp_path):
    report_path = tmp_path / "report.json"
    server = Peer(comm=SERVER_COMM)
    prog = traced_peer("--json-report", str(report_path))
    conn = leak_in_traced_peer(prog, server)
    wait_announce(prog, prog.pid, conn["fd"])
    prog.proc.send_signal(signal.SIGTERM)
    assert prog.proc.wait(harness.DEFAULT_TIMEOUT) == 3, prog.report()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (3, None, 15)
    check_leak_of_traced(report["leaks"][0], prog, conn, pid=prog.pid)


# ---------------------------------------------------------------------------
# COMMAND's process tree ends with tcpleak


# COMMAND for the tree tests. Starts, and reports with "pid N KIND" on
# stdout once each is set up:
#   command   itself (the default SIGHUP/SIGTERM dispositions)
#   child     a plain child
#   setsid    a grandchild in a session of its own, under the child
#   daemon    a double-forked daemon (setsid, its parent exited: re-parented)
#   stubborn  a setsid grandchild ignoring SIGTERM and SIGHUP
# then waits for a signal.
TREE = r"""
import os, signal, sys, time

def report(kind):
    os.write(1, b"pid %d %s\n" % (os.getpid(), kind.encode()))

def forever():
    while True:
        signal.pause()

def child(body):
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid

def setsid_grandchild():
    os.setsid()
    report("setsid")
    forever()

def plain_child():
    report("child")
    child(setsid_grandchild)
    forever()

def daemon():
    os.setsid()
    if os.fork() == 0:
        report("daemon")
        forever()
    os._exit(0)  # the daemon's parent exits: it is re-parented

def stubborn():
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    report("stubborn")
    forever()

child(plain_child)
os.waitpid(child(daemon), 0)
child(stubborn)
report("command")
forever()
"""
TREE_KINDS = {"command", "child", "setsid", "daemon", "stubborn"}


def start_tree(*opts):
    """`tcpleak run OPTS -- python3 -c TREE`, once every process of the tree
    has reported. Returns (tl, {kind: pid})."""
    tl = run_plain(*opts, "--", "/usr/bin/python3", "-c", TREE)
    pids = {}

    def all_reported():
        for line in tl.out.lines:
            m = re.fullmatch(rb"pid (\d+) (\w+)", line)
            if m:
                pids[m.group(2).decode()] = int(m.group(1))
        return set(pids) == TREE_KINDS

    tl.out.wait(all_reported, harness.START_TIMEOUT)
    assert set(pids) == TREE_KINDS, "the tree did not start: %r\n%s" % (pids, tl.report())
    return tl, pids


class Watched:
    """pidfds of processes that must end; SIGKILLs the survivors at the end."""

    def __init__(self, pids):
        self.pids = {}
        self.fds = {}
        for kind, pid in pids.items():
            self.add(kind, pid)

    def add(self, kind, pid):
        self.pids[kind] = pid
        self.fds[kind] = os.pidfd_open(pid)

    def wait_all_gone(self, timeout=harness.DEFAULT_TIMEOUT):
        """Waits for every exit (a pidfd is readable once its process ended);
        returns the kinds still running after timeout."""
        deadline = time.monotonic() + timeout
        left = dict(self.fds)
        while left:
            ready, _, _ = select.select(list(left.values()), [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            left = {k: fd for k, fd in left.items() if fd not in ready}
        for kind in left:  # a zombie is no survivor: check /proc
            try:
                with open("/proc/%d/stat" % self.pids[kind]) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        continue
            except FileNotFoundError:
                pass
            left = {k: v for k, v in left.items() if k != kind}
        return sorted(left)

    def close(self):
        for kind, fd in self.fds.items():
            try:
                signal.pidfd_send_signal(fd, signal.SIGKILL)  # survivors of a failed test
            except ProcessLookupError:
                pass
            os.close(fd)


def test_kill_9_of_run_kills_the_whole_tree():
    """SIGKILL to tcpleak, which can do nothing about it: COMMAND, its child,
    a setsid grandchild, a double-forked daemon and one that ignores SIGTERM
    all die anyway (the keeper reads EOF and SIGKILLs them), and the keeper
    exits. They all used to live on under init."""
    tl, pids = start_tree("-q")
    watched = Watched(pids)
    try:
        if parent_of(pids["command"]) != tl.proc.pid:  # (no keeper before: let the survivors fail the test)
            watched.add("keeper", keeper_of(pids["command"], tl.proc.pid))
        tl.proc.kill()
        assert tl.wait_exit() == -signal.SIGKILL
        survivors = watched.wait_all_gone()
        assert not survivors, "still running after tcpleak was killed: %s" % {k: pids[k] for k in survivors}
    finally:
        watched.close()


def test_sighup_is_forwarded_and_the_report_written(tmp_path):
    """SIGHUP (a closed terminal, a supervisor) is handled like SIGTERM:
    passed on to COMMAND, which dies of it (exit 129), then what is left of
    its tree is ended, and every report is written. It used to kill tcpleak
    at once: exit 129, no report, the tree left running."""
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    tl, pids = start_tree("--json-report", str(report_path), "--junit", str(junit_path))
    watched = Watched(pids)
    try:
        watched.add("keeper", keeper_of(pids["command"], tl.proc.pid))
        tl.send_signal(signal.SIGHUP)
        assert tl.wait_exit() == 129, tl.report()
        assert not watched.wait_all_gone(timeout=1), "the tree outlived tcpleak"
    finally:
        watched.close()
    report = read_report(report_path)
    assert (report["exit_status"], report["command_exit_code"], report["command_signal"]) == (129, None, 1), report
    root, suite = read_junit(junit_path)
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["exit_status"] == "129"
    text = tl.stderr_text()
    assert "tcpleak: SIGHUP passed on to COMMAND; a second signal kills it" in text, text
    # child, setsid and stubborn still ran when COMMAND died (the daemon too);
    # stubborn ignores SIGTERM.
    assert re.search(r"^tcpleak: ended 4 processes of COMMAND's tree still running after it exited "
                     r"\(SIGTERM; SIGKILL for 1 still there after 2\.00s\)$", text, re.M), text


@pytest.mark.parametrize("quiet", [False, True], ids=["verbose-report", "quiet"])
def test_descendants_still_running_when_the_command_exits_are_ended(tmp_path, quiet):
    """COMMAND exits 0, leaving a setsid daemon behind: tcpleak ends it
    (SIGTERM) and says so, exit 0. It used to be left running under init."""
    marker = tmp_path / "pid"
    # $(...) returns once the daemon said its pid and closed its stdout.
    tl = run_plain(*(["-q"] if quiet else []), "--", "/bin/sh", "-c",
                   'echo "$(setsid -f /bin/sh -c \'echo $$; exec sleep 1000 >/dev/null\' | head -n 1)" > "$0"',
                   str(marker))
    assert tl.wait_exit() == 0, tl.report()
    daemon = int(marker.read_text())
    watched = Watched({"daemon": daemon}) if os.path.exists("/proc/%d" % daemon) else None
    try:
        assert watched is None or not watched.wait_all_gone(timeout=1), "the daemon outlived tcpleak"
    finally:
        if watched:
            watched.close()
    notes = [l for l in tl.stderr_lines() if l.startswith(b"tcpleak: ended")]
    assert notes == ([] if quiet else [b"tcpleak: ended 1 process of COMMAND's tree still running after it exited "
                                       b"(SIGTERM)"]), tl.report()


# ---------------------------------------------------------------------------
# The mount namespace COMMAND runs in


def test_command_runs_in_the_mount_namespace_tcpleak_was_started_in():
    """tcpleak mounts tracefs in a private mount namespace to attach its
    syscall tracepoints (here tracefs is unmounted first, so it must): COMMAND
    still sees the namespace tcpleak was started in."""
    tl = Tcpleak(["run", "-q", "-v", "--", "readlink", "/proc/self/ns/mnt"], json_mode=False,
                 wrapper=harness.TRACEFS_UNMOUNTED)
    assert tl.wait_exit() == 0, tl.report()
    started = [l for l in tl.stderr_lines() if l.startswith(b"started in ")]
    assert len(started) == 1, tl.report()
    assert harness.CLASSIC_HOOKS_LINE in tl.stderr_lines(), "no private tracefs mount was needed:\n" + tl.report()
    assert tl.stdout_lines() == [started[0][len(b"started in "):]], tl.report()


@pytest.mark.parametrize("how", ["setns-refused", "no-cap-sys-chroot"])
def test_a_failed_return_from_the_private_mount_namespace_never_runs_the_command(tmp_path, how):
    """setns() back to the original namespace fails (a seccomp filter says
    EPERM): tcpleak stops with one line and COMMAND never runs. Without
    CAP_SYS_CHROOT (setns needs it) tcpleak does not leave its namespace at
    all: it uses the tp_btf hooks and COMMAND runs where it should. Before,
    tcpleak ignored the failure and ran COMMAND in its private namespace."""
    marker = tmp_path / "ran"
    wrapper = harness.TRACEFS_UNMOUNTED + (harness.NO_SETNS if how == "setns-refused" else
                                            ["setpriv", "--bounding-set=-sys_chroot", "--"])
    tl = Tcpleak(["run", "-q", "-v", "--", "/bin/sh", "-c", 'readlink /proc/self/ns/mnt; touch "$0"', str(marker)],
                 json_mode=False, wrapper=wrapper)
    code = tl.wait_exit()
    errors = [l for l in tl.stderr_lines() if l.startswith(b"tcpleak: ") and not l.startswith(b"tcpleak: syscall")]
    if how == "setns-refused":
        assert code == 1, tl.report()
        assert errors == [b"tcpleak: cannot return to the original mount namespace after mounting tracefs privately: "
                          b"Operation not permitted (mount tracefs for everyone instead: mount -t tracefs tracefs "
                          b"/sys/kernel/tracing)"], tl.report()
        assert not marker.exists(), "COMMAND ran"
    else:
        assert code == 0, tl.report()
        assert any(l.startswith(harness.FALLBACK_HOOKS_LINE) for l in tl.stderr_lines()), tl.report()
        started = [l for l in tl.stderr_lines() if l.startswith(b"started in ")]
        assert tl.stdout_lines() == [started[0][len(b"started in "):]], tl.report()
        assert marker.exists()


# ---------------------------------------------------------------------------
# 9: stdio


def test_stdin_and_stdout_pass_through():
    tl = run_plain("-q", "--", "cat", stdin=subprocess.PIPE)
    tl.proc.stdin.write(b"hello\n")
    tl.proc.stdin.close()
    assert tl.wait_exit() == 0, tl.report()
    assert tl.stdout_lines() == [b"hello"], tl.report()
    assert tl.stderr_lines() == [], tl.report()


def test_command_options_are_not_tcpleaks():
    tl = run_plain("-q", "--", "sh", "-c", 'echo "$@"', "sh", "--threshold", "-q", "--json-report")
    assert tl.wait_exit() == 0, tl.report()
    assert tl.stdout_lines() == [b"--threshold -q --json-report"], tl.report()
