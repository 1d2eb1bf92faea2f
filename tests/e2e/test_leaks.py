# Over 500 lines: one test per verdict, resolution and filter case of leaks, with the helpers they share.
"""End-to-end tests of `tcpleak leaks`: the real binary, real loopback
connections between separate peer processes (tests/e2e/peer.py), exact
owners, descriptors, verdicts and resolutions.

The socket left in CLOSE_WAIT is always the server's accepted one: the client
closes (FIN), the server does not. Everything is awaited on a readiness
signal (a peer's reply, a tcpleak record or line); the only clocks relied on
are tcpleak's own --threshold and --duration.
"""

import json
import os
import re
import signal
import subprocess
import time

import pytest

import harness
from harness import Peer, Tcpleak, open_connection

SERVER_COMM = "leak-server"
CLIENT_COMM = "leak-client"
THRESHOLD = "500ms"
THRESHOLD_MS = 500


# ---------------------------------------------------------------------------
# Helpers


def start_leaks(*args, threshold=THRESHOLD, json_mode=True, wrapper=()):
    """tcpleak leaks, started: its start record (JSON) or readiness line (text) was read."""
    argv = ["leaks"] + (["--json"] if json_mode else []) + ["--threshold", threshold] + list(args)
    tl = Tcpleak(argv, wrapper=wrapper)
    if json_mode:
        start = tl.wait_started()
        assert start["tool"] == "tcpleak" and start["mode"] == "leaks", start
        assert start["schema_version"] == 3, start
        assert start["threshold_ms"] == duration_ms(threshold), start
    else:
        wait_watching_line(tl, threshold)
    return tl


