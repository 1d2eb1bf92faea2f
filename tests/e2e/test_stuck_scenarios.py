"""The stuck-state scenarios of stuck.py on their own (no tcpleak): each
makes the state it promises, as the kernel shows it (ss -tanoei, in the
right namespace), with the numbers test_stuck.py's assertions rely on, and
leaves nothing behind."""

import os
import subprocess
import time

import pytest

import harness
import stuck

pytestmark = pytest.mark.peer_only


def socket_inode(pid, fd):
    link = os.readlink("/proc/%d/fd/%d" % (pid, fd))
    assert link.startswith("socket:["), link
    return int(link[len("socket:["):-1])


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def check_ends(sc):
    """Both ends' cookies, inodes (0: orphaned), namespaces as the kernel has them."""
    assert sc.ss.cookie == sc.stuck.sock, "ss sk:%x, SO_COOKIE %x\n%s" % (sc.ss.cookie, sc.stuck.sock, sc.ss.text)
    assert sc.other_ss.cookie == sc.other.sock, sc.other_ss.text
    for end, s in ((sc.stuck, sc.ss), (sc.other, sc.other_ss)):
        if end.fd is None:
            assert s.ino == 0, "no descriptor, yet a file: %s" % s.text
        else:
            assert s.ino == socket_inode(end.pid, end.fd), s.text
        assert end.netns == stuck.netns_inode(end.pid)
        if end.netns_name is None:
            assert end.netns == stuck.netns_inode()
        else:
            assert end.netns == os.stat("/run/netns/%s" % end.netns_name).st_ino
        with open("/proc/%d/comm" % end.pid) as f:
            assert f.read().strip() == end.comm


def test_ss_durations():
    assert stuck.ss_duration_ms("192ms") == 192
    assert stuck.ss_duration_ms("1.604ms") == 1604
    assert stuck.ss_duration_ms("59sec") == 59000
    assert stuck.ss_duration_ms("1min") == 60000
    assert stuck.ss_duration_ms("1min30sec") == 90000


@pytest.mark.parametrize("held", [False, True], ids=["orphaned", "held"])
def test_fin_wait1_peer_not_reading(held):
    with stuck.fin_wait1_peer_not_reading(held=held) as sc:
        check_ends(sc)
        assert sc.held == held and (sc.stuck.fd is not None) == held
        s = sc.ss
        assert (s.state, s.timer, s.snd_wnd, s.orphaned) == ("FIN_WAIT1", "persist", 0, not held), s.text
        # What was written and not read is unsent, the FIN behind it.
        assert sc.other_ss.state == "ESTABLISHED" and sc.other_ss.recv_q > 0, sc.other_ss.text
        assert s.send_q == sc.written - sc.other_ss.recv_q + 1, (sc.written, s.text, sc.other_ss.text)
        assert s.num("notsent") == s.send_q, s.text
        # It stays: the kernel keeps probing (backing off), nothing moves.
        later = sc.wait(lambda x: x.num("backoff") >= 2, timeout=5, what="two probes")
        assert (later.state, later.timer, later.snd_wnd, later.send_q) == ("FIN_WAIT1", "persist", 0, s.send_q), \
            later.text
        assert sc.now(sc.other).recv_q == sc.other_ss.recv_q
        port = sc.stuck.port
    # Gone at the end: reset (ss -K), the processes killed.
    assert [x for x in harness.sockets_on_port(port)] == []
    assert all(p.proc.poll() is not None for p in (sc.stuck.peer, sc.other.peer))


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("how", ["shutdown", "close"])
def test_half_closed(how, family):
    with stuck.half_closed(how, family=family) as sc:
        check_ends(sc)
        lo = harness.loopback(family)
        assert sc.stuck.addr == sc.other.addr == lo
        assert (sc.ss.state, sc.other_ss.state) == ("FIN_WAIT2", "CLOSE_WAIT"), (sc.ss.text, sc.other_ss.text)
        assert sc.other.fd is not None and sc.other_ss.ino != 0
        if how == "shutdown":
            # Held: no timer ends it.
            assert sc.held and sc.ss.timer is None, sc.ss.text
        else:
            # Orphaned: the time-wait socket with substate FIN_WAIT2, tcp_fin_timeout (60 s here).
            assert not sc.held and sc.ss.timer == "timewait", sc.ss.text
            assert 55000 <= sc.ss.timer_ms <= stuck.read_sysctl("tcp_fin_timeout") * 1000, sc.ss.text
        assert sc.ss.send_q == sc.ss.recv_q == sc.other_ss.recv_q == 0


