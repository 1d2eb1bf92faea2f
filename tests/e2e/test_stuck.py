# Over 500 lines: one test per stuck state, pairing and topology.
"""End-to-end tests of `tcpleak leaks --state STATE...` (and `run --state`):
sockets stuck in the closing states, made for real by stuck.py (separate
peer processes, namespaces and a veth pair of the test's own), reported
with their holder or as orphaned, their cause, the sysctls that govern
them, and the process at the other end when it is on this host.

    needs leaks --state (in progress): written to the JSON contract of
    schema v3 (issue 13, items 1-2) before the implementation landed; these
    tests fail until it does. test_stuck_scenarios.py checks the scenarios
    themselves (no tcpleak) and passes already.

The contract, as tested here - a leak record (schema v3) is the v2 one plus:
  state         the TCP state, upper case ("FIN_WAIT1")
  in_state_ms   time in that state when reported (time - entered_time)
  verdict       also "orphaned": no descriptor holds it; then pid/comm are
                the owner's when known (else null), fd null, holders []
  cause, why, hint, sysctls {name: int or null}, tcp {...} or null,
  peer {pid, comm, fd, state, sock, netns} or null (pid/comm/fd null when
                the peer is orphaned)
and leak_resolved gains state, to_state (or null), how "state_change".

Where the contract leaves a value open, the tests say so (OPEN) and check
only what it fixes. Every wait is on a readiness signal (a peer's reply, an
ss line, a tcpleak record); the only clocks are tcpleak's --threshold and
the kernel's own timers (tcp_fin_timeout, retransmissions).
"""

import json
import time

import pytest

import harness
import stuck
from harness import Peer, Tcpleak

THRESHOLD = "1s"
THRESHOLD_MS = 1000
SCHEMA_VERSION = 3
# Reported within the threshold plus a look at the socket table or two.
REPORT_TIMEOUT = 15.0

CAUSES = {"peer_not_reading", "peer_gone", "cannot_send", "send_queue_draining", "awaiting_fin_ack",
          "half_closed_never_closed", "orphan_fin_timeout", "never_closed", "closed_still_referenced",
          "close_wait_held", "closing", "unknown"}
TCP_FIELDS = {"tx_queue", "snd_wnd", "retransmits", "probes", "total_retrans", "timer", "timer_left_ms"}
# A FIN_WAIT2 full socket that gets the peer's FIN: the kernel's event is
# FIN_WAIT2 -> CLOSE, and a time-wait socket (same cookie) takes its place
# in TIME_WAIT. OPEN: to_state is the event's CLOSE or the table's TIME_WAIT.
FIN_WAIT2_GOT_FIN = ("CLOSE", "TIME_WAIT")


# ---------------------------------------------------------------------------
# Helpers


def start_leaks(*states, extra=()):
    """`tcpleak leaks --json --threshold 1s [--state S]... EXTRA...`, started
    (its start record read). Several states: --state repeated."""
    argv = ["leaks", "--json", "--threshold", THRESHOLD]
    for s in states:
        argv += ["--state", s]
    tl = Tcpleak(argv + list(extra))
    start = tl.wait_started()
    assert (start["tool"], start["mode"], start["schema_version"]) == ("tcpleak", "leaks", SCHEMA_VERSION), start
    assert start["threshold_ms"] == THRESHOLD_MS, start
    return tl


def fmt(records):
    return harness.fmt_records(records if isinstance(records, list) else [records])


def wait_leak(tl, end, timeout=REPORT_TIMEOUT):
    """The leak record of an End's socket."""
    return tl.wait_for(lambda r: r.get("type") == "leak" and r.get("sock") == end.sock, timeout,
                       "leak of sock %d (pid %d %s port %d)" % (end.sock, end.pid, end.comm, end.port))


def wait_resolved(tl, end, timeout=REPORT_TIMEOUT):
    return tl.wait_for(lambda r: r.get("type") == "leak_resolved" and r.get("sock") == end.sock, timeout,
                       "leak_resolved of sock %d" % end.sock)


def records_of(tl, end):
    return [r for r in tl.records() if r.get("sock") == end.sock]


def holders(*ends):
    return [{"pid": e.pid, "comm": e.comm, "fd": e.fd} for e in ends if e.fd is not None]