def duration_ms(text):
    m = re.fullmatch(r"(\d+)(ms|s)", text)
    assert m, text
    return int(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


def wait_watching_line(tl, threshold):
    """Text mode's readiness line on stderr."""
    want = ("Watching for sockets left in CLOSE_WAIT longer than %s" % threshold).encode()
    got = tl.err.wait(lambda: any(l.startswith(want) for l in tl.err.lines), harness.START_TIMEOUT)
    if not got:
        tl._fail("no %r line on stderr within %.0fs" % (want, harness.START_TIMEOUT))


def peers(server_comm=SERVER_COMM, client_comm=CLIENT_COMM, netns=None):
    return Peer(comm=server_comm, netns=netns), Peer(comm=client_comm, netns=netns)


def open_connection_uncookied(server, client, family=4):
    """open_connection() without asking for any socket cookie (SO_COOKIE makes
    the kernel generate one; tcpleak must not depend on that): the sock
    fields are None until the test learns them from a record."""
    lst = server.listen(family)
    conn = client.connect(lst["port"], family)
    a = server.accept(lst["fd"])
    assert a["port"] == conn["sport"], (a, conn)
    return harness.Connection(server=server, client=client, family=family, port=lst["port"], lfd=lst["fd"],
                              listener_sock=None, cfd=conn["fd"], sport=conn["sport"], client_sock=None,
                              afd=a["fd"], server_sock=None)


def wait_leak_on(tl, c, timeout=harness.DEFAULT_TIMEOUT):
    """The leak of c's server side, found by its ports; sets c.server_sock."""
    leak = tl.wait_for(lambda r: r["type"] == "leak" and (r["sport"], r["dport"]) == (c.port, c.sport),
                       timeout, "leak of 127.0.0.1:%d -> :%d" % (c.port, c.sport))
    c.server_sock = leak["sock"]
    return leak


def client_hangs_up(c):
    """The client closes; returns once the server's accepted socket is in CLOSE_WAIT."""
    c.client.close(c.cfd)
    c.server.wait_eof(c.afd)
    assert c.server.state(c.afd) == "CLOSE_WAIT"


def leak_opened(*args, family=4, **kwargs):
    """The common opening: a server and a client, `tcpleak leaks args...`,
    a connection the client hangs up, and the server's leak record.
    Returns (server, client, tl, connection, leak)."""
    server, client = peers()
    tl = start_leaks(*args, **kwargs)
    c = open_connection(server, client, family=family)
    client_hangs_up(c)
    return server, client, tl, c, wait_leak(tl, c.server_sock)

def forked_after_connection():
    """A server and a client, `tcpleak leaks`, a connection, then the server
    forks (the child inherits the accepted socket). Returns (server, client,
    tl, connection, child pid)."""
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    return server, client, tl, c, server.cmd("fork")["pid"]



def wait_leak(tl, sock, timeout=harness.DEFAULT_TIMEOUT):
    return tl.wait_for(lambda r: r["type"] == "leak" and r["sock"] == sock, timeout,
                       "leak of sock %d" % sock)


def wait_resolved(tl, sock, timeout=harness.DEFAULT_TIMEOUT):
    return tl.wait_for(lambda r: r["type"] == "leak_resolved" and r["sock"] == sock, timeout,
                       "leak_resolved of sock %d" % sock)


def records_of(tl, sock):
    return [r for r in tl.records() if r.get("sock") == sock]


def fmt(records):
    return harness.fmt_records(records if isinstance(records, list) else [records])


def check_address(r, c, netns=None):
    """The server's accepted socket: local = the listener's port, remote = the client."""
    lo = harness.loopback(c.family)
    got = (r["family"], r["saddr"], r["sport"], r["daddr"], r["dport"])
    want = ("ipv4" if c.family == 4 else "ipv6", lo, c.port, lo, c.sport)
    assert got == want, "address %r, expected %r:\n%s" % (got, want, fmt(r))
    ns = netns if netns is not None else os.stat("/proc/self/ns/net").st_ino
    assert r["netns"] == ns, "netns %r, expected %d:\n%s" % (r["netns"], ns, fmt(r))


def check_leak(r, c, *, pid, comm, fd, verdict, holders, owner_pid, owner_comm, closed_by=None,
               closed_by_comm=None, closed_by_fd=None, closed_via=None, since_start=False,
               threshold_ms=THRESHOLD_MS, netns=None, seen_by=None):
    """Every field of a leak record (holders: [(pid, comm, fd)], sorted by pid then fd).

    owner_pid/owner_comm: who accepted (or connected) the socket, as the
    kernel remembered it; for a socket older than tcpleak, its first holder
    in the descriptor tables."""
    assert r["type"] == "leak", r
    check_address(r, c, netns)
    want = {
        "pid": pid, "comm": comm, "fd": fd, "verdict": verdict, "since_start": since_start,
        "holders": [{"pid": p, "comm": n, "fd": f} for p, n, f in holders],
        "owner_pid": owner_pid, "owner_comm": owner_comm,
        "closed_by": closed_by, "closed_by_comm": closed_by_comm, "closed_by_fd": closed_by_fd,
        "closed_via": closed_via, "sock": c.server_sock,
        "seen_by": seen_by or ("socket_table" if since_start else "transition"),
    }
    got = {k: r[k] for k in want}
    diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not diff, "leak fields differ (got, expected): %r\n%s" % (diff, fmt(r))
    assert r["close_wait_ms"] >= threshold_ms, "reported before the threshold:\n%s" % fmt(r)
    entered = harness.check_time(r["entered_time"], "entered_time")
    reported = harness.check_time(r["time"])
    assert entered <= reported, fmt(r)
    # close_wait_ms is reported - entered, in whole milliseconds.
    span_ms = (reported - entered).total_seconds() * 1000
    assert abs(span_ms - r["close_wait_ms"]) <= 2, "close_wait_ms %d but time - entered_time = %.1f ms:\n%s" % (
        r["close_wait_ms"], span_ms, fmt(r))
    assert "peer.py" in r["cmdline"], "cmdline of the process expected to close it: %r" % r["cmdline"]


def check_resolved(r, leak, *, how, by_pid, by_comm, threshold_ms=THRESHOLD_MS):
    """A leak_resolved record repeats its leak's socket and owner, and says how it ended."""
    assert r["type"] == "leak_resolved", r
    same = ("pid", "comm", "fd", "family", "saddr", "sport", "daddr", "dport", "netns", "sock",
            "since_start", "verdict")
    diff = {k: (r[k], leak[k]) for k in same if r[k] != leak[k]}
    assert not diff, "leak_resolved differs from its leak (resolved, leak): %r\n%s" % (diff, fmt([leak, r]))
    got = (r["how"], r["by_pid"], r["by_comm"])
    assert got == (how, by_pid, by_comm), "how/by_pid/by_comm %r, expected %r:\n%s" % (
        got, (how, by_pid, by_comm), fmt(r))
    assert r["close_wait_ms"] >= leak["close_wait_ms"] >= threshold_ms, fmt([leak, r])
    assert harness.check_time(r["time"]) >= harness.check_time(leak["time"]), fmt([leak, r])


def pids_named(r):
    """Every pid a leak/leak_resolved record names."""
    pids = {r.get("pid"), r.get("closed_by"), r.get("owner_pid"), r.get("by_pid")}
    pids.update(h["pid"] for h in r.get("holders", []))
    pids.discard(None)
    return pids


def check_once(tl, sock):
    """At most one leak and one leak_resolved record for a socket."""
    return harness.check_reported_once(records_of(tl, sock))


def resolved_then_stopped(tl, c, leak, how, by_pid, by_comm=SERVER_COMM):
    """The leak's resolution as given, then tcpleak stopped: exit 3, and the
    leak told exactly once."""
    check_resolved(wait_resolved(tl, c.server_sock), leak, how=how, by_pid=by_pid, by_comm=by_comm)
    assert tl.stop() == 3
    check_once(tl, c.server_sock)


# ---------------------------------------------------------------------------
# 1-3: never closed, closed in time, closed late


def test_never_closed_names_the_server_not_the_client():
    server, client, tl, c, leak = leak_opened()
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM)
    assert leak["rx_queue"] == 0, fmt(leak)
    assert client.pid not in pids_named(leak), "the client's pid in the leak:\n%s" % fmt(leak)
    assert CLIENT_COMM not in json.dumps(leak), fmt(leak)

    server.close(c.afd)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="close", by_pid=server.pid, by_comm=SERVER_COMM)
    assert client.pid not in pids_named(res), fmt(res)

    # The client's own socket (FIN_WAIT2) never was in CLOSE_WAIT.
    assert not records_of(tl, c.client_sock), fmt(records_of(tl, c.client_sock))
    assert tl.stop() == 3
    check_once(tl, c.server_sock)
    s = tl.summary()
    assert s["mode"] == "leaks" and s["threshold_ms"] == THRESHOLD_MS, s
    assert s["leaks"] >= 1 and s["resolved"] >= 1, s


