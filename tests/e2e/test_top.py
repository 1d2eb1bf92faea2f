"""tcpleak top: the live census, against real sockets in separate processes.

The machine is shared: other tests' sockets and processes come and go. Every
check looks at the rows of this test's own processes (-p, or its pid in the
rows), or at a network namespace this test created (exact counts there).
Every wait is for a census that shows the expected state, never a sleep.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import harness
from harness import Peer, Tcpleak, open_connection
import stuck
from stuck import Netns, read_sysctl

INTERVAL = "300ms"


def close_wait_server(server, client, n, family=4, listener=None):
    """n connections whose client closed: the server holds n sockets in
    CLOSE_WAIT (it read the EOF, so the FIN is there). Returns the listener."""
    if listener is None:
        r = server.listen(family)
        listener = (r["fd"], r["port"])
    for _ in range(n):
        c = open_connection(server, client, family, listener=listener)
        client.close(c.cfd)
        server.wait_eof(c.afd)
    return listener


def row_of(census, pid):
    rows = [r for r in census["rows"] if r["pid"] == pid]
    return rows[0] if rows else None


def wait_row(tl, pid, predicate, what, timeout=harness.DEFAULT_TIMEOUT):
    def matches(r):
        if r.get("type") != "census":
            return False
        row = row_of(r, pid)
        return row is not None and predicate(row)
    return tl.wait_for(matches, timeout, what)


@pytest.mark.parametrize("family", [4, 6])
def test_close_wait_counted_and_growth_visible(family):
    server = Peer(comm="tl-top-srv")
    client = Peer(comm="tl-top-cli")
    listener = close_wait_server(server, client, 3, family)
    tl = Tcpleak(["top", "--json", "--interval", INTERVAL, "-p", str(server.pid)])
    start = tl.wait_started()
    assert start["mode"] == "top" and start["by"] == "process" and start["interval_ms"] == 300

    first = wait_row(tl, server.pid, lambda row: row["states"]["CLOSE_WAIT"] == 3, "3 CLOSE_WAIT")
    row = row_of(first, server.pid)
    assert row["comm"] == "tl-top-srv"
    assert row["total"] == 4  # the listener, and the 3 sockets
    assert row["oldest_close_wait_ms"] is not None
    assert [r["pid"] for r in first["rows"]] == [server.pid]  # -p

    close_wait_server(server, client, 4, family, listener)
    grown = wait_row(tl, server.pid, lambda row: row["states"]["CLOSE_WAIT"] == 7 and row["close_wait_growth"] >= 4,
                     "7 CLOSE_WAIT, growing")
    row = row_of(grown, server.pid)
    assert row["close_wait_per_minute"] > 0 and row["growth_ms"] > 0
    assert grown["growing"] == 1
    assert grown["interval_ms"] is not None

    assert tl.stop(signal.SIGINT) == 0
    summary = tl.summary()
    assert summary["mode"] == "top" and summary["snapshots"] >= 2


def test_growing_close_wait_ranks_above_a_larger_steady_one():
    steady = Peer(comm="tl-top-steady")
    growing = Peer(comm="tl-top-grow")
    client = Peer(comm="tl-top-gcli")
    close_wait_server(steady, client, 5)
    listener = close_wait_server(growing, client, 1)
    tl = Tcpleak(["top", "--json", "--interval", INTERVAL, "-p", "%d,%d" % (steady.pid, growing.pid)])
    tl.wait_started()
    first = wait_row(tl, growing.pid, lambda row: row["states"]["CLOSE_WAIT"] == 1, "1 CLOSE_WAIT")
    assert [r["pid"] for r in first["rows"]] == [steady.pid, growing.pid]  # the most CLOSE_WAIT first
    close_wait_server(growing, client, 2, listener=listener)
    census = wait_row(tl, growing.pid, lambda row: row["states"]["CLOSE_WAIT"] == 3, "3 CLOSE_WAIT")
    assert row_of(census, growing.pid)["close_wait_growth"] == 2
    assert row_of(census, steady.pid)["close_wait_growth"] == 0
    assert [r["pid"] for r in census["rows"]] == [growing.pid, steady.pid]  # growing first
    assert tl.stop() == 0


def test_new_connections_per_second_and_sigterm_exit():
    server = Peer(comm="tl-top-new")
    client = Peer(comm="tl-top-newc")
    r = server.listen(4)
    tl = Tcpleak(["top", "--json", "--interval", INTERVAL, "-p", str(server.pid)])
    tl.wait_started()
    wait_row(tl, server.pid, lambda row: row["total"] == 1, "the listener alone")
    for _ in range(5):
        open_connection(server, client, 4, listener=(r["fd"], r["port"]))
    census = wait_row(tl, server.pid, lambda row: row["states"]["ESTABLISHED"] == 5, "5 ESTABLISHED")
    row = row_of(census, server.pid)
    # Opened between two censuses: every one is new in the census that first shows it.
    assert row["new_connections"] == 5 and row["new_per_second"] > 0
    assert tl.stop(signal.SIGTERM) == 0


def test_time_wait_counted_in_the_unheld_row_of_its_namespace():
    ns = Netns("top")
    ns.sysctl("tcp_max_tw_buckets", 4321)
    server = Peer(netns=ns.name, comm="tl-top-tws")
    client = Peer(netns=ns.name, comm="tl-top-twc")
    r = server.listen(4)
    n = 5
    for _ in range(n):
        c = open_connection(server, client, 4, listener=(r["fd"], r["port"]))
        client.close(c.cfd)  # the client closes first: its end goes to TIME_WAIT
        server.wait_eof(c.afd)
        server.close(c.afd)
    tl = Tcpleak(["top", "--json", "--interval", INTERVAL, "--count", "5"])
    tl.wait_started()

    def time_wait_row(census):
        rows = [u for u in census["unheld"] if u["netns"] == ns.inode and u["kind"] == "time_wait"]
        return rows[0] if rows else None

    census = tl.wait_for(lambda c: c.get("type") == "census" and time_wait_row(c) is not None
                         and time_wait_row(c)["states"]["TIME_WAIT"] == n, what="5 TIME_WAIT in the test's netns")
    row = time_wait_row(census)
    assert row["total"] == n
    assert row["limits"]["tcp_max_tw_buckets"] == 4321
    assert row["limits"]["tcp_fin_timeout"] == read_sysctl("tcp_fin_timeout", ns.name)
    assert census["time_wait"] >= n
    # The client held them; nobody does now: it has no row (no -p here).
    assert row_of(census, client.pid) is None
    assert row_of(census, server.pid)["total"] == 1  # its listener
    assert tl.wait_exit() == 0  # --count 5
    assert len(tl.records("census")) == 5


def test_orphaned_fin_wait1_in_the_orphaned_row_with_its_limits():
    with stuck.fin_wait1_peer_not_reading(held=False, topology=stuck.netns_loopback("toporph", tcp_orphan_retries=7)) \
            as sc:
        tl = Tcpleak(["top", "--json", "--interval", INTERVAL, "-p", str(sc.other.pid)])
        tl.wait_started()
        netns = sc.stuck.netns

        def orphaned(census):
            rows = [u for u in census["unheld"] if u["netns"] == netns and u["kind"] == "orphaned"]
            return rows[0] if rows else None

        census = tl.wait_for(lambda c: c.get("type") == "census" and orphaned(c) is not None,
                             what="the orphaned row of the scenario's namespace")
        row = orphaned(census)
        assert row["states"]["FIN_WAIT1"] == 1 and row["total"] == 1
        assert row["limits"]["tcp_orphan_retries"] == 7
        assert row["limits"]["tcp_max_orphans"] == read_sysctl("tcp_max_orphans")  # host-wide
        assert census["orphans"] >= 1
        # The reader still holds its end, ESTABLISHED with unread bytes.
        assert row_of(census, sc.other.pid)["states"]["ESTABLISHED"] == 1
        assert tl.stop() == 0


def test_half_closed_pair_each_end_in_its_holders_row():
    with stuck.half_closed("shutdown") as sc:
        tl = Tcpleak(["top", "--json", "--interval", INTERVAL, "-p", "%d,%d" % (sc.stuck.pid, sc.other.pid)])
        tl.wait_started()
        client, server = sc.stuck, sc.other
        census = wait_row(tl, client.pid, lambda row: row["states"]["FIN_WAIT2"] == 1, "the client's FIN_WAIT2")
        assert row_of(census, server.pid)["states"]["CLOSE_WAIT"] == 1
        assert [r["pid"] for r in census["rows"]] == [server.pid, client.pid]  # CLOSE_WAIT ranks first
        assert tl.stop() == 0


def test_terminal_screen_read_through_tmux():
    tmux = shutil.which("tmux")
    assert tmux, "tmux is not installed (scripts/setup --tests installs it)"
    server = Peer(comm="tl-top-tty")
    client = Peer(comm="tl-top-ttyc")
    close_wait_server(server, client, 3)
    socket_name = "tcpleak-e2e-top-%d" % os.getpid()
    command = "%s top --interval %s -p %d; echo tcpleak-exit=$?; sleep 60" % (harness.tcpleak_bin(), INTERVAL,
                                                                               server.pid)
    subprocess.run([tmux, "-L", socket_name, "new-session", "-d", "-s", "top", "-x", "160", "-y", "40", command],
                   check=True, timeout=10)
    try:
        def screen():
            return subprocess.run([tmux, "-L", socket_name, "capture-pane", "-p", "-t", "top"], check=True,
                                  capture_output=True, text=True, timeout=10).stdout

        line = wait_screen(screen, lambda text: server_line(text, server.pid), "the server's row")
        fields = line.split()
        headings = heading_line(screen()).split()
        assert fields[headings.index("C_WAIT")] == "3", line
        assert fields[headings.index("ESTAB")] == "0", line
        assert fields[-1] == "tl-top-tty", line
        assert fields[headings.index("OLDEST_CW")].startswith(">="), line
        text = screen()
        assert text.startswith("tcpleak top "), text
        assert "every 300ms" in text.splitlines()[0], text
        # Redrawn in place: one header on the screen, however many censuses.
        assert text.count("tcpleak top ") == 1, text
        subprocess.run([tmux, "-L", socket_name, "send-keys", "-t", "top", "C-c"], check=True, timeout=10)
        wait_screen(screen, lambda text: "tcpleak-exit=0" in text, "exit status 0 after Ctrl-C")
    finally:
        subprocess.run([tmux, "-L", socket_name, "kill-server"], stderr=subprocess.DEVNULL, timeout=10)


def wait_screen(screen, predicate, what, timeout=harness.DEFAULT_TIMEOUT):
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen()
        found = predicate(text)
        if found:
            return found
        time.sleep(0.1)  # polling the pane for a condition: tmux has no event to wait on
    raise AssertionError("no %s on the screen within %.0fs:\n%s" % (what, timeout, text))


def server_line(text, pid):
    for line in text.splitlines():
        if line.split()[:1] == [str(pid)]:
            return line
    return None


def heading_line(text):
    return next(line for line in text.splitlines() if line.split()[:1] == ["PID"])


def test_plain_tables_when_not_a_terminal():
    server = Peer(comm="tl-top-pipe")
    tl = Tcpleak(["top", "--interval", INTERVAL, "--count", "2", "-p", str(server.pid)], json_mode=False)
    assert tl.wait_exit() == 0
    out = b"".join(tl.stdout_lines()).decode()
    assert "\x1b[" not in out
    assert out.count("tcpleak top ") == 2
    assert "censuses in" in out


def cgroup2_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    raise AssertionError("no cgroup2 mount")


def test_by_container_adds_up_a_test_cgroup():
    root = cgroup2_root()
    name = "tcpleak-e2e-top-%d" % os.getpid()
    path = os.path.join(root, name)
    os.mkdir(path)
    server = Peer(comm="tl-top-ctr")
    client = Peer(comm="tl-top-ctrc")
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(server.pid))
        helper = Peer(comm="tl-top-ctr2")
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(helper.pid))
        close_wait_server(server, client, 2)
        r = helper.listen(4)
        tl = Tcpleak(["top", "--json", "--by", "container", "--interval", INTERVAL])
        tl.wait_started()

        def ours(census):
            rows = [row for row in census["rows"] if row["container"] == "/" + name]
            return rows[0] if rows else None

        census = tl.wait_for(lambda c: c.get("type") == "census" and ours(c) is not None
                             and ours(c)["states"]["CLOSE_WAIT"] == 2 and ours(c)["total"] == 4,
                             what="the test cgroup's row")
        row = ours(census)
        assert row["processes"] == 2
        assert row["pid"] == min(server.pid, helper.pid)
        assert tl.stop() == 0
        assert r["port"] > 0
    finally:
        for peer in [p for p in harness.live_processes() if isinstance(p, Peer)]:
            peer.cleanup()
        for _ in range(100):  # the killed peers leave the cgroup as they are reaped
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.05)


@pytest.mark.parametrize("args, message", [
    (["--by", "pod"], "--by pod: not process or container"),
    (["--interval", "0"], "--interval 0: must be greater than zero"),
    (["--count", "0"], "--count 0: not a number of censuses (1 or more)"),
    (["--threshold", "5s"], "--threshold"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    p = subprocess.run([harness.tcpleak_bin(), "top"] + args, capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    first = p.stderr.splitlines()[0]
    assert first.startswith("tcpleak top: ") and message in first, p.stderr
    assert re.search(r"Run 'tcpleak top --help'", p.stderr)
