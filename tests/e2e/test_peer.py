"""The socket peer on its own (no tcpleak): every command does what the tests
built on it assume, checked against the kernel's own view (/proc, ss)."""

import os
import re
import select
import signal
import subprocess

import pytest

import harness
from harness import Peer

pytestmark = pytest.mark.peer_only


def socket_inode(pid, fd):
    link = os.readlink("/proc/%d/fd/%d" % (pid, fd))
    m = re.fullmatch(r"socket:\[(\d+)\]", link)
    assert m, "fd %d of %d is not a socket: %s" % (fd, pid, link)
    return int(m.group(1))


def fds(pid):
    return {int(n) for n in os.listdir("/proc/%d/fd" % pid)}


def ss_line(port, sport):
    out = subprocess.run(["ss", "-Htanei", "sport = :%d and dport = :%d" % (sport, port)],
                         check=True, capture_output=True, text=True).stdout
    return out


def test_ready_line_and_ping():
    p = Peer()
    assert p.pid == p.proc.pid
    assert p.cmd("ping") == {"pid": p.pid}


def test_unknown_command_and_errors_are_err_replies():
    p = Peer()
    with pytest.raises(harness.PeerError, match="unknown-command"):
        p.cmd("frobnicate 1")
    with pytest.raises(harness.PeerError, match="errno=9"):  # EBADF
        p.cmd("close 999")
    with pytest.raises(harness.PeerError, match="usage"):
        p.cmd("listen 4")
    assert p.cmd("ping") == {"pid": p.pid}  # still answering, one reply per command


@pytest.mark.parametrize("family", [4, 6])
def test_listen_connect_accept_and_cookie(family):
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client, family)
    assert c.port > 0 and c.sport > 0 and c.port != c.sport
    assert server.state(c.lfd) == "LISTEN"
    assert server.state(c.afd) == "ESTABLISHED"
    assert client.state(c.cfd) == "ESTABLISHED"
    # The cookie is the kernel's: ss -e prints it as sk:HEX.
    line = ss_line(c.port, c.sport)
    m = re.search(r"\bsk:([0-9a-f]+)", line)
    assert m, line
    assert int(m.group(1), 16) == c.client_sock
    assert len({c.listener_sock, c.client_sock, c.server_sock}) == 3


def test_client_closes_first_server_sees_eof_in_close_wait():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    assert client.cmd("send %d 1000" % c.cfd) == {"n": 1000}
    client.close(c.cfd)
    r = server.wait_eof(c.afd)
    assert r == {"eof": True, "n": 1000}
    assert server.state(c.afd) == "CLOSE_WAIT"
    assert server.cmd("recv %d" % c.afd) == {"n": 0, "eof": True}
    server.close(c.afd)
    harness.wait_port_quiet(c.sport)


def test_recv_without_data_does_not_block():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    assert server.cmd("recv %d" % c.afd) == {"n": 0}
    client.cmd("send %d 10" % c.cfd)
    # The data is on loopback already when send returns.
    assert server.cmd("recv %d" % c.afd) == {"n": 10}


def test_wait_eof_times_out_with_err():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    with pytest.raises(harness.PeerError, match="timeout"):
        server.cmd("wait-eof %d 0.2" % c.afd)


def test_shutdown_is_half_close():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    client.cmd("shutdown %d" % c.cfd)
    server.wait_eof(c.afd)
    assert server.state(c.afd) == "CLOSE_WAIT"
    # FIN_WAIT1 until the (possibly delayed) ACK of the FIN arrives.
    assert client.state(c.cfd) in ("FIN_WAIT1", "FIN_WAIT2")
    server.cmd("send %d 5" % c.afd)  # the other direction still works
    assert client.cmd("recv %d" % c.cfd) == {"n": 5}


def test_dup_dup2_and_close_range():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    ino = socket_inode(server.pid, c.afd)
    d = server.cmd("dup %d" % c.afd)["fd"]
    assert d != c.afd and socket_inode(server.pid, d) == ino
    assert server.cmd("dup2 %d 40" % c.afd) == {"fd": 40}
    assert socket_inode(server.pid, 40) == ino
    # dup2 over a descriptor closes what it held.
    assert server.cmd("dup2 %d 40" % c.lfd) == {"fd": 40}
    assert socket_inode(server.pid, 40) == socket_inode(server.pid, c.lfd)
    server.cmd("dup2 %d 41" % c.afd)
    server.cmd("dup2 %d 43" % c.afd)
    server.cmd("close-range 40 42")
    left = fds(server.pid)
    assert not {40, 41, 42} & left and 43 in left