@pytest.mark.parametrize("hidepid, shown_as", [("2", "invisible"), ("1", "noaccess")])
def test_hidden_command_lines_are_said_once(hidepid, shown_as):
    """/proc mounted with hidepid=2 (or 1) and tcpleak running as nobody with only
    CAP_BPF and CAP_PERFMON (no CAP_SYS_PTRACE): root's processes are
    invisible in /proc, so their command lines cannot be read. The leaks are
    still found (BPF sees every process); cmdline is empty and stderr says
    once why, instead of nothing."""
    server, client = peers()
    conns = [open_connection(server, client) for _ in range(2)]
    with harness.world_executable_tcpleak() as binary:
        hidepid_as_nobody = [
            "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            # $0: the copy nobody may run; $1, the build tree's binary, is dropped.
            'mount -t proc -o hidepid=%s proc /proc && shift && exec setpriv --reuid nobody --regid nogroup '
            '--clear-groups --inh-caps +bpf,+perfmon --ambient-caps +bpf,+perfmon -- "$0" "$@"' % hidepid, binary]
        tl = Tcpleak(["leaks", "--json", "--threshold", THRESHOLD, "-p", str(server.pid)], wrapper=hidepid_as_nobody)
        tl.wait_started()
        for c in conns:
            client_hangs_up(c)
            leak = wait_leak(tl, c.server_sock)
            assert (leak["pid"], leak["comm"], leak["fd"], leak["cmdline"]) == (server.pid, SERVER_COMM, c.afd, ""), \
                fmt(leak)
        assert tl.stop() == 3
    notes = [l for l in tl.stderr_lines() if l.startswith(b"tcpleak: note: command lines are hidden")]
    assert notes == [b"tcpleak: note: command lines are hidden: /proc is mounted with hidepid=" + shown_as.encode() +
                     b" and tcpleak lacks CAP_SYS_PTRACE to see other users' processes; their cmdline is left empty"], \
        tl.report()


def test_closed_before_threshold_is_no_leak():
    server, client = peers()
    tl = start_leaks("-p", str(server.pid), "--duration", "4s", threshold="2s")
    c = open_connection(server, client)
    entered = time.time()  # at or before the socket entered CLOSE_WAIT
    client_hangs_up(c)
    server.close(c.afd)  # at once, well before 2s
    rc = tl.wait_exit(timeout=30)
    assert rc == 0, tl.report()
    s = tl.summary()
    assert (s["leaks"], s["resolved"], s["still_leaked"]) == (0, 0, 0), s
    assert s["close_wait_seen"] >= 1, s
    # The run went on past the time the socket would have been reported.
    end = harness.check_time(s["time"]).timestamp()
    assert end - entered >= 2.0, "the run ended %.2fs after CLOSE_WAIT: inconclusive" % (end - entered)
    assert not [r for r in tl.records() if r["type"] in ("leak", "leak_resolved")], fmt(tl.records())
    assert tl.records()[-1]["type"] == "summary"


def test_never_accepted_is_counted_not_reported():
    """A connection the client hung up on while it waited in the listen queue:
    in CLOSE_WAIT, but no descriptor holds it, so no process leaks it. Not a
    leak; counted in the summary (close_wait_unheld) so it is not silent."""
    server, client = peers()
    tl = start_leaks("-p", str(server.pid), "--duration", "3s", threshold="300ms")
    lst = server.listen()
    conn = client.connect(lst["port"])
    client.close(conn["fd"])
    # Readiness: the queued socket is in CLOSE_WAIT (ss reads the kernel's table).
    query = ["ss", "-Htn", "state", "close-wait", "sport = :%d" % lst["port"]]
    deadline = time.monotonic() + harness.DEFAULT_TIMEOUT
    while not subprocess.run(query, capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, "the never-accepted socket did not reach CLOSE_WAIT"
        time.sleep(0.01)
    entered = time.time()
    assert tl.wait_exit(timeout=30) == 0, tl.report()
    s = tl.summary()
    # Counted for every process (no holder to filter by): at least ours.
    assert s["leaks"] == 0 and s["close_wait_unheld"] >= 1, s
    end = harness.check_time(s["time"]).timestamp()
    assert end - entered >= 1.0, "the run ended %.2fs after CLOSE_WAIT: inconclusive" % (end - entered)
    assert not [r for r in tl.records() if r["type"] in ("leak", "leak_resolved")], fmt(tl.records())


def test_full_speed_churn_with_prompt_closes_reports_nothing():
    """Thousands of connections per second, every CLOSE_WAIT closed at once:
    not one report, nothing lost, every CLOSE_WAIT seen."""
    tl = start_leaks("-c", "tcpleak-churn", threshold="1s")  # the host's own leaks are not ours
    churn = subprocess.run([harness.churn_bin(), "--duration", "3", "--warmup", "0", "--json"],
                           capture_output=True, text=True, timeout=60)
    assert churn.returncode == 0, churn.stderr
    connections = json.loads(churn.stdout.strip().splitlines()[-1])["connections"]
    assert connections >= 3000, "the churn made only %d connections" % connections
    assert tl.stop() == 0, tl.report()
    s = tl.summary()
    assert (s["leaks"], s["still_leaked"], s["lost"], s["tracking_complete"]) == (0, 0, 0, True), s
    assert s["close_wait_seen"] >= connections, (s, connections)
    assert not [r for r in tl.records() if r["type"] in ("leak", "leak_resolved", "lost")]


def test_late_close_resolves_after_threshold():
    server, client = peers()
    tl = start_leaks("-p", str(server.pid), "--interval", "100ms")
    c = open_connection(server, client)
    client_hangs_up(c)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM)
    # Still in CLOSE_WAIT across refreshes: reported once.
    assert server.state(c.afd) == "CLOSE_WAIT"
    server.close(c.afd)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="close", by_pid=server.pid, by_comm=SERVER_COMM)
    assert res["close_wait_ms"] >= THRESHOLD_MS, fmt(res)
    assert tl.stop() == 3
    check_once(tl, c.server_sock)
    s = tl.summary()
    assert (s["leaks"], s["resolved"], s["still_leaked"]) == (1, 1, 0), s


# ---------------------------------------------------------------------------
# 4-5: descriptors in other processes and other descriptors