def peer_of(end, state):
    """The peer object naming `end` (pid/comm/fd null once no descriptor holds it)."""
    held = end.fd is not None
    return {"pid": end.pid if held else None, "comm": end.comm if held else None, "fd": end.fd,
            "state": state, "sock": end.sock, "netns": end.netns}


def sentence(text, what):
    # A hint may start with a call: "close() the descriptor after shutdown() ...".
    assert isinstance(text, str) and len(text) >= 20 and text.rstrip().endswith("."), \
        "%s is not an English sentence: %r" % (what, text)
    assert "{" not in text and "}" not in text, "%s has a placeholder left: %r" % (what, text)


def check_stuck(r, end, other, *, state, verdict, cause, pid, comm, fd, holders, owner_pid, owner_comm,
                sysctls, peer, since_start=False, seen_by=None, threshold_ms=THRESHOLD_MS):
    """Every field of a leak record of `end` (the socket in `state`; `other`
    the far end), exactly where the contract fixes it."""
    assert r["type"] == "leak", fmt(r)
    want = {
        "state": state, "sock": end.sock,
        "family": end.family_name, "saddr": end.addr, "sport": end.port, "daddr": other.addr, "dport": other.port,
        "netns": end.netns,
        "pid": pid, "comm": comm, "fd": fd, "verdict": verdict, "holders": holders,
        "owner_pid": owner_pid, "owner_comm": owner_comm,
        # closed_by: a descriptor released while another kept it alive:
        # none of these (an orphan's last close kept nothing alive).
        "closed_by": None, "closed_by_comm": None, "closed_by_fd": None, "closed_via": None,
        "since_start": since_start, "seen_by": seen_by or ("socket_table" if since_start else "transition"),
        "cause": cause, "sysctls": sysctls, "peer": peer,
    }
    missing = [k for k in want if k not in r]
    assert not missing, "leak record lacks %s:\n%s" % (missing, fmt(r))
    diff = {k: (r[k], want[k]) for k in want if r[k] != want[k]}
    assert not diff, "leak fields differ (got, expected): %r\n%s" % (diff, fmt(r))
    assert cause in CAUSES
    sentence(r["why"], "why")
    sentence(r["hint"], "hint")
    assert r["in_state_ms"] >= threshold_ms, "reported before the threshold:\n%s" % fmt(r)
    entered = harness.check_time(r["entered_time"], "entered_time")
    reported = harness.check_time(r["time"])
    assert entered <= reported, fmt(r)
    if not since_start:
        span_ms = (reported - entered).total_seconds() * 1000
        assert abs(span_ms - r["in_state_ms"]) <= 2, "in_state_ms %d but time - entered_time = %.1f ms:\n%s" % (
            r["in_state_ms"], span_ms, fmt(r))
    if state == "CLOSE_WAIT":
        assert r["close_wait_ms"] == r["in_state_ms"], fmt(r)
    if pid is not None:
        assert "peer.py" in r["cmdline"], "cmdline of pid %d: %r" % (pid, r["cmdline"])
    tcp = r["tcp"]
    if tcp is not None:
        assert TCP_FIELDS <= set(tcp), "tcp lacks %s:\n%s" % (TCP_FIELDS - set(tcp), fmt(r))
        for k in TCP_FIELDS - {"timer", "timer_left_ms"}:
            assert isinstance(tcp[k], int) and tcp[k] >= 0, "tcp.%s:\n%s" % (k, fmt(r))
        # OPEN: the timer's names ("retransmit", "probe", ... or ss's "on",
        # "persist") are the implementation's; a string or null.
        assert tcp["timer"] is None or (isinstance(tcp["timer"], str) and tcp["timer"]), fmt(r)
        assert tcp["timer_left_ms"] is None or (isinstance(tcp["timer_left_ms"], int) and tcp["timer_left_ms"] >= 0)
    return r


