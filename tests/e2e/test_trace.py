# Over 500 lines: one test per attribution case of trace, with the helpers they share.
"""End-to-end tests of `tcpleak trace`: the real binary, real loopback
connections between separate peer processes, exact transitions and owners."""

import collections
import datetime
import os
import re
import signal
import subprocess
import time

import pytest

import harness
from harness import Peer, Tcpleak, by_sock, fmt_records, marker, on_port, open_connection

SERVER_COMM = "e2e-server"
CLIENT_COMM = "e2e-client"

# (old_state, new_state, owner_via) per socket, for one connection.
LISTENER = [("CLOSE", "LISTEN", "listen"), ("LISTEN", "CLOSE", "listen")]
# A connection's states, each side's with its owner_via: both sides open it,
# then the side that closes first goes through FIN_WAIT1, the other through
# CLOSE_WAIT.
OPENS = {"client": [("CLOSE", "SYN_SENT", "connect"), ("SYN_SENT", "ESTABLISHED", "connect")],
         "server": [("LISTEN", "SYN_RECV", "listener"), ("SYN_RECV", "ESTABLISHED", "listener")]}
CLOSES_FIRST = [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"), ("FIN_WAIT2", "CLOSE")]
CLOSES_SECOND = [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSE")]
OWNER_VIA = {"client": "connect", "server": "accept"}


def connection_closed_by(first):
    """(old_state, new_state, owner_via) per socket of a connection whose `first` side closes first."""
    return {side: OPENS[side] + [(old, new, OWNER_VIA[side])
                                 for old, new in (CLOSES_FIRST if side == first else CLOSES_SECOND)]
            for side in ("client", "server")}


# The client closes first: the server's accepted socket goes to CLOSE_WAIT.
CLIENT_CLOSES = connection_closed_by("client")
# The server closes first: the client goes to CLOSE_WAIT.
SERVER_CLOSES = connection_closed_by("server")
EXPECTED = {"client": CLIENT_CLOSES, "server": SERVER_CLOSES}

# Transitions that run in the task that caused them (close(), connect(), listen()).
TASK_CONTEXT = {("CLOSE", "SYN_SENT"), ("CLOSE", "LISTEN"), ("LISTEN", "CLOSE"),
                ("ESTABLISHED", "FIN_WAIT1"), ("CLOSE_WAIT", "LAST_ACK")}


# ---------------------------------------------------------------------------
# Helpers


def start_trace(*args, json_mode=True, wrapper=()):
    argv = ["trace"] + (["--json"] if json_mode else []) + list(args)
    tl = Tcpleak(argv, wrapper=wrapper)
    start = tl.wait_started()
    if json_mode:
        assert start["tool"] == "tcpleak" and start["mode"] == "trace", start
        assert start["schema_version"] == 3, start
    return tl


def close_connection(c, closer):
    """Closes both ends, `closer` first; the other end is in CLOSE_WAIT when it closes.

    Returns the transitions that end the connection, as (sock, old, new).
    """
    if closer == "client":
        c.client.close(c.cfd)
        c.server.wait_eof(c.afd)  # the server's socket is in CLOSE_WAIT
        c.server.close(c.afd)
        return [(c.client_sock, "FIN_WAIT2", "CLOSE"), (c.server_sock, "LAST_ACK", "CLOSE")]
    c.server.close(c.afd)
    c.client.wait_eof(c.cfd)  # the client's socket is in CLOSE_WAIT
    c.client.close(c.cfd)
    return [(c.server_sock, "FIN_WAIT2", "CLOSE"), (c.client_sock, "LAST_ACK", "CLOSE")]


def wait_all(tl, finals):
    for sock, old, new in finals:
        tl.wait_transition(sock=sock, old=old, new=new)


def close_listener(tl, c):
    c.server.close(c.lfd)
    if tl is not None:
        tl.wait_transition(sock=c.listener_sock, old="LISTEN", new="CLOSE")


def client_closes_leaving_unread(tl, c, nbytes):
    """The client sends nbytes that the server does not read, then closes.

    Returns the record of the server's socket entering CLOSE_WAIT.
    """
    c.client.cmd("send %d %d" % (c.cfd, nbytes))
    c.client.close(c.cfd)
    return tl.wait_transition(sock=c.server_sock, old="ESTABLISHED", new="CLOSE_WAIT")


def our_netns():
    return os.stat("/proc/self/ns/net").st_ino


def cgroup_id(pid):
    """cgroup v2 id (= the cgroup directory's inode) of pid, or None without cgroup v2."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                mount = fields[4]
                break
    if mount is None:
        return None
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return os.stat(mount + line[3:].strip()).st_ino
    return None


def check_sequence(records, sock, expected, peer, comm, what):
    """The transitions of socket `sock` are exactly `expected`, all owned by peer."""
    mine = [r for r in records if r["sock"] == sock]
    got = [(r["old_state"], r["new_state"], r["owner_via"]) for r in mine]
    assert got == expected, "%s (sock %d): transitions/owner_via differ\nexpected %s\ngot      %s\n%s" % (
        what, sock, expected, got, fmt_records(mine))
    cgroup = cgroup_id(peer.pid)
    for r in mine:
        assert r["pid"] == peer.pid, "%s: owner pid %r, expected %d\n%s" % (what, r["pid"], peer.pid, r)
        assert r["comm"] == comm, "%s: owner comm %r, expected %r\n%s" % (what, r["comm"], comm, r)
        if cgroup is not None:
            assert r["cgroup"] == cgroup, "%s: owner cgroup %r, expected %d (the owner's)\n%s" % (
                what, r["cgroup"], cgroup, r)
    return mine


def check_common(records, family, cgroup):
    fam = "ipv4" if family == 4 else "ipv6"
    for r in records:
        assert r["family"] == fam, r
        assert r["uid"] == 0, r
        assert r["netns"] == our_netns(), r
        if cgroup is not None:
            assert r["cgroup"] == cgroup, "cgroup %r, expected %d: %s" % (r["cgroup"], cgroup, r)
        assert r["rx_queue"] == 0, r  # nothing was ever sent


def check_addresses(records, c):
    lo = harness.loopback(c.family)
    anyaddr = "0.0.0.0" if c.family == 4 else "::"
    for r in records:
        edge = (r["old_state"], r["new_state"])
        if r["sock"] == c.listener_sock:
            assert (r["saddr"], r["sport"], r["daddr"], r["dport"]) == (lo, c.port, anyaddr, 0), r
        elif r["sock"] == c.server_sock:
            assert (r["saddr"], r["sport"], r["daddr"], r["dport"]) == (lo, c.port, lo, c.sport), r
        elif edge == ("CLOSE", "SYN_SENT"):
            # connect() moves to SYN_SENT before it picks the source port.
            assert (r["daddr"], r["dport"]) == (lo, c.port), r
            assert r["sport"] in (0, c.sport), r
        else:
            assert (r["saddr"], r["sport"], r["daddr"], r["dport"]) == (lo, c.sport, lo, c.port), r


def check_task_context(records, c):
    """Transitions a process's own syscall caused run in that process."""
    for r in records:
        if (r["old_state"], r["new_state"]) in TASK_CONTEXT:
            owner = c.client if r["sock"] == c.client_sock else c.server
            assert r["ctx_pid"] == owner.pid, "expected in the context of %d: %s" % (owner.pid, r)
            assert r["ctx_comm"] == r["comm"], r


def check_old_state_us(records):
    """Every transition after a socket's first one says how long the old state lasted."""
    for sock, _ in by_sock(records).items():
        mine = [r for r in records if r["sock"] == sock]
        for r in mine[1:]:
            assert isinstance(r["old_state_us"], int) and r["old_state_us"] >= 0, \
                "old_state_us missing on a later transition: %s" % r


def peers():
    return Peer(comm=SERVER_COMM), Peer(comm=CLIENT_COMM)


def check_one_connection(family, closer, wrapper=()):
    server, client = peers()
    tl = start_trace(*(["-v"] if wrapper else []), wrapper=wrapper)
    if wrapper:
        harness.wait_fallback_hooks_line(tl)
    c = open_connection(server, client, family)
    wait_all(tl, close_connection(c, closer))
    close_listener(tl, c)
    marker(tl, server)
    recs = tl.transitions(on_port(c.port))
    assert set(by_sock(recs)) == {c.listener_sock, c.client_sock, c.server_sock}, fmt_records(recs)
    check_sequence(recs, c.listener_sock, LISTENER, server, SERVER_COMM, "listener")
    check_sequence(recs, c.client_sock, EXPECTED[closer]["client"], client, CLIENT_COMM, "client")
    check_sequence(recs, c.server_sock, EXPECTED[closer]["server"], server, SERVER_COMM, "accepted")
    check_common(recs, family, cgroup_id(server.pid))
    check_addresses(recs, c)
    check_task_context(recs, c)
    check_old_state_us(recs)
    assert tl.stop() == 0
    return tl, c, recs


# ---------------------------------------------------------------------------
# 1-3: exact sequences


def test_without_tracefs_syscall_events_the_fallback_hooks_attribute_the_same():
    """No syscalls:* events reachable: tp_btf sys_enter/sys_exit catch accept()."""
    check_one_connection(4, "client", wrapper=harness.NO_TRACEFS)


def test_client_closes_first_ipv4_exact_sequence():
    tl, c, recs = check_one_connection(4, "client")
    # The FIN reaches the server in softirq, often in the client's context:
    # the owner is still the server.
    cw = [r for r in recs if r["sock"] == c.server_sock and r["new_state"] == "CLOSE_WAIT"]
    assert len(cw) == 1 and cw[0]["pid"] == c.server.pid and cw[0]["pid"] != c.client.pid, cw


def test_server_closes_first_ipv4_exact_sequence():
    tl, c, recs = check_one_connection(4, "server")
    cw = [r for r in recs if r["sock"] == c.client_sock and r["new_state"] == "CLOSE_WAIT"]
    assert len(cw) == 1 and cw[0]["pid"] == c.client.pid, cw


@pytest.mark.parametrize("closer", ["client", "server"])
def test_ipv6_exact_sequence(closer):
    check_one_connection(6, closer)


# ---------------------------------------------------------------------------
# 4-5: filters


def test_pid_filter_keeps_only_that_owner():
    server, client = peers()
    tl = start_trace("-p", str(server.pid))
    c = open_connection(server, client)
    close_connection(c, "client")
    # The server's last transition comes after all of the client's.
    tl.wait_transition(sock=c.server_sock, old="LAST_ACK", new="CLOSE")
    close_listener(tl, c)
    marker(tl, server)  # owned by the server: passes the filter
    recs = tl.transitions()
    assert all(r["pid"] == server.pid for r in recs), fmt_records(r for r in recs if r["pid"] != server.pid)
    assert not [r for r in recs if r["sock"] == c.client_sock], "client socket shown:\n" + fmt_records(recs)
    mine = [r for r in recs if r["sock"] in (c.listener_sock, c.server_sock)]
    check_sequence(mine, c.listener_sock, LISTENER, server, SERVER_COMM, "listener")
    check_sequence(mine, c.server_sock, CLIENT_CLOSES["server"], server, SERVER_COMM, "accepted")
    assert tl.stop() == 0


def test_port_filter_keeps_only_that_port():
    server, client = peers()
    l1 = server.listen()
    l2 = server.listen()
    p1, p2 = l1["port"], l2["port"]
    tl = start_trace("--port", str(p1))
    # First the connection that must not show, completely over before the other.
    other = open_connection(server, client, listener=(l2["fd"], p2))
    close_connection(other, "client")
    harness.wait_port_quiet(other.sport)
    server.close(l2["fd"])
    # Then the one on the traced port; its listener's close is the marker.
    c = open_connection(server, client, listener=(l1["fd"], p1))
    wait_all(tl, close_connection(c, "client"))
    close_listener(tl, c)
    recs = tl.transitions()
    strays = [r for r in recs if p1 not in (r["sport"], r["dport"])]
    assert not strays, "transitions not on port %d:\n%s" % (p1, fmt_records(strays))
    assert set(by_sock(recs)) == {c.listener_sock, c.client_sock, c.server_sock}, fmt_records(recs)
    # The listener predates tcpleak: only its close, owner from the fd table.
    check_sequence(recs, c.listener_sock, [("LISTEN", "CLOSE", "fd_table")], server, SERVER_COMM, "listener")
    check_sequence(recs, c.client_sock, CLIENT_CLOSES["client"], client, CLIENT_COMM, "client")
    check_sequence(recs, c.server_sock, CLIENT_CLOSES["server"], server, SERVER_COMM, "accepted")
    assert tl.stop() == 0
    # The kernel sent nothing of the other port, not even its accept (an owner
    # user space would keep for a socket whose close it never sees): the
    # transitions shown and the one accept on the traced port.
    sent = tl.summary()["kernel"]["sent"]
    assert sent == len(recs) + 1, "kernel sent %d records for %d transitions + 1 accept" % (sent, len(recs))


def test_reuseport_listeners_leave_the_owner_to_accept():
    """Two processes listen on one port (SO_REUSEPORT): a new connection may be
    either's, so its owner is null until accept(), never a guess. Once one of
    them stops listening, the port's connections are the other's again."""
    server, client = peers()
    other = Peer(comm="e2e-other")
    tl = start_trace()
    mine = server.listen(reuseport=True)
    port = mine["port"]
    theirs = other.listen(port=port, reuseport=True)
    for p, l in ((server, mine), (other, theirs)):
        r = tl.wait_transition(old="CLOSE", new="LISTEN", sport=port, pid=p.pid)
        assert r["owner_via"] == "listen", r
    conn = client.connect(port)
    r = tl.wait_transition(old="SYN_RECV", new="ESTABLISHED", sport=port, dport=conn["sport"])
    received = tl.transitions(lambda x: x["sport"] == port and x["dport"] == conn["sport"])
    assert [(x["old_state"], x["pid"], x["comm"], x["owner_via"]) for x in received] == [
        ("LISTEN", None, None, None), ("SYN_RECV", None, None, None)], fmt_records(received)
    client.close(conn["fd"])

    other.close(theirs["fd"])
    tl.wait_transition(old="LISTEN", new="CLOSE", sport=port, pid=other.pid)
    conn = client.connect(port)
    r = tl.wait_transition(old="SYN_RECV", new="ESTABLISHED", sport=port, dport=conn["sport"])
    assert (r["pid"], r["comm"], r["owner_via"]) == (server.pid, SERVER_COMM, "listener"), r
    # The first connection may wait in this listener's queue too (the kernel
    # picked a listener for it by its addresses): accept until this one.
    a = server.accept(mine["fd"])
    if a["port"] != conn["sport"]:
        a = server.accept(mine["fd"])
    assert a["port"] == conn["sport"], a
    client.close(conn["fd"])
    r = tl.wait_transition(old="ESTABLISHED", new="CLOSE_WAIT", sport=port, dport=conn["sport"])
    assert (r["pid"], r["owner_via"]) == (server.pid, "accept"), r
    assert tl.stop() == 0


def test_reuseport_with_pid_filter_never_credits_the_selected_process():
    """-p SERVER while another process listens on the same port after tcpleak
    started: the kernel is told of that listener too, so a new connection on
    the shared port is the server's only once the server accepts it. Before
    that it may be either's: under -p it is not shown at all."""
    server, client = peers()
    other = Peer(comm="e2e-other")
    tl = start_trace("-p", str(server.pid))
    mine = server.listen(reuseport=True)
    port = mine["port"]
    theirs = other.listen(port=port, reuseport=True)
    tl.wait_transition(old="CLOSE", new="LISTEN", sport=port, pid=server.pid)
    conn = client.connect(port)
    # Whichever listener got it, the server accepts it (from its own queue,
    # or it is the other's: then the other accepts and it is never shown).
    which = None
    for peer, lst in ((server, mine), (other, theirs)):
        got = peer.cmd("accept-nowait %d" % lst["fd"])
        if got.get("fd") is not None and got.get("port") == conn["sport"]:
            which = (peer, got["fd"])
            break
    assert which is not None, "nobody's queue had the connection"
    client.close(conn["fd"])
    accepted_by, afd = which
    accepted_by.wait_eof(afd)
    marker(tl, server)
    shown = tl.transitions(lambda x: x["sport"] == port and x["dport"] == conn["sport"])
    if accepted_by is server:
        assert [(x["old_state"], x["new_state"], x["pid"]) for x in shown] == [
            ("ESTABLISHED", "CLOSE_WAIT", server.pid)], fmt_records(shown)
    else:
        assert not shown, fmt_records(shown)
    assert all(x["pid"] == server.pid for x in tl.transitions()), fmt_records(tl.transitions())
    # Nothing of the other process's listener is printed.
    assert not tl.transitions(lambda x: x["sock"] == other.cookie(theirs["fd"])), fmt_records(tl.transitions())
    assert tl.stop() == 0


def test_state_filter_keeps_only_close_wait_transitions():
    server, client = peers()
    tl = start_trace("--state", "CLOSE_WAIT")
    a = open_connection(server, client)  # the server's socket goes through CLOSE_WAIT
    close_connection(a, "client")
    tl.wait_transition(sock=a.server_sock, old="CLOSE_WAIT", new="LAST_ACK")
    harness.wait_port_quiet(a.sport)  # its later transitions (not shown) are over
    close_listener(None, a)
    b = open_connection(server, client)  # marker: the client's socket goes through CLOSE_WAIT
    close_connection(b, "server")
    tl.wait_transition(sock=b.client_sock, old="CLOSE_WAIT", new="LAST_ACK")
    recs = tl.transitions()
    strays = [r for r in recs if "CLOSE_WAIT" not in (r["old_state"], r["new_state"])]
    assert not strays, "transitions not into/out of CLOSE_WAIT:\n" + fmt_records(strays)
    ra = tl.transitions(on_port(a.port))
    assert by_sock(ra) == {a.server_sock: [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK")]}, \
        fmt_records(ra)
    check_sequence(ra, a.server_sock, CLIENT_CLOSES["server"][2:4], server, SERVER_COMM, "accepted")
    rb = tl.transitions(on_port(b.port))
    assert by_sock(rb) == {b.client_sock: [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK")]}, \
        fmt_records(rb)
    check_sequence(rb, b.client_sock, SERVER_CLOSES["client"][2:4], client, CLIENT_COMM, "client")
    assert tl.stop() == 0


def test_state_filter_still_times_the_old_state():
    """--state CLOSE_WAIT hides ESTABLISHED's start, but its time is still known."""
    server, client = peers()
    tl = start_trace("--state", "CLOSE_WAIT")
    c = open_connection(server, client)
    established = time.monotonic()
    close_connection(c, "client")  # the server's socket enters CLOSE_WAIT
    entered = tl.wait_transition(sock=c.server_sock, old="ESTABLISHED", new="CLOSE_WAIT")
    spent_ms = (time.monotonic() - established) * 1000
    assert entered["old_state_us"] is not None, fmt_records([entered])
    assert entered["old_state_us"] / 1000 <= spent_ms + 50, (spent_ms, fmt_records([entered]))
    assert tl.stop() == 0


def test_events_arrive_promptly():
    """A reader sees each event within ~100 ms (the ring buffer is polled every 50 ms)."""
    server, client = peers()
    tl = start_trace()
    r = server.listen(4)
    delays = []
    for _ in range(10):
        c = client.connect(r["port"], 4)
        record = tl.wait_transition(sock=client.cookie(c["fd"]), old="CLOSE", new="SYN_SENT")
        arrived = time.time()
        happened = harness.check_time(record["time"]).timestamp()
        delays.append(arrived - happened)
        server.close(server.accept(r["fd"])["fd"])
        client.close(c["fd"])
    delays.sort()
    assert delays[len(delays) // 2] < 0.1, "median delay %.3fs: %r" % (delays[len(delays) // 2], delays)
    assert delays[-1] < 0.5, "slowest delay %.3fs: %r" % (delays[-1], delays)
    assert tl.stop() == 0


@pytest.mark.parametrize("flag, shown, hidden", [("-4", 4, 6), ("-6", 6, 4)])
def test_family_filter(flag, shown, hidden):
    server, client = peers()
    tl = start_trace(flag)
    other = open_connection(server, client, hidden)
    close_connection(other, "client")
    harness.wait_port_quiet(other.sport)
    close_listener(None, other)
    c = open_connection(server, client, shown)
    wait_all(tl, close_connection(c, "client"))
    close_listener(tl, c)
    recs = tl.transitions()
    fam = "ipv4" if shown == 4 else "ipv6"
    strays = [r for r in recs if r["family"] != fam]
    assert not strays, "%s shows other families:\n%s" % (flag, fmt_records(strays))
    assert not tl.transitions(on_port(other.port)), fmt_records(tl.transitions(on_port(other.port)))
    mine = tl.transitions(on_port(c.port))
    check_sequence(mine, c.listener_sock, LISTENER, server, SERVER_COMM, "listener")
    check_sequence(mine, c.client_sock, CLIENT_CLOSES["client"], client, CLIENT_COMM, "client")
    check_sequence(mine, c.server_sock, CLIENT_CLOSES["server"], server, SERVER_COMM, "accepted")
    assert tl.stop() == 0


def test_comm_filter_keeps_only_that_owner_name():
    name = "e2e-c%d" % (os.getpid() % 100000)
    server, client = Peer(comm=name), Peer(comm=CLIENT_COMM)
    tl = start_trace("-c", name)
    c = open_connection(server, client)
    close_connection(c, "client")
    # The server's last transition comes after all of the client's.
    tl.wait_transition(sock=c.server_sock, old="LAST_ACK", new="CLOSE")
    close_listener(tl, c)
    marker(tl, server)
    recs = tl.transitions()
    strays = [r for r in recs if r["comm"] != name]
    assert not strays, "owners not named %s:\n%s" % (name, fmt_records(strays))
    assert not [r for r in recs if r["sock"] == c.client_sock], fmt_records(recs)
    check_sequence(recs, c.listener_sock, LISTENER, server, name, "listener")
    check_sequence(recs, c.server_sock, CLIENT_CLOSES["server"], server, name, "accepted")
    assert tl.stop() == 0


def test_filters_combine_and_take_several_values():
    """Values of one kind of filter are alternatives (-p A,B, --port X --port Y);
    different kinds must all pass (--state with -p)."""
    server, client, third = Peer(comm=SERVER_COMM), Peer(comm=CLIENT_COMM), Peer(comm="e2e-third")
    l1, l2, l3 = server.listen(), server.listen(), server.listen()
    ports = l1["port"], l2["port"], l3["port"]
    by_ports = start_trace("--port", "%d,%d" % ports[:2])
    by_ports_repeated = start_trace("--port", str(ports[0]), "--port", str(ports[1]))
    by_pids = start_trace("-p", "%d,%d" % (server.pid, client.pid))
    pid_and_state = start_trace("-p", str(server.pid), "--state", "close-wait")
    runs = (by_ports, by_ports_repeated, by_pids, pid_and_state)
    c3 = open_connection(server, third, listener=(l3["fd"], ports[2]))
    close_connection(c3, "client")
    harness.wait_port_quiet(c3.sport)
    c1 = open_connection(server, client, listener=(l1["fd"], ports[0]))
    c2 = open_connection(server, client, listener=(l2["fd"], ports[1]))
    for c in (c1, c2):
        finals = close_connection(c, "client")
        for tl in runs[:3]:
            wait_all(tl, finals)
        pid_and_state.wait_transition(sock=c.server_sock, old="CLOSE_WAIT", new="LAST_ACK")
    # The third connection: on another port, between the server and a third process.
    for tl, hidden in ((by_ports, (c3.client_sock, c3.server_sock)),
                       (by_ports_repeated, (c3.client_sock, c3.server_sock)),
                       (by_pids, (c3.client_sock,)), (pid_and_state, (c3.client_sock,))):
        assert not [r for r in tl.transitions() if r["sock"] in hidden], \
            "%r shows the third connection:\n%s" % (tl, fmt_records(tl.transitions()))
    recs = by_pids.transitions(on_port(c3.port))
    check_sequence(recs, c3.server_sock, CLIENT_CLOSES["server"], server, SERVER_COMM, "third, accepted")
    for tl in runs[:3]:
        for c in (c1, c2):
            recs = tl.transitions(on_port(c.port))
            check_sequence(recs, c.client_sock, CLIENT_CLOSES["client"], client, CLIENT_COMM, "client")
            check_sequence(recs, c.server_sock, CLIENT_CLOSES["server"], server, SERVER_COMM, "accepted")
    for tl in runs[:2]:
        strays = [r for r in tl.transitions() if not {r["sport"], r["dport"]} & set(ports[:2])]
        assert not strays, "%r:\n%s" % (tl, fmt_records(strays))
    strays = [r for r in by_pids.transitions() if r["pid"] not in (server.pid, client.pid)]
    assert not strays, fmt_records(strays)
    recs = pid_and_state.transitions()
    assert {(r["sock"], r["old_state"], r["new_state"]) for r in recs} >= {
        (c.server_sock, "ESTABLISHED", "CLOSE_WAIT") for c in (c1, c2)}
    strays = [r for r in recs if r["pid"] != server.pid or "CLOSE_WAIT" not in (r["old_state"], r["new_state"])]
    assert not strays, fmt_records(strays)
    for tl in runs:
        assert tl.stop() == 0


def test_rx_queue_counts_unread_bytes():
    server, client = peers()
    tl = start_trace()
    c = open_connection(server, client)
    cw = client_closes_leaving_unread(tl, c, 100)
    assert cw["rx_queue"] == 100, "100 bytes unread (the FIN is not data): %s" % cw
    assert server.cmd("recv %d" % c.afd) == {"n": 100, "eof": True}
    server.close(c.afd)
    la = tl.wait_transition(sock=c.server_sock, old="CLOSE_WAIT", new="LAST_ACK")
    assert la["rx_queue"] == 0, la
    assert tl.stop() == 0


def test_close_with_unread_data_resets():
    """close() with unread data sends RST: CLOSE_WAIT -> CLOSE, no LAST_ACK."""
    server, client = peers()
    tl = start_trace()
    c = open_connection(server, client)
    client_closes_leaving_unread(tl, c, 10)
    server.close(c.afd)
    tl.wait_transition(sock=c.server_sock, old="CLOSE_WAIT", new="CLOSE")
    tl.wait_transition(sock=c.client_sock, new="CLOSE")
    close_listener(tl, c)
    recs = tl.transitions(on_port(c.port))
    check_sequence(recs, c.server_sock, CLIENT_CLOSES["server"][:3] + [("CLOSE_WAIT", "CLOSE", "accept")],
                   server, SERVER_COMM, "accepted")
    check_sequence(recs, c.client_sock, CLIENT_CLOSES["client"], client, CLIENT_COMM, "client")
    last = [r for r in recs if r["sock"] == c.server_sock][-1]
    assert last["rx_queue"] == 10 and last["ctx_pid"] == server.pid, last
    assert tl.stop() == 0


# ---------------------------------------------------------------------------
# 6: sockets that existed before tcpleak


def test_sockets_from_before_start_get_owner_from_fd_table():
    server, client = peers()
    c = open_connection(server, client)  # before tcpleak starts
    tl = start_trace()
    wait_all(tl, close_connection(c, "client"))
    close_listener(tl, c)
    marker(tl, server)
    recs = tl.transitions(on_port(c.port))
    assert set(by_sock(recs)) == {c.listener_sock, c.client_sock, c.server_sock}, fmt_records(recs)
    via = "fd_table"
    check_sequence(recs, c.listener_sock, [("LISTEN", "CLOSE", via)], server, SERVER_COMM, "listener")
    check_sequence(recs, c.client_sock, [(o, n, via) for o, n, _ in CLIENT_CLOSES["client"][2:]],
                   client, CLIENT_COMM, "client")
    check_sequence(recs, c.server_sock, [(o, n, via) for o, n, _ in CLIENT_CLOSES["server"][2:]],
                   server, SERVER_COMM, "accepted")
    for sock in (c.listener_sock, c.client_sock, c.server_sock):
        mine = [r for r in recs if r["sock"] == sock]
        assert mine[0]["old_state_us"] is None, "time in a state entered before start is unknown: %s" % mine[0]
    check_old_state_us(recs)
    check_addresses(recs, c)
    assert tl.stop() == 0


# ---------------------------------------------------------------------------
# 7-8: hostile names, text mode

HOSTILE = [
    # (bytes given to prctl, what the kernel keeps, the JSON string expected)
    ("quotes", b'q"uo\\te\x07\x1b[2Jx', b'q"uo\\te\x07\x1b[2Jx', 'q"uo\\te\x07\x1b[2Jx'),
    ("newline", b"a\nb\tc\x7f\x01", b"a\nb\tc\x7f\x01", "a\nb\tc\x7f\x01"),
    ("invalid-utf8", b"\xffbad\xfe", b"\xffbad\xfe", "\ufffdbad\ufffd"),
    ("cut-utf8", b"abcdefghijklm\xe2\x82\xac", b"abcdefghijklm\xe2\x82", "abcdefghijklm\ufffd"),
    ("valid-utf8", "h\u00e9\u2192".encode(), "h\u00e9\u2192".encode(), "h\u00e9\u2192"),
]


def assert_clean_text_line(line):
    bad = [b for b in line if (b < 0x20 and b != 0x09) or b == 0x7F]
    assert not bad, "raw control bytes %r in a text-mode line: %r" % (bad, line)


@pytest.mark.parametrize("name, given, kept, expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_comm(name, given, kept, expected):
    server, client = Peer(comm=given), Peer(comm=given)
    with open("/proc/%d/comm" % server.pid, "rb") as f:
        assert f.read()[:-1] == kept
    listener = server.listen()
    port = listener["port"]
    tl = start_trace("--port", str(port))
    text = start_trace("--port", str(port), json_mode=False)
    c = open_connection(server, client, listener=(listener["fd"], port))
    wait_all(tl, close_connection(c, "client"))
    close_listener(tl, c)
    recs = tl.transitions()
    assert recs, "no transitions"
    for r in recs:
        assert r["comm"] == expected, "comm %r, expected %r: %s" % (r["comm"], expected, r)
    for r in recs:
        if (r["old_state"], r["new_state"]) in TASK_CONTEXT:
            assert r["ctx_comm"] == expected, r
    # Every line of the JSON stream parsed and validated (strictly: raw control
    # characters and invalid UTF-8 were rejected) as it arrived.
    assert tl.stop() == 0
    tl.assert_valid()
    raw = tl.stdout_lines()
    assert all(0x1B not in line for line in raw)
    # Text mode: the row is one line, with no raw ESC or other control byte.
    row = text.wait_stdout_line(lambda l: b"ESTABLISHED -> CLOSE_WAIT" in l
                                and str(server.pid).encode() in l.split(), what="CLOSE_WAIT row")
    assert text.stop() == 0
    for line in text.stdout_lines():
        assert_clean_text_line(line)
    assert_clean_text_line(row)


def test_text_mode_header_and_row():
    server, client = peers()
    listener = server.listen()
    port = listener["port"]
    text = start_trace("--port", str(port), json_mode=False)
    c = open_connection(server, client, listener=(listener["fd"], port))
    close_connection(c, "client")
    row = text.wait_stdout_line(lambda l: b"ESTABLISHED -> CLOSE_WAIT" in l and str(server.pid).encode() in l.split(),
                                what="row: server pid, ESTABLISHED -> CLOSE_WAIT")
    lines = text.stdout_lines()
    header = lines[0]
    assert b"PID" in header and b"->" not in header, "first line is not a header: %r" % header
    assert header == header.upper() or b"PID" in header.split(), header
    assert row != header
    assert SERVER_COMM.encode() in row, row
    assert str(port).encode() in row, row
    # Every row after the header shows a transition.
    for line in lines[1:]:
        assert b" -> " in line, "not a transition row: %r" % line
    assert text.stop() == 0


# ---------------------------------------------------------------------------
# 9-10: ending, summary


def test_duration_ends_by_itself_json():
    t0 = time.monotonic()
    tl = start_trace("--duration", "1s")
    rc = tl.wait_exit(timeout=15)
    elapsed = time.monotonic() - t0
    assert rc == 0, tl.report()
    assert elapsed >= 1.0, "ended after %.2fs, before its 1s duration" % elapsed
    recs = tl.records()
    assert recs[0]["type"] == "start" and recs[-1]["type"] == "summary", fmt_records(recs[:1] + recs[-1:])
    s = tl.summary()
    assert s["mode"] == "trace"
    assert 1000 <= s["duration_ms"] < 1000 + 1000 * (elapsed - 1.0) + 1000, s
    assert "Traceback" not in tl.stderr_text()


def test_duration_ends_by_itself_text():
    tl = start_trace("--duration", "1s", json_mode=False)
    rc = tl.wait_exit(timeout=15)
    assert rc == 0, tl.report()
    err = tl.stderr_lines()
    i = next(i for i, l in enumerate(err) if l.startswith(b"Tracing TCP state transitions"))
    after = b"\n".join(err[i + 1:])
    assert after.strip(), "no summary on stderr after the run:\n%s" % tl.report()
    assert re.search(rb"\d", after) and re.search(rb"(?i)transition|event", after), \
        "stderr summary does not say how many transitions/events:\n%r" % after


def test_sigterm_summary_counts_match_output():
    server, client = peers()
    listener = server.listen()
    port = listener["port"]
    tl = start_trace("--port", str(port))
    c1 = open_connection(server, client, listener=(listener["fd"], port))
    wait_all(tl, close_connection(c1, "client"))
    c2 = open_connection(server, client, listener=(listener["fd"], port))
    wait_all(tl, close_connection(c2, "server"))
    close_listener(tl, c2)
    assert tl.stop(signal.SIGTERM) == 0
    recs = tl.records()
    assert recs[-1]["type"] == "summary"
    s = tl.summary()
    printed = tl.transitions()
    counts = collections.Counter("%s->%s" % (r["old_state"], r["new_state"]) for r in printed)
    expected = collections.Counter()
    for seq in (CLIENT_CLOSES["client"], CLIENT_CLOSES["server"], SERVER_CLOSES["client"],
                SERVER_CLOSES["server"], [("LISTEN", "CLOSE", None)]):
        expected.update("%s->%s" % (o, n) for o, n, _ in seq)
    assert counts == expected, "printed %s\nexpected %s" % (dict(counts), dict(expected))
    assert {k: v for k, v in s["transitions"].items() if v} == dict(counts), s
    assert s["events"] == len(printed), s
    assert s["lost"] == 0 and not tl.records("lost"), s
    assert s["owner_unknown"] == sum(1 for r in printed if r["pid"] is None), s
    assert isinstance(s["kernel"], dict), s
    assert isinstance(s["bpf_map_bytes"], int) and s["bpf_map_bytes"] > 0, s


# ---------------------------------------------------------------------------
# 11: the whole output against the schema


def test_whole_output_validates_and_is_consistent():
    server, client = peers()
    wall0 = datetime.datetime.now(datetime.timezone.utc)
    tl = start_trace()
    conns = []
    for family, closer in ((4, "client"), (6, "server")):
        c = open_connection(server, client, family)
        wait_all(tl, close_connection(c, closer))
        close_listener(tl, c)
        conns.append(c)
    marker(tl, server)
    assert tl.stop() == 0
    wall1 = datetime.datetime.now(datetime.timezone.utc)
    # Every line is valid JSON matching the schema (checked as they came),
    # and the stream is start, events, summary.
    tl.assert_valid()
    lines = tl.stdout_lines()
    recs = tl.records()
    assert len(recs) == len(lines)
    for raw in lines:
        assert harness.parse_json_line(raw)[1] is None
    types = [r["type"] for r in recs]
    assert types[0] == "start" and types[-1] == "summary", types
    assert types.count("start") == 1 and types.count("summary") == 1
    assert set(types) <= {"start", "transition", "lost", "summary"}, set(types)
    start = recs[0]
    assert start["version"] == "0.2.0" and start["tool"] == "tcpleak", start
    slack = datetime.timedelta(seconds=1)
    for r in recs:
        t = harness.check_time(r["time"])
        assert wall0 - slack <= t <= wall1 + slack, "time %s outside the run [%s, %s]" % (r["time"], wall0, wall1)
    for c in conns:
        mine = tl.transitions(on_port(c.port))
        check_old_state_us(mine)
        # old_state_us is the time between a socket's consecutive transitions.
        for sock in (c.listener_sock, c.client_sock, c.server_sock):
            seq = [r for r in mine if r["sock"] == sock]
            assert len(seq) >= 2, seq
            for prev, cur in zip(seq, seq[1:]):
                gap = harness.check_time(cur["time"]) - harness.check_time(prev["time"])
                gap_us = gap // datetime.timedelta(microseconds=1)
                assert gap_us >= 0, (prev, cur)
                assert abs(cur["old_state_us"] - gap_us) <= 2, \
                    "old_state_us %d but %d us between the records:\n%s" % (
                        cur["old_state_us"], gap_us, fmt_records([prev, cur]))
    s = tl.summary()
    assert s["events"] == types.count("transition"), s


def test_old_state_us_measures_time_in_close_wait():
    """The time spent in CLOSE_WAIT lies between bounds measured around it."""
    server, client = peers()
    tl = start_trace()
    c = open_connection(server, client)
    t0 = time.monotonic()
    client.close(c.cfd)
    server.wait_eof(c.afd)
    t1 = time.monotonic()  # CLOSE_WAIT began before t1
    assert server.state(c.afd) == "CLOSE_WAIT"
    t2 = time.monotonic()  # ... and ends after t2
    server.close(c.afd)
    t3 = time.monotonic()
    r = tl.wait_transition(sock=c.server_sock, old="CLOSE_WAIT", new="LAST_ACK")
    lower, upper = int((t2 - t1) * 1e6), int((t3 - t0) * 1e6) + 1
    assert lower <= r["old_state_us"] <= upper, "old_state_us %d not in [%d, %d]" % (r["old_state_us"], lower, upper)
    assert tl.stop() == 0


# ---------------------------------------------------------------------------
# 12: a reader that goes away


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "text"])
def test_pipe_to_head_exits_quietly(json_mode):
    server, client = peers()
    listener = server.listen()
    env = dict(os.environ)
    command = '"$TCPLEAK_BIN" trace%s | head -1' % (" --json" if json_mode else "")
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        # head printed tcpleak's first line: the start record, or the table header.
        first = proc.stdout.readline()
        if json_mode:
            obj, problem = harness.parse_json_line(first.rstrip(b"\n"))
            assert problem is None and obj["type"] == "start", (first, problem, proc.stderr.read())
        else:
            assert b"PID" in first, (first, proc.stderr.read())
        # head exits after that line; tcpleak learns that the pipe is gone at its
        # next write: make traffic until the pipeline ends (bounded).
        deadline = time.monotonic() + 10
        connections = 0
        while proc.poll() is None and time.monotonic() < deadline and connections < 200:
            c = client.connect(listener["port"])
            a = server.accept(listener["fd"])
            client.close(c["fd"])
            server.close(a["fd"])
            connections += 1
        try:
            rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail("tcpleak still running 10 s after head exited (%d connections made)" % connections)
        err = proc.stderr.read().decode("utf-8", "replace")
        rest = proc.stdout.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole pipeline: tcpleak too
            proc.wait()
    for crash in ("Traceback", "terminate called", "Segmentation", "Aborted", "core dumped"):
        assert crash not in err, err
    assert rest == b"", rest
    assert rc == 0, "pipeline exit status %d (141 = tcpleak killed by SIGPIPE); stderr:\n%s" % (rc, err)


@pytest.mark.parametrize("arguments", ["trace --json --port 9", "trace --port 9", "leaks --json --threshold 1h"],
                         ids=["trace-json", "trace-text", "leaks-json"])
def test_pipe_to_head_exits_on_a_quiet_machine(arguments):
    """Nothing more to write after the first line: tcpleak must still notice
    that head has gone (the pipe reports it), not wait for the next event."""
    command = '"$TCPLEAK_BIN" %s | head -1' % arguments
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
                            start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert first.strip(), ("no first line", proc.stderr.read())
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("tcpleak %s still running 5 s after head exited with nothing to write" % arguments)
        err = proc.stderr.read().decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole pipeline: tcpleak too
            proc.wait()
    assert rc == 0, "pipeline exit status %d; stderr:\n%s" % (rc, err)
    for crash in ("error", "Traceback", "terminate called", "Segmentation", "Aborted"):
        assert crash not in err, err


TRACEFS_MOUNTED = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                   "mount -t tracefs tracefs /sys/kernel/tracing && exec \"$0\" \"$@\""]


@pytest.mark.parametrize("tracefs", ["mounted", "unmounted"])
def test_tracefs_is_found_with_the_capabilities_held_not_the_real_uid(tracefs):
    """Real uid nobody, effective uid root (a setuid-root or file-capability
    install): access() asks with the real uid and says tracefs (0700 root)
    is not there; opening it with the credentials held works. tcpleak must
    use the syscalls:* tracepoints, not fall back to the hooks that run for
    every syscall."""
    wrapper = (TRACEFS_MOUNTED if tracefs == "mounted" else harness.TRACEFS_UNMOUNTED) + ["setpriv", "--ruid",
                                                                                         "65534", "--"]
    tl = Tcpleak(["trace", "-v", "--duration", "200ms"], json_mode=False, wrapper=wrapper)
    assert tl.wait_exit(timeout=harness.START_TIMEOUT) == 0, tl.report()
    assert harness.CLASSIC_HOOKS_LINE in tl.stderr_lines(), tl.report()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_stop_signals_end_with_the_summary(sig):
    """SIGHUP (a closed terminal, a supervisor's reload-or-stop) ends trace
    like SIGTERM: the summary record, exit 0. It used to kill it silently."""
    tl = Tcpleak(["trace", "--json"])
    tl.wait_started()
    assert tl.stop(sig) == 0, tl.report()
    assert tl.summary()["mode"] == "trace"