@pytest.mark.parametrize("order", ["parent-closes-first", "client-closes-first"])
def test_fork_parent_closed_child_holds(order):
    server, client = peers()
    tl = start_leaks()
    c = open_connection_uncookied(server, client)
    child = server.cmd("fork")["pid"]
    if order == "parent-closes-first":
        server.close(c.afd)  # ESTABLISHED still: the child's copy keeps it open
        client.close(c.cfd)  # no peer can see the CLOSE_WAIT now: the leak record is the signal
    else:
        client_hangs_up(c)
        server.close(c.afd)  # in CLOSE_WAIT already
    leak = wait_leak_on(tl, c)
    check_leak(leak, c, pid=child, comm=SERVER_COMM, fd=c.afd, verdict="closed_still_referenced",
               holders=[(child, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=server.pid, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via="close")
    assert client.pid not in pids_named(leak), fmt(leak)

    # The child exits: its exit drops the last reference.
    server.cmd("exit-child %d" % child)
    resolved_then_stopped(tl, c, leak, how="exit", by_pid=child)


def test_fork_both_hold_owner_is_responsible():
    server, client, tl, c, child = forked_after_connection()
    client_hangs_up(c)
    leak = wait_leak(tl, c.server_sock)
    holders = sorted([(server.pid, SERVER_COMM, c.afd), (child, SERVER_COMM, c.afd)])
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=holders, owner_pid=server.pid, owner_comm=SERVER_COMM)
    # The owner closes its copy after the report: still held by the child, so
    # still in CLOSE_WAIT; it ends when the child closes it.
    server.close(c.afd)
    server.cmd("kill-child %d" % child)
    resolved_then_stopped(tl, c, leak, how="exit", by_pid=child)


def test_owner_exited_child_holds():
    """The owner's descriptor went away without close(), by exit: closed_via exit, with the fd."""
    server, client, tl, c, child = forked_after_connection()
    assert server.exit(0) == 0  # the orphaned child keeps its copy (killed at teardown)
    client.close(c.cfd)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=child, comm=SERVER_COMM, fd=c.afd, verdict="closed_still_referenced",
               holders=[(child, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=server.pid, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via="exit")
    os.kill(child, signal.SIGKILL)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="exit", by_pid=child, by_comm=SERVER_COMM)
    assert tl.stop() == 3


# (name, commands run in the server with {afd}, {lfd}; the copy left; closed_via)
DUP_CASES = [
    ("dup-close", ["dup {afd}", "close {afd}"], "first", "close"),
    ("dup2-over-it", ["dup {afd}", "dup2-raw {lfd} {afd}"], "first", "dup2"),
    ("dup3-over-it", ["dup {afd}", "dup2 {lfd} {afd}"], "first", "dup3"),
    ("close-range", ["dup2-raw {afd} 40", "close-range {afd} 39"], 40, "close_range"),
]


@pytest.mark.parametrize("hooks", ["tracefs", "tp_btf"])
@pytest.mark.parametrize("name, commands, copy, via", DUP_CASES, ids=[d[0] for d in DUP_CASES])
def test_same_process_other_descriptor(name, commands, copy, via, hooks):
    server, client = peers()
    if hooks == "tp_btf":  # no syscalls:* events: the fallback hooks see the releases
        tl = start_leaks("-v", wrapper=harness.NO_TRACEFS)
        harness.wait_fallback_hooks_line(tl)
    else:
        tl = start_leaks()
    c = open_connection_uncookied(server, client)
    replies = [server.cmd(cmd.format(afd=c.afd, lfd=c.lfd)) for cmd in commands]
    copy_fd = replies[0]["fd"] if copy == "first" else copy
    assert copy_fd != c.afd
    client.close(c.cfd)
    server.wait_eof(copy_fd)
    leak = wait_leak_on(tl, c)
    assert server.cookie(copy_fd) == c.server_sock
    if via in ("dup2", "dup3"):  # the old number now holds the listener
        assert server.cookie(c.afd) == server.cookie(c.lfd)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=copy_fd, verdict="closed_still_referenced",
               holders=[(server.pid, SERVER_COMM, copy_fd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=server.pid, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via=via)
    server.close(copy_fd)
    resolved_then_stopped(tl, c, leak, how="close", by_pid=server.pid)


def test_passed_over_a_unix_socket_the_receiver_is_the_holder():
    """The server passes its socket to another process (SCM_RIGHTS) and closes
    its own descriptor: closed, still referenced, held by the receiver."""
    server, client = peers()
    receiver = Peer(comm="e2e-receiver")
    tl = start_leaks()
    c = open_connection_uncookied(server, client)
    name = "tcpleak-e2e-%d-%d" % (os.getpid(), server.pid)
    unix_listener = receiver.cmd("unix-listen " + name)["fd"]
    sending = server.cmd("unix-connect " + name)["fd"]
    receiving = receiver.cmd("unix-accept %d" % unix_listener)["fd"]
    server.cmd("send-fd %d %d" % (sending, c.afd))
    passed = receiver.cmd("recv-fd %d" % receiving)["fd"]
    server.close(c.afd)  # does not take effect: the receiver holds the socket
    client.close(c.cfd)
    receiver.wait_eof(passed)
    leak = wait_leak_on(tl, c)
    assert receiver.cookie(passed) == c.server_sock
    check_leak(leak, c, pid=receiver.pid, comm="e2e-receiver", fd=passed, verdict="closed_still_referenced",
               holders=[(receiver.pid, "e2e-receiver", passed)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=server.pid, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via="close")
    receiver.close(passed)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="close", by_pid=receiver.pid, by_comm="e2e-receiver")
    assert tl.stop() == 3
    check_once(tl, c.server_sock)


# ---------------------------------------------------------------------------
# 6: already in CLOSE_WAIT at start


def test_leak_older_than_tcpleak():
    server, client = peers()
    # A first tcpleak is only a clock: its leak record says the socket has
    # been in CLOSE_WAIT longer than 2s.
    clock = start_leaks("-p", str(server.pid), threshold="2s")
    c = open_connection(server, client)
    before = time.time()  # before the FIN
    client_hangs_up(c)
    after = time.time()  # in CLOSE_WAIT since before this
    wait_leak(clock, c.server_sock)

    tl = start_leaks(threshold="2s")
    started = harness.check_time(tl.records("start")[0]["time"]).timestamp()
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="held",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               since_start=True, threshold_ms=2000)
    # Its entry time is estimated from the FIN (jiffy resolution, a lower
    # bound): between the client's close() and the server's EOF, and its age
    # at least the time since then.
    reported = harness.check_time(leak["time"]).timestamp()
    entered = harness.check_time(leak["entered_time"]).timestamp()
    assert before - 0.05 <= entered <= after + 0.05, \
        "entered_time %.3f not in [close() %.3f, EOF %.3f] (50 ms slack):\n%s" % (entered, before, after, fmt(leak))
    assert leak["close_wait_ms"] >= (reported - after) * 1000 - 50, \
        "age %d ms, but the socket was in CLOSE_WAIT %.0f ms before the report:\n%s" % (
            leak["close_wait_ms"], (reported - after) * 1000, fmt(leak))
    # A lower bound, never more: the FIN came after `before`, so the socket
    # cannot have been in CLOSE_WAIT longer than since then.
    assert entered >= before - 0.002, "entered_time %.4f before the client's close() %.4f:\n%s" % (
        entered, before, fmt(leak))
    assert leak["close_wait_ms"] <= (reported - before) * 1000 + 1, \
        "age %d ms overstates: at most %.1f ms since the client's close():\n%s" % (
            leak["close_wait_ms"], (reported - before) * 1000, fmt(leak))
    # Promptly: at its first check, not a threshold after start.
    assert reported - started < 2.0, "reported %.2fs after start (threshold 2s):\n%s" % (
        reported - started, fmt(leak))

    server.close(c.afd)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="close", by_pid=server.pid, by_comm=SERVER_COMM, threshold_ms=2000)
    assert res["since_start"] is True
    assert tl.stop() == 3
    assert clock.stop() == 3
    check_once(tl, c.server_sock)