def check_resolved(res, leak, *, to_state, how, by=None):
    """A leak_resolved repeats its leak's socket and owner, and says where it
    went. to_state/how: the value, or a tuple of the values the contract
    leaves open; by: (by_pid, by_comm) when a process ended it."""
    assert res["type"] == "leak_resolved", fmt(res)
    same = ("pid", "comm", "fd", "family", "saddr", "sport", "daddr", "dport", "netns", "sock", "since_start",
            "verdict", "state")
    diff = {k: (res.get(k), leak[k]) for k in same if res.get(k) != leak[k]}
    assert not diff, "leak_resolved differs from its leak (resolved, leak): %r\n%s" % (diff, fmt([leak, res]))
    got = (res["to_state"], res["how"])
    states = to_state if isinstance(to_state, tuple) else (to_state,)
    hows = how if isinstance(how, tuple) else (how,)
    assert res["to_state"] in states and res["how"] in hows, "to_state/how %r, expected (%r, %r):\n%s" % (
        got, to_state, how, fmt([leak, res]))
    assert harness.check_time(res["time"]) >= harness.check_time(leak["time"]), fmt([leak, res])
    if by is not None:
        assert (res["by_pid"], res["by_comm"]) == by, "by_pid/by_comm %r, expected %r:\n%s" % (
            (res["by_pid"], res["by_comm"]), by, fmt([leak, res]))


def check_once(tl, end):
    return harness.check_reported_once(records_of(tl, end))


def check_not_reported(tl, end):
    mine = [r for r in records_of(tl, end) if r["type"] in ("leak", "leak_resolved")]
    assert not mine, "sock %d (pid %d %s) reported, but its state was not asked for:\n%s" % (
        end.sock, end.pid, end.comm, fmt(mine))


def marker(tl):
    """A fresh CLOSE_WAIT leak of the marker's own, waited for: any socket
    that was past the threshold before it was made has been looked at by
    the time it is reported. Used to show a record did NOT come."""
    server, client = Peer(comm="mark-server"), Peer(comm="mark-client")
    c = harness.open_connection(server, client)
    client.close(c.cfd)
    server.wait_eof(c.afd)
    tl.wait_for(lambda r: r.get("type") == "leak" and r.get("sock") == c.server_sock, REPORT_TIMEOUT,
                "the marker's CLOSE_WAIT leak")


def pick(sysctls, *names):
    return {n: sysctls[n] for n in names}


# ---------------------------------------------------------------------------
# FIN_WAIT1: the peer stopped reading


def test_fin_wait1_orphaned_peer_not_reading():
    """The sender close()d with its send buffer full and the reader's window
    at 0: orphaned in FIN_WAIT1, bytes and the FIN unsent, the window probed.
    In a namespace of its own with tcp_orphan_retries 7 (the host's is
    untouched): the sysctl read is the socket's namespace's."""
    tl = start_leaks("FIN_WAIT1")
    with stuck.fin_wait1_peer_not_reading(held=False, topology=stuck.netns_loopback("fw1", tcp_orphan_retries=7)) \
            as sc:
        sender, reader = sc.stuck, sc.other
        leak = wait_leak(tl, sender)
        sysctls = sc.sysctls()
        assert sysctls["tcp_orphan_retries"] == 7
        check_stuck(leak, sender, reader, state="FIN_WAIT1", verdict="orphaned", cause="peer_not_reading",
                    pid=sender.pid, comm=sender.comm, fd=None, holders=[], owner_pid=sender.pid,
                    owner_comm=sender.comm, sysctls=pick(sysctls, "tcp_orphan_retries", "tcp_max_orphans"),
                    peer=peer_of(reader, "ESTABLISHED"))
        tcp = leak["tcp"]
        assert tcp is not None, fmt(leak)
        # Nothing moves while the reader does not read: what ss showed is what tcpleak read.
        unsent = sc.written - sc.other_ss.recv_q
        assert (tcp["tx_queue"], tcp["snd_wnd"], tcp["retransmits"]) == (unsent + 1, 0, 0), \
            "tx_queue %d bytes + FIN expected, zero window, no retransmission:\n%s\n%s" % (unsent, fmt(leak),
                                                                                        sc.now().text)
        assert "%d bytes and the FIN" % unsent in leak["why"], leak["why"]
        assert leak["rx_queue"] == 0, fmt(leak)

        # The reader reads it all: the data and the FIN go, FIN_WAIT1 ends.
        reader.peer.wait_eof(reader.fd)
        res = wait_resolved(tl, sender)
        check_resolved(res, leak, to_state="FIN_WAIT2", how="state_change")
        check_once(tl, sender)
    assert tl.stop() == 3