def test_passing_a_descriptor_over_a_unix_socket():
    server, client, receiver = Peer(), Peer(), Peer()
    c = harness.open_connection(server, client)
    name = "tcpleak-peer-test-%d" % server.pid
    listener = receiver.cmd("unix-listen " + name)["fd"]
    sending = server.cmd("unix-connect " + name)["fd"]
    receiving = receiver.cmd("unix-accept %d" % listener)["fd"]
    assert server.cmd("send-fd %d %d" % (sending, c.afd)) == {}
    passed = receiver.cmd("recv-fd %d" % receiving)["fd"]
    assert socket_inode(receiver.pid, passed) == socket_inode(server.pid, c.afd)


def test_fork_child_keeps_fds_and_exits_on_command():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    child = server.cmd("fork")["pid"]
    assert child in server.children
    with open("/proc/%d/stat" % child) as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid == server.pid
    assert socket_inode(child, c.afd) == socket_inode(server.pid, c.afd)
    assert server.cmd("ping") == {"pid": server.pid}  # the parent still answers
    # The parent closes its copy; the child's keeps the connection open.
    server.close(c.afd)
    assert client.cmd("recv %d" % c.cfd) == {"n": 0}  # no FIN: the child still holds it
    r = server.cmd("exit-child %d 7" % child)
    assert r == {"pid": child, "status": 7 << 8}
    client.wait_eof(c.cfd)  # the child's exit closed the last descriptor
    child2 = server.cmd("fork")["pid"]
    r = server.cmd("kill-child %d" % child2)
    assert r == {"pid": child2, "status": signal.SIGKILL}
    assert not server.children


def test_cleanup_kills_forked_children_even_when_parent_exited():
    p = Peer()
    child = p.cmd("fork")["pid"]
    pidfd = os.pidfd_open(child)
    try:
        assert p.exit(0) == 0
        # Orphaned but alive, holding its descriptors: not readable yet.
        assert select.select([pidfd], [], [], 0)[0] == []
        assert harness.cleanup_all() == []
        # A pidfd becomes readable when the process has exited.
        assert select.select([pidfd], [], [], harness.DEFAULT_TIMEOUT)[0] == [pidfd], \
            "child %d still alive after cleanup" % child
    finally:
        os.close(pidfd)


@pytest.mark.parametrize("name, expect", [
    (b"e2e-server", b"e2e-server"),
    (b'q"uo\\te\x07\x1b[2Jx', b'q"uo\\te\x07\x1b[2Jx'),
    (b"abcdefghijklm\xe2\x82\xac", b"abcdefghijklm\xe2\x82"),  # cut at 15 bytes
    (b"\xffbad\xfe", b"\xffbad\xfe"),
])
def test_comm(name, expect):
    p = Peer()
    p.set_comm(name)
    with open("/proc/%d/comm" % p.pid, "rb") as f:
        assert f.read() == expect + b"\n"
    assert p.cmd("getcomm") == {"hex": expect.hex()}
    q = Peer(comm=name)
    with open("/proc/%d/comm" % q.pid, "rb") as f:
        assert f.read() == expect + b"\n"


def test_exit_closes_nothing_itself():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    assert client.exit(5) == 5
    server.wait_eof(c.afd)  # the kernel closed the client's sockets at exit
    assert server.state(c.afd) == "CLOSE_WAIT"


def test_linger_zero_resets():
    server, client = Peer(), Peer()
    c = harness.open_connection(server, client)
    client.cmd("linger %d 0" % c.cfd)
    client.close(c.cfd)
    with pytest.raises(harness.PeerError, match="errno=104"):  # ECONNRESET
        server.wait_eof(c.afd)


def test_netns_peer():
    name = "tcpleak-e2e-peer-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        p = Peer(netns=name)
        assert os.readlink("/proc/%d/ns/net" % p.pid) != os.readlink("/proc/self/ns/net")
        q = Peer(netns=name)
        c = harness.open_connection(p, q)
        assert q.state(c.cfd) == "ESTABLISHED"
        assert harness.cleanup_all() == []
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_buffer_options_and_fill():
    server, client = Peer(), Peer()
    lst = server.cmd("listen 4 127.0.0.1 0 128 sndbuf=4096")
    conn = client.cmd("connect 4 127.0.0.1 %d rcvbuf=4096" % lst["port"])
    a = server.accept(lst["fd"])
    # The kernel doubles what is asked; accepted sockets inherit the listener's.
    assert server.cmd("bufs %d" % a["fd"])["sndbuf"] == 8192
    assert client.cmd("bufs %d" % conn["fd"])["rcvbuf"] == 8192
    n = server.cmd("fill %d" % a["fd"])["n"]
    assert 0 < n < 1 << 20, n
    assert server.state(a["fd"]) == "ESTABLISHED"  # blocking again, nothing closed
    with pytest.raises(harness.PeerError, match="unknown option"):
        client.cmd("connect 4 127.0.0.1 %d nodelay=1" % lst["port"])
    with pytest.raises(harness.PeerError, match="usage"):
        client.cmd("connect 4 127.0.0.1 %d 7" % lst["port"])