def test_leak_older_than_tcpleak_exits():
    server, client = peers()
    clock = start_leaks("-p", str(server.pid))
    c = open_connection(server, client)
    client_hangs_up(c)
    wait_leak(clock, c.server_sock)
    tl = start_leaks()
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="held",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               since_start=True)
    assert server.exit(0) == 0
    check_resolved(wait_resolved(tl, c.server_sock), leak, how="exit", by_pid=server.pid, by_comm=SERVER_COMM)
    assert tl.stop() == 3
    assert clock.stop() == 3


# ---------------------------------------------------------------------------
# 7-8, 14: the other ways out of CLOSE_WAIT


def test_leaking_process_exits():
    server, client, tl, c, leak = leak_opened()
    assert server.exit(0) == 0
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="exit", by_pid=server.pid, by_comm=SERVER_COMM)
    assert tl.stop() == 3


def test_shutdown_without_close():
    server, client, tl, c, leak = leak_opened()
    server.cmd("shutdown %d wr" % c.afd)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="shutdown", by_pid=server.pid, by_comm=SERVER_COMM)
    # The descriptor is still open: LAST_ACK, or CLOSE once the client's ACK came.
    assert server.cookie(c.afd) == c.server_sock
    assert server.state(c.afd) in ("LAST_ACK", "CLOSE")
    assert tl.stop() == 3
    check_once(tl, c.server_sock)


def test_reset_while_in_close_wait():
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    client.cmd("shutdown %d wr" % c.cfd)  # FIN; the client keeps its descriptor
    server.wait_eof(c.afd)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM)
    client.cmd("linger %d 0" % c.cfd)
    client.close(c.cfd)  # RST
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="reset", by_pid=None, by_comm=None)
    assert server.state(c.afd) == "CLOSE"  # still open: reset, not closed
    assert tl.stop() == 3
    check_once(tl, c.server_sock)


def test_unread_data_is_rx_queue():
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    client.cmd("send %d 1234" % c.cfd)
    client.close(c.cfd)  # the server never reads: no wait-eof; the leak record is the signal
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM)
    assert leak["rx_queue"] == 1234, fmt(leak)
    # Closing with unread data sends a reset, but it was closed: how=close.
    server.close(c.afd)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="close", by_pid=server.pid, by_comm=SERVER_COMM)
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# 9-10: IPv6, network namespaces


def test_ipv6_leak():
    server, client, tl, c, leak = leak_opened(family=6)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM)
    assert (leak["saddr"], leak["daddr"]) == ("::1", "::1"), fmt(leak)
    server.close(c.afd)
    check_resolved(wait_resolved(tl, c.server_sock), leak, how="close", by_pid=server.pid,
                   by_comm=SERVER_COMM)
    assert tl.stop() == 3


def test_ipv4_client_on_dual_stack_listener():
    """An IPv6 socket talking IPv4 (v4-mapped): ipv6, in RFC 5952 mapped form."""
    server, client = peers()
    tl = start_leaks()
    lst = server.cmd("listen 6 :: 0")
    conn = client.connect(lst["port"], 4)
    a = server.accept(lst["fd"])
    client.close(conn["fd"])
    server.wait_eof(a["fd"])
    sock = server.cookie(a["fd"])
    leak = wait_leak(tl, sock)
    got = (leak["family"], leak["saddr"], leak["sport"], leak["daddr"], leak["dport"])
    assert got == ("ipv6", "::ffff:127.0.0.1", lst["port"], "::ffff:127.0.0.1", conn["sport"]), fmt(leak)
    assert (leak["pid"], leak["fd"], leak["verdict"]) == (server.pid, a["fd"], "never_closed"), fmt(leak)
    assert tl.stop() == 3