def test_fin_wait1_held_peer_not_reading():
    """shutdown(SHUT_WR) with the send buffer full, descriptor kept: held in FIN_WAIT1."""
    tl = start_leaks("FIN_WAIT1")
    with stuck.fin_wait1_peer_not_reading(held=True) as sc:
        sender, reader = sc.stuck, sc.other
        leak = wait_leak(tl, sender)
        check_stuck(leak, sender, reader, state="FIN_WAIT1", verdict="never_closed", cause="peer_not_reading",
                    pid=sender.pid, comm=sender.comm, fd=sender.fd, holders=holders(sender),
                    owner_pid=sender.pid, owner_comm=sender.comm,
                    sysctls=pick(sc.sysctls(), "tcp_retries2"), peer=peer_of(reader, "ESTABLISHED"))
        tcp = leak["tcp"]
        unsent = sc.written - sc.other_ss.recv_q
        assert (tcp["tx_queue"], tcp["snd_wnd"], tcp["retransmits"]) == (unsent + 1, 0, 0), fmt(leak)
        assert "%d bytes and the FIN" % unsent in leak["why"], leak["why"]
        assert "pid %d fd %d" % (sender.pid, sender.fd) in leak["hint"], leak["hint"]

        reader.peer.wait_eof(reader.fd)
        res = wait_resolved(tl, sender)
        check_resolved(res, leak, to_state="FIN_WAIT2", how="state_change")
        # Held still: it is the descriptor's socket, now in FIN_WAIT2 (not asked for).
        assert sender.peer.state(sender.fd) == "FIN_WAIT2"
        check_once(tl, sender)
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# FIN_WAIT2: held (half-closed, never closed) and orphaned (tcp_fin_timeout)


def test_fin_wait2_held_names_the_server_in_close_wait():
    """shutdown(SHUT_WR), descriptor kept, the server never closes: the
    client is reported (half_closed_never_closed) and names the server's
    CLOSE_WAIT as its peer; the server's CLOSE_WAIT is not asked for."""
    tl = start_leaks("FIN_WAIT2")
    with stuck.fin_wait2_held() as sc:
        client, server = sc.stuck, sc.other
        leak = wait_leak(tl, client)
        check_stuck(leak, client, server, state="FIN_WAIT2", verdict="never_closed",
                    cause="half_closed_never_closed", pid=client.pid, comm=client.comm, fd=client.fd,
                    holders=holders(client), owner_pid=client.pid, owner_comm=client.comm, sysctls={},
                    peer=peer_of(server, "CLOSE_WAIT"))
        assert "pid %d fd %d" % (client.pid, client.fd) in leak["why"], leak["why"]
        if leak["tcp"] is not None:
            assert (leak["tcp"]["tx_queue"], leak["tcp"]["retransmits"]) == (0, 0), fmt(leak)

        # The server closes at last: its FIN moves the client on.
        server.peer.close(server.fd)
        res = wait_resolved(tl, client)
        check_resolved(res, leak, to_state=FIN_WAIT2_GOT_FIN, how="state_change")
        check_not_reported(tl, server)
        check_once(tl, client)
    assert tl.stop() == 3


def test_fin_wait2_orphaned_reaped_after_fin_timeout():
    """close()d, the server never closes: orphaned in FIN_WAIT2 (the
    kernel's time-wait socket, substate FIN_WAIT2) in a namespace whose
    tcp_fin_timeout is 5 s; reported with that value, resolved when the
    kernel drops it."""
    fin_timeout = 5
    tl = start_leaks("FIN_WAIT2")
    with stuck.fin_wait2_orphaned(fin_timeout=fin_timeout) as sc:
        client, server = sc.stuck, sc.other
        closed = time.monotonic() - sc.setup_s  # no later than the close
        leak = wait_leak(tl, client, timeout=fin_timeout)
        check_stuck(leak, client, server, state="FIN_WAIT2", verdict="orphaned", cause="orphan_fin_timeout",
                    pid=client.pid, comm=client.comm, fd=None, holders=[], owner_pid=client.pid,
                    owner_comm=client.comm, sysctls={"tcp_fin_timeout": fin_timeout},
                    peer=peer_of(server, "CLOSE_WAIT"))

        # The kernel drops it fin_timeout after the close: no state to go to.
        res = wait_resolved(tl, client, timeout=fin_timeout + REPORT_TIMEOUT)
        # OPEN: how a drop by the kernel's timer is told: "state_change"
        # (to nothing) or "unknown" (a look at the table found it gone).
        check_resolved(res, leak, to_state=None, how=("state_change", "unknown"))
        assert res["by_pid"] is None and res["by_comm"] is None, fmt(res)
        assert time.monotonic() - closed >= fin_timeout - 0.5, "resolved before tcp_fin_timeout:\n%s" % fmt(res)
        assert sc.now() is None, sc.now().text
        check_once(tl, client)
    assert tl.stop() == 3