def test_fin_wait2_orphaned_is_reaped_after_fin_timeout():
    own = stuck.read_sysctl("tcp_fin_timeout")
    with stuck.fin_wait2_orphaned(fin_timeout=3) as sc:
        check_ends(sc)
        name = sc.stuck.netns_name
        assert name is not None and sc.stuck.netns != stuck.netns_inode()
        assert sc.sysctls()["tcp_fin_timeout"] == 3
        assert stuck.read_sysctl("tcp_fin_timeout") == own  # per namespace: the test's own is untouched
        assert (sc.ss.state, sc.ss.timer, sc.ss.orphaned) == ("FIN_WAIT2", "timewait", True), sc.ss.text
        assert sc.ss.timer_ms <= 3000, sc.ss.text
        t0 = time.monotonic()
        sc.wait_gone(timeout=3 + harness.DEFAULT_TIMEOUT)
        reaped_after = time.monotonic() - t0
        # Dropped, not moved to TIME_WAIT; the server's side stays in CLOSE_WAIT.
        assert sc.now() is None
        assert sc.now(sc.other).state == "CLOSE_WAIT"
        assert reaped_after <= 3 + 2, reaped_after  # the 3 s from the close, and the polls
    assert name not in netns_names()


def test_last_ack_retransmissions_grow():
    with stuck.last_ack_peer_gone(orphan_retries=6) as sc:
        check_ends(sc)
        assert sc.stuck.netns != sc.other.netns
        assert (sc.stuck.addr, sc.other.addr) == (stuck.VethPair.SERVER_ADDR, stuck.VethPair.CLIENT_ADDR)
        s = sc.ss
        assert (s.state, s.orphaned, s.timer, s.send_q) == ("LAST_ACK", True, "on", 1), s.text  # the FIN
        assert s.timer_count >= 1 and s.snd_wnd > 0, s.text
        later = sc.wait(lambda x: x.timer_count >= 3, timeout=5, what="three retransmissions")
        assert later.state == "LAST_ACK", later.text
        assert sc.sysctls()["tcp_orphan_retries"] == 6
        assert stuck.sysctls_of(sc.other.netns_name)["tcp_orphan_retries"] == 0
        # The client's side: its orphaned FIN_WAIT2, in its own namespace.
        assert (sc.other_ss.state, sc.other_ss.orphaned) == ("FIN_WAIT2", True), sc.other_ss.text
        # The link back: the next retransmission is acknowledged.
        sc.topology.mend()
        sc.wait_gone(timeout=harness.DEFAULT_TIMEOUT)
        names = {ns.name for ns in sc.netns}
    assert not names & netns_names()


@pytest.mark.parametrize("how", ["shutdown", "close"])
def test_half_closed_across_namespaces(how):
    with stuck.half_closed(how, topology=stuck.VethPair) as sc:
        check_ends(sc)
        assert sc.stuck.netns != sc.other.netns
        assert {sc.stuck.netns, sc.other.netns} == {ns.inode for ns in sc.netns}
        assert (sc.stuck.endpoint, sc.other.endpoint) == (
            (stuck.VethPair.CLIENT_ADDR, sc.stuck.port), (stuck.VethPair.SERVER_ADDR, sc.other.port))
        assert (sc.ss.state, sc.other_ss.state) == ("FIN_WAIT2", "CLOSE_WAIT")
        assert sc.ss.orphaned == (how == "close")
        # Neither is in the test's own namespace.
        assert stuck.ss_tuple(sc.other.endpoint, sc.stuck.endpoint) == []


def test_cleanup_after_a_failure():
    """A test that fails inside the scenario still gets it undone."""
    with pytest.raises(ZeroDivisionError):
        with stuck.last_ack_peer_gone() as sc:
            names = {ns.name for ns in sc.netns}
            peers = (sc.stuck.peer, sc.other.peer)
            1 / 0
    assert not names & netns_names()
    assert all(p.proc.poll() is not None for p in peers)