@pytest.fixture
def netns():
    name = "tcpleak-e2e-leaks-%d" % os.getpid()
    subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)  # a leftover
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        harness.cleanup_all()  # the peers inside first
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_leak_in_network_namespace(netns):
    inode = os.stat("/var/run/netns/%s" % netns).st_ino
    assert inode != os.stat("/proc/self/ns/net").st_ino
    server, client = peers(netns=netns)
    assert os.stat("/proc/%d/ns/net" % server.pid).st_ino == inode
    tl = start_leaks()
    c = open_connection(server, client)
    client_hangs_up(c)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               netns=inode)
    server.close(c.afd)
    check_resolved(wait_resolved(tl, c.server_sock), leak, how="close", by_pid=server.pid,
                   by_comm=SERVER_COMM)
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# 11: filters


# (filter, the chosen server's comm as set, as the kernel keeps it (15 bytes)).
# A longer -c is a usage error (test_cli_errors.py); the kept 15 bytes match.
FILTERS = [
    ("pid", "leak-chosen", "leak-chosen"),
    ("comm", "leak-chosen", "leak-chosen"),
    ("long-comm", "leak-chosen-long-name", "leak-chosen-lon"),
]


@pytest.mark.parametrize("how, name, kept", FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_selects_one_server(how, name, kept):
    chosen, other = Peer(comm=name), Peer(comm="leak-chosen-lo")  # a prefix of it
    client = Peer(comm=CLIENT_COMM)
    args = ["-p", str(chosen.pid)] if how == "pid" else ["-c", kept]
    tl = start_leaks(*args, "--interval", "100ms")
    # The other server's socket enters CLOSE_WAIT first, so it crosses the
    # threshold first: once the chosen one's leak is out, the other one has
    # been considered.
    c_other = open_connection(other, client)
    client_hangs_up(c_other)
    c_chosen = open_connection(chosen, client)
    client_hangs_up(c_chosen)
    leak = wait_leak(tl, c_chosen.server_sock)
    check_leak(leak, c_chosen, pid=chosen.pid, comm=kept, fd=c_chosen.afd, verdict="never_closed",
               holders=[(chosen.pid, kept, c_chosen.afd)], owner_pid=chosen.pid, owner_comm=kept)
    other.close(c_other.afd)
    chosen.close(c_chosen.afd)
    wait_resolved(tl, c_chosen.server_sock)
    assert tl.stop() == 3
    recs = [r for r in tl.records() if r["type"] in ("leak", "leak_resolved")]
    assert [r["sock"] for r in recs] == [c_chosen.server_sock] * 2, fmt(recs)
    assert all(other.pid not in pids_named(r) for r in recs), fmt(recs)
    s = tl.summary()
    assert (s["leaks"], s["resolved"], s["still_leaked"]) == (1, 1, 0), s


# ---------------------------------------------------------------------------
# 12: exit status, text mode


def test_exit_status_three_after_a_leak_text_mode():
    server, client = peers()
    tl = start_leaks("--interval", "100ms", json_mode=False)
    c = open_connection(server, client)
    client_hangs_up(c)
    words = ("pid %d %s fd %d 127.0.0.1:%d -> 127.0.0.1:%d" % (
        server.pid, SERVER_COMM, c.afd, c.port, c.sport)).encode()
    line = tl.wait_stdout_line(lambda l: b" LEAK " in l and words in l, what="LEAK line of the server")
    assert b"never closed" in line, line
    assert re.match(rb"^\d\d:\d\d:\d\d\.\d{3} LEAK ", line), line
    # A table with the server's row comes with the new set of leaks.
    tl.wait_stdout_line(lambda l: l.split()[:2] == [str(server.pid).encode(), SERVER_COMM.encode()],
                        what="table row of the server")
    server.close(c.afd)
    resolved = tl.wait_stdout_line(lambda l: b" RESOLVED " in l and words in l, what="RESOLVED line")
    assert ("close by %d %s" % (server.pid, SERVER_COMM)).encode() in resolved, resolved
    assert tl.stop(signal.SIGINT) == 3
    assert str(client.pid).encode() not in b"\n".join(l for l in tl.stdout_lines() if b"LEAK" in l)
    err = tl.stderr_text()
    # (at least 1: there is no -p, another leak on the machine would count)
    assert re.search(r"^tcpleak leaks: \d+ sockets? leaked in CLOSE_WAIT past 500ms \(", err, re.M), err


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
def test_exit_status_zero_without_a_leak(json_mode):
    server, client, other = Peer(comm=SERVER_COMM), Peer(comm=CLIENT_COMM), Peer(comm="leak-other")
    tl = start_leaks("-p", str(server.pid), json_mode=json_mode)
    clock = start_leaks("-p", str(other.pid))  # only a clock, see below
    c = open_connection(server, client)
    client_hangs_up(c)
    server.close(c.afd)  # at once, well before 500ms
    # A leak in another process, which -p leaves out: once the clock reports
    # it, the server's socket would have crossed the threshold too.
    c2 = open_connection(other, client)
    client_hangs_up(c2)
    wait_leak(clock, c2.server_sock)
    assert tl.stop(signal.SIGINT) == 0
    assert clock.stop(signal.SIGINT) == 3
    if json_mode:
        s = tl.summary()
        assert (s["leaks"], s["resolved"], s["still_leaked"]) == (0, 0, 0), s
        assert not [r for r in tl.records() if r["type"] in ("leak", "leak_resolved")], fmt(tl.records())
    else:
        assert not [l for l in tl.stdout_lines() if b" LEAK " in l or b" RESOLVED " in l], tl.report()
        assert "tcpleak leaks: no socket leaked in CLOSE_WAIT past 500ms" in tl.stderr_text(), tl.report()


def test_duration_end_after_a_leak():
    server, client, tl, c, leak = leak_opened("--duration", "2s")  # ~0.5s into a 2s run
    assert leak["pid"] == server.pid and leak["fd"] == c.afd, fmt(leak)
    assert tl.wait_exit(timeout=30) == 3, tl.report()
    s = tl.summary()
    assert s["leaks"] >= 1 and s["still_leaked"] >= 1, s
    assert tl.records()[-1]["type"] == "summary"


def test_sigterm_ends_with_summary():
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    client_hangs_up(c)
    wait_leak(tl, c.server_sock)
    assert tl.stop(signal.SIGTERM) == 3
    recs = tl.records()
    assert recs[-1]["type"] == "summary", fmt(recs[-1:])
    s = tl.summary()
    assert s["leaks"] >= 1 and s["still_leaked"] >= 1, s


# ---------------------------------------------------------------------------
# 13: hostile process names

HOSTILE = [
    # (bytes given to prctl, the JSON string expected)
    ("quotes-escapes", b'q"uo\\te\x07\x1b[2Jx', 'q"uo\\te\x07\x1b[2Jx'),
    ("newline", b"a\nb\tc\x7f\x01", "a\nb\tc\x7f\x01"),
    ("invalid-utf8", b"\xffbad\xfe", "\ufffdbad\ufffd"),
]


@pytest.mark.parametrize("name, given, expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_comm(name, given, expected):
    server, client = Peer(comm=given), Peer(comm=CLIENT_COMM)
    tl = start_leaks()
    text = start_leaks(json_mode=False)
    c = open_connection(server, client)
    copy = server.cmd("dup %d" % c.afd)["fd"]
    server.close(c.afd)  # closed_by_comm is hostile too
    client.close(c.cfd)
    server.wait_eof(copy)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=expected, fd=copy, verdict="closed_still_referenced",
               holders=[(server.pid, expected, copy)], owner_pid=server.pid, owner_comm=expected,
               closed_by=server.pid, closed_by_comm=expected, closed_by_fd=c.afd, closed_via="close")
    line = text.wait_stdout_line(lambda l: b" LEAK " in l and (b"pid %d " % server.pid) in l, what="LEAK line")
    server.close(copy)
    res = wait_resolved(tl, c.server_sock)
    check_resolved(res, leak, how="close", by_pid=server.pid, by_comm=expected)
    assert tl.stop() == 3
    assert text.stop() == 3
    tl.assert_valid()  # every line parsed strictly and matched the schema
    assert all(0x1B not in l for l in tl.stdout_lines())
    for l in [line] + text.stdout_lines():
        bad = [b for b in l if (b < 0x20 and b != 0x09) or b == 0x7F]
        assert not bad, "raw control bytes %r in a text line: %r" % (bad, l)


# ---------------------------------------------------------------------------
# Which close is "closed_by". These fail against the binary of 2026-11-21
# (see the report that came with them); they are last so that ctest's -x
# still runs everything above.


def test_dup2_onto_the_same_socket_closes_nothing():
    """dup2(copy, fd) where fd already is that socket: the kernel drops and
    reinstalls the same file; no descriptor of the socket went away."""
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    copy = server.cmd("dup %d" % c.afd)["fd"]
    server.cmd("dup2-raw %d %d" % (copy, c.afd))
    assert server.cookie(c.afd) == server.cookie(copy) == c.server_sock
    client_hangs_up(c)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd), (server.pid, SERVER_COMM, copy)],
               owner_pid=server.pid, owner_comm=SERVER_COMM)
    assert tl.stop() == 3