def test_fin_wait2_held_older_than_tcpleak():
    """Half-closed before tcpleak started: found in the socket table at
    start-up (since_start); the owner is its first holder."""
    with stuck.fin_wait2_held() as sc:
        client, server = sc.stuck, sc.other
        tl = start_leaks("FIN_WAIT2")
        leak = wait_leak(tl, client)
        check_stuck(leak, client, server, state="FIN_WAIT2", verdict="held", cause="half_closed_never_closed",
                    pid=client.pid, comm=client.comm, fd=client.fd, holders=holders(client),
                    owner_pid=client.pid, owner_comm=client.comm, sysctls={}, peer=peer_of(server, "CLOSE_WAIT"),
                    since_start=True)
        server.peer.close(server.fd)  # the server's FIN
        check_resolved(wait_resolved(tl, client), leak, to_state=FIN_WAIT2_GOT_FIN, how="state_change")
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# LAST_ACK: the peer is gone


def test_last_ack_peer_gone_retransmissions_grow():
    """The server closed after the client's link went down: orphaned in
    LAST_ACK, its FIN retransmitted. A second tcpleak, started once ss shows
    more retransmissions than the first one reported, reports more (from the
    socket table: owner unknown). The peer is the client's orphaned
    FIN_WAIT2 in the other namespace. The link back: acknowledged, gone."""
    tl = start_leaks("LAST_ACK")
    with stuck.last_ack_peer_gone(orphan_retries=7) as sc:
        server, client = sc.stuck, sc.other
        sysctls = pick(sc.sysctls(), "tcp_orphan_retries", "tcp_max_orphans")
        assert sysctls["tcp_orphan_retries"] == 7
        peer = peer_of(client, "FIN_WAIT2")
        assert peer["netns"] != server.netns
        leak = wait_leak(tl, server)
        check_stuck(leak, server, client, state="LAST_ACK", verdict="orphaned", cause="peer_gone",
                    pid=server.pid, comm=server.comm, fd=None, holders=[], owner_pid=server.pid,
                    owner_comm=server.comm, sysctls=sysctls, peer=peer)
        tcp = leak["tcp"]
        assert tcp["tx_queue"] == 1 and tcp["snd_wnd"] > 0, "the FIN alone, the window open:\n%s" % fmt(leak)
        assert tcp["retransmits"] >= 1 and tcp["total_retrans"] >= tcp["retransmits"], fmt(leak)

        first = tcp["retransmits"]
        sc.wait(lambda s: s.timer_count > first, timeout=REPORT_TIMEOUT, what="more than %d retransmissions" % first)
        late = start_leaks("LAST_ACK")
        again = wait_leak(late, server)
        check_stuck(again, server, client, state="LAST_ACK", verdict="orphaned", cause="peer_gone",
                    pid=None, comm=None, fd=None, holders=[], owner_pid=None, owner_comm=None,
                    sysctls=sysctls, peer=peer, since_start=True)
        assert again["tcp"]["retransmits"] > first, "retransmissions did not grow: %d then %d\n%s" % (
            first, again["tcp"]["retransmits"], fmt([leak, again]))
        assert again["tcp"]["total_retrans"] > tcp["total_retrans"], fmt([leak, again])

        sc.topology.mend()
        for t, lk in ((tl, leak), (late, again)):
            check_resolved(wait_resolved(t, server, timeout=2 * REPORT_TIMEOUT), lk, to_state="CLOSE",
                           how="state_change")
        check_once(tl, server)
        check_once(late, server)
    assert late.stop() == 3
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# Both ends on one host: CLOSE_WAIT names its FIN_WAIT2 peer and back