def test_failed_dup2_closes_nothing():
    """dup2(999, fd) fails with EBADF and leaves fd alone."""
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    copy = server.cmd("dup %d" % c.afd)["fd"]
    with pytest.raises(harness.PeerError, match="errno=9"):
        server.cmd("dup2-raw 999 %d" % c.afd)
    client_hangs_up(c)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, c.afd), (server.pid, SERVER_COMM, copy)],
               owner_pid=server.pid, owner_comm=SERVER_COMM)
    assert tl.stop() == 3


@pytest.mark.parametrize("order", ["closes-then-hang-up", "hang-up-then-closes"])
def test_closed_by_is_the_first_close(order):
    """Two closes that did not take effect (fd 4, then the first copy): the
    first is closed_by, whether they came before or after the peer hung up
    (leak_tracker.cpp: "The earliest release is the close() that did not take
    effect; later ones ... do not change that")."""
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    first_copy = server.cmd("dup %d" % c.afd)["fd"]
    last_copy = server.cmd("dup %d" % c.afd)["fd"]
    if order == "closes-then-hang-up":
        server.close(c.afd)
        server.close(first_copy)
        client.close(c.cfd)
        server.wait_eof(last_copy)
    else:
        client.close(c.cfd)
        server.wait_eof(last_copy)
        server.close(c.afd)
        server.close(first_copy)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=last_copy, verdict="closed_still_referenced",
               holders=[(server.pid, SERVER_COMM, last_copy)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=server.pid, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via="close")
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# Stopping while holder checks are due


STOPS = [("duration", None), ("sigint", signal.SIGINT), ("sigterm", signal.SIGTERM)]


@pytest.mark.parametrize("how, sig", STOPS, ids=[s[0] for s in STOPS])
def test_stop_while_sockets_are_due_reports_and_exits_3(how, sig):
    """A machine where sockets keep crossing the threshold: whenever tcpleak
    stops, some are due for a holder check. It must still check them, print
    its summary and exit 3, 20 times in a row (it used to crash, exit 139)."""
    leaker = harness.Leaker("steady", 300, 1.0)
    for run in range(20):
        args = ["-p", str(leaker.pid)] + (["--duration", "600ms"] if sig is None else [])
        tl = start_leaks(*args, threshold="100ms")
        tl.wait_for(lambda r: r["type"] == "leak", what="a first leak (run %d)" % run)
        code = tl.wait_exit() if sig is None else tl.stop(sig)
        assert code == 3, "run %d: exit status %r, expected 3\n%s" % (run, code, tl.report())
        summary = tl.summary()
        assert summary["leaks"] >= 1, fmt(summary)
        assert tl.records()[-1]["type"] == "summary", "run %d: the summary is not last" % run


# ---------------------------------------------------------------------------
# Holders that turn up late, releases by exec, filters by the closer


def test_socket_accepted_after_the_threshold_is_reported():
    """A slow server: the client's FIN arrives while the connection waits in
    the accept queue (no descriptor holds it), the server accepts it 2 s past
    the threshold and keeps it. A leak (it used to be dropped unseen after
    three looks)."""
    server, client = peers()
    tl = start_leaks()
    lst = server.listen()
    conn = client.connect(lst["port"])
    client.close(conn["fd"])  # the FIN reaches the queued connection: CLOSE_WAIT, unheld
    time.sleep(THRESHOLD_MS / 1000 + 2.0)  # the slow server's delay is the scenario itself
    a = server.accept(lst["fd"])
    assert a["port"] == conn["sport"], a
    assert server.state(a["fd"]) == "CLOSE_WAIT"
    c = harness.Connection(server=server, client=client, family=4, port=lst["port"], lfd=lst["fd"],
                           listener_sock=None, cfd=conn["fd"], sport=conn["sport"], client_sock=None,
                           afd=a["fd"], server_sock=server.cookie(a["fd"]))
    leak = wait_leak(tl, c.server_sock, timeout=harness.DEFAULT_TIMEOUT)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=a["fd"], verdict="never_closed",
               holders=[(server.pid, SERVER_COMM, a["fd"])], owner_pid=server.pid, owner_comm=SERVER_COMM)
    assert leak["close_wait_ms"] >= THRESHOLD_MS + 2000, fmt(leak)
    server.close(a["fd"])
    wait_resolved(tl, c.server_sock)
    assert tl.stop() == 3
    assert tl.summary()["close_wait_unheld"] >= 1, tl.summary()  # it, at least (the host's count too)


def test_socket_received_late_over_a_unix_socket_is_reported():
    """The server sends its socket to a handler over a unix socket and closes
    its copy; the handler receives it only 2 s past the threshold (it sat in
    flight, held by no descriptor), then keeps it."""
    server, client = peers()
    handler = Peer(comm="e2e-handler")
    tl = start_leaks()
    c = open_connection_uncookied(server, client)
    name = "tcpleak-e2e-late-%d-%d" % (os.getpid(), server.pid)
    ulst = handler.cmd("unix-listen " + name)["fd"]
    sending = server.cmd("unix-connect " + name)["fd"]
    receiving = handler.cmd("unix-accept %d" % ulst)["fd"]
    server.cmd("send-fd %d %d" % (sending, c.afd))
    server.close(c.afd)  # only the message in flight references it now
    client.close(c.cfd)
    time.sleep(THRESHOLD_MS / 1000 + 2.0)  # the handler's delay is the scenario itself
    passed = handler.cmd("recv-fd %d" % receiving)["fd"]
    c.server_sock = handler.cookie(passed)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=handler.pid, comm="e2e-handler", fd=passed, verdict="closed_still_referenced",
               holders=[(handler.pid, "e2e-handler", passed)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=server.pid, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via="close")
    handler.close(passed)
    wait_resolved(tl, c.server_sock)
    assert tl.stop() == 3


def test_exec_dropping_a_cloexec_descriptor_is_a_release():
    """fork + exec: the child's copy of an O_CLOEXEC socket goes away with the
    exec (no close() call); the parent keeps its own. The exec is the first
    release: closed_via exec, by the child."""
    server, client = peers()
    tl = start_leaks()
    c = open_connection(server, client)
    child = server.cmd("spawn sleep 600")["pid"]
    # The exec has happened once the child runs sleep (/proc/PID/comm).
    deadline = time.monotonic() + harness.DEFAULT_TIMEOUT
    while open("/proc/%d/comm" % child).read().strip() != "sleep":
        assert time.monotonic() < deadline, "the child did not exec"
        time.sleep(0.01)
    client_hangs_up(c)
    leak = wait_leak(tl, c.server_sock)
    check_leak(leak, c, pid=server.pid, comm=SERVER_COMM, fd=c.afd, verdict="closed_still_referenced",
               holders=[(server.pid, SERVER_COMM, c.afd)], owner_pid=server.pid, owner_comm=SERVER_COMM,
               closed_by=child, closed_by_comm=SERVER_COMM, closed_by_fd=c.afd, closed_via="exec")
    assert tl.stop() == 3


def test_pid_filter_of_a_forking_server_parent_reports_its_childrens_leaks():
    """A socat-fork-style server: the parent accepts, forks, closes its copy;
    each child keeps its connection. leaks -p PARENT reports them: the
    parent is their owner (it accepted them) and closed_by."""
    server = harness.Leaker("forking-server")
    client = Peer(comm=CLIENT_COMM)
    tl = start_leaks("-p", str(server.pid))
    conns = [client.connect(server.port) for _ in range(3)]
    children = {int(m.group(2)): int(m.group(1))
                for m in server.wait_lines(rb"child pid=(\d+) sport=(\d+)", 3)}
    for conn in conns:
        client.close(conn["fd"])
    leaks = [tl.wait_for(lambda r, s=conn["sport"]: r["type"] == "leak" and r["dport"] == s, what="leak")
             for conn in conns]
    for leak, conn in zip(leaks, conns):
        holder = children[conn["sport"]]
        assert (leak["pid"], leak["owner_pid"], leak["closed_by"], leak["closed_via"]) == (
            holder, server.pid, server.pid, "close"), fmt(leak)
        assert leak["verdict"] == "closed_still_referenced", fmt(leak)
        assert [h["pid"] for h in leak["holders"]] == [holder], fmt(leak)
    assert tl.stop() == 3