PAIRINGS = [
    pytest.param(4, None, id="loopback-ipv4"),
    pytest.param(6, None, id="loopback-ipv6"),
    pytest.param(4, stuck.VethPair, id="two-namespaces"),
]


@pytest.mark.parametrize("how", ["shutdown", "close"], ids=["fin_wait2-held", "fin_wait2-orphaned"])
@pytest.mark.parametrize("family,topology", PAIRINGS)
def test_pairing_close_wait_and_fin_wait2(family, topology, how):
    tl = start_leaks("CLOSE_WAIT", "FIN_WAIT2")
    with stuck.half_closed(how, topology=topology, family=family) as sc:
        client, server = sc.stuck, sc.other
        if topology is not None:
            assert server.netns != client.netns
        held = how == "shutdown"

        cw = wait_leak(tl, server)
        check_stuck(cw, server, client, state="CLOSE_WAIT", verdict="never_closed", cause="never_closed",
                    pid=server.pid, comm=server.comm, fd=server.fd, holders=holders(server),
                    owner_pid=server.pid, owner_comm=server.comm, sysctls={}, peer=peer_of(client, "FIN_WAIT2"))
        assert cw["rx_queue"] == 0

        fw = wait_leak(tl, client)
        if held:
            check_stuck(fw, client, server, state="FIN_WAIT2", verdict="never_closed",
                        cause="half_closed_never_closed", pid=client.pid, comm=client.comm, fd=client.fd,
                        holders=holders(client), owner_pid=client.pid, owner_comm=client.comm, sysctls={},
                        peer=peer_of(server, "CLOSE_WAIT"))
        else:
            check_stuck(fw, client, server, state="FIN_WAIT2", verdict="orphaned", cause="orphan_fin_timeout",
                        pid=client.pid, comm=client.comm, fd=None, holders=[], owner_pid=client.pid,
                        owner_comm=client.comm,
                        sysctls={"tcp_fin_timeout": stuck.read_sysctl("tcp_fin_timeout", client.netns_name)},
                        peer=peer_of(server, "CLOSE_WAIT"))

        # The server closes: CLOSE_WAIT -> LAST_ACK by its close(), and the
        # client's FIN_WAIT2 -> TIME_WAIT by the FIN that follows.
        server.peer.close(server.fd)
        check_resolved(wait_resolved(tl, server), cw, to_state="LAST_ACK", how="close",
                       by=(server.pid, server.comm))
        if held:
            check_resolved(wait_resolved(tl, client), fw, to_state=FIN_WAIT2_GOT_FIN, how="state_change")
        else:
            # OPEN: the time-wait socket's substate changes with no event at
            # all (FIN_WAIT2 -> TIME_WAIT): only a look at the table sees it.
            check_resolved(wait_resolved(tl, client), fw, to_state=("TIME_WAIT", None),
                           how=("state_change", "unknown"))
        check_once(tl, server)
        check_once(tl, client)
    assert tl.stop() == 3


def test_default_state_is_close_wait():
    """No --state: CLOSE_WAIT only, with its state and peer; the half-closed
    client's FIN_WAIT2 is not reported."""
    tl = start_leaks()
    with stuck.fin_wait2_held() as sc:
        client, server = sc.stuck, sc.other
        cw = wait_leak(tl, server)
        check_stuck(cw, server, client, state="CLOSE_WAIT", verdict="never_closed", cause="never_closed",
                    pid=server.pid, comm=server.comm, fd=server.fd, holders=holders(server),
                    owner_pid=server.pid, owner_comm=server.comm, sysctls={}, peer=peer_of(client, "FIN_WAIT2"))
        # Past the threshold for the client too (it entered FIN_WAIT2 first): one more leak read after.
        marker(tl)
        check_not_reported(tl, client)
    assert tl.stop() == 3


def test_closing_selects_the_closing_states():
    """--state closing: FIN_WAIT1, FIN_WAIT2, LAST_ACK and CLOSING alike."""
    tl = start_leaks("closing")
    with stuck.fin_wait2_held() as fw2, stuck.fin_wait1_peer_not_reading(held=True) as fw1:
        r2 = wait_leak(tl, fw2.stuck)
        r1 = wait_leak(tl, fw1.stuck)
        assert (r2["state"], r2["cause"]) == ("FIN_WAIT2", "half_closed_never_closed"), fmt(r2)
        assert (r1["state"], r1["cause"]) == ("FIN_WAIT1", "peer_not_reading"), fmt(r1)
    assert tl.stop() == 3


# ---------------------------------------------------------------------------
# tcpleak run --state


def test_run_state_fin_wait2(tmp_path):
    """`tcpleak run --state FIN_WAIT2`: the traced program half-closes its
    connection and keeps the descriptor until it exits; the report has it
    in FIN_WAIT2, never closed, ended by the exit, the server as its peer."""
    report_path = tmp_path / "report.json"
    server = Peer(comm="run-server")
    prog = Peer(comm="run-halfcloser", prefix=[harness.tcpleak_bin(), "run", "--threshold", THRESHOLD,
                                               "--state", "FIN_WAIT2", "--json-report", str(report_path), "--"])
    # A clock outside the run: its leak of the same socket says the threshold has passed.
    clock = start_leaks("FIN_WAIT2", extra=["-p", str(prog.pid)])
    lst = server.listen()
    conn = prog.connect(lst["port"])
    acc = server.accept(lst["fd"])
    sock = prog.cookie(conn["fd"])
    server_sock = server.cookie(acc["fd"])
    prog.cmd("shutdown %d wr" % conn["fd"])
    server.wait_eof(acc["fd"])
    clock.wait_for(lambda r: r.get("type") == "leak" and r.get("sock") == sock, REPORT_TIMEOUT, "the clock's leak")
    # run's own report of it (its scans run on their own schedule), then the exit.
    want = ("tcpleak: leak: pid %d " % prog.pid).encode()
    assert prog.err.wait(lambda: [l for l in prog.err.lines if l.startswith(want) and b" in FIN_WAIT2 " in l],
                         REPORT_TIMEOUT), prog.report()
    assert prog.exit(0) == 3, prog.report()

    with open(report_path, "rb") as f:
        raw = f.read()
    report = json.loads(raw.decode("utf-8"))
    errors = harness.schema_errors(report, harness.run_schema_path(), whole="(report)")
    assert not errors, "the JSON report does not match its schema:\n  %s\n%s" % ("\n  ".join(errors[:10]),
                                                                                raw[:3000])
    assert report["leaks_found"] == 1 and len(report["leaks"]) == 1, report
    leak = report["leaks"][0]
    netns = stuck.netns_inode()
    want = {
        "state": "FIN_WAIT2", "pid": prog.pid, "comm": "run-halfcloser", "fd": conn["fd"], "sock": sock,
        "family": "ipv4", "saddr": "127.0.0.1", "sport": conn["sport"], "daddr": "127.0.0.1", "dport": lst["port"],
        "netns": netns, "verdict": "never_closed", "cause": "half_closed_never_closed", "sysctls": {},
        "holders": [{"pid": prog.pid, "comm": "run-halfcloser", "fd": conn["fd"]}],
        "peer": {"pid": server.pid, "comm": "run-server", "fd": acc["fd"], "state": "CLOSE_WAIT",
                 "sock": server_sock, "netns": netns},
    }
    diff = {k: (leak.get(k), v) for k, v in want.items() if leak.get(k) != v}
    assert not diff, "run's leak differs (got, expected): %r\n%s" % (diff, json.dumps(leak, indent=1))
    sentence(leak["why"], "why")
    sentence(leak["hint"], "hint")
    assert leak["in_state_ms"] >= THRESHOLD_MS, leak
    res = leak["resolved"]
    assert res is not None and (res["how"], res["by_pid"]) == ("exit", prog.pid), leak
    # OPEN: the exit orphans it; the kernel's event is FIN_WAIT2 -> CLOSE
    # while a time-wait socket (substate FIN_WAIT2) takes its place.
    assert res.get("to_state") in (None, "FIN_WAIT2", "CLOSE"), leak
    assert clock.stop() == 3
