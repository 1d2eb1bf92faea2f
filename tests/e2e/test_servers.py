"""End-to-end tests against servers whose workers share one listening socket:
a prefork server (tests/e2e/leaker.py prefork: workers forked after
listen(), each accepting from the inherited listener) and the real nginx
from Debian (a master and worker processes). A connection on such a
listener has no single owner until a worker accept()s it, so:

  - trace gives its handshake no owner (pid null), never the master's;
  - trace -p WORKER prints not one line of another process, and the
    selected worker's connections from their accept() on.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import harness
from harness import Tcpleak


def fmt(records):
    return harness.fmt_records(records)


def start_trace(*args):
    tl = Tcpleak(["trace", "--json"] + list(args))
    tl.wait_started()
    return tl


def connect_and_close(port, count):
    """count connections that the client closes first; returns their ports."""
    ports = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        ports.append(s.getsockname()[1])
        s.close()
    return ports


def test_prefork_listener_handshakes_have_no_owner():
    server = harness.Leaker("prefork", 3)
    tl = start_trace("--port", str(server.port))
    ports = connect_and_close(server.port, 12)
    accepted = {int(m.group(2)): int(m.group(1))
                for m in server.wait_lines(rb"accepted pid=(\d+) sport=(\d+)", len(ports))}
    for port in ports:
        tl.wait_transition(old="LAST_ACK", new="CLOSE", sport=server.port, dport=port)
    for port in ports:
        mine = [r for r in tl.transitions() if r["sport"] == server.port and r["dport"] == port]
        handshake = [r for r in mine if r["old_state"] in ("LISTEN", "SYN_RECV")]
        assert handshake and all(r["pid"] is None for r in handshake), fmt(mine)
        # Until a worker accepts it (the client's FIN may come first) it is
        # nobody's; from then on the worker's that accepted it.
        owned = [r for r in mine if r["pid"] is not None]
        assert owned and all(r["pid"] == accepted[port] and r["owner_via"] == "accept" for r in owned), fmt(mine)
        assert mine[-1]["pid"] == accepted[port], fmt(mine)
    assert all(r["pid"] != server.pid for r in tl.transitions() if r["dport"] in ports), fmt(tl.transitions())
    assert tl.stop() == 0


def test_prefork_trace_of_one_worker_prints_nothing_of_the_others():
    server = harness.Leaker("prefork", 3)
    worker = server.workers[0]
    tl = start_trace("-p", str(worker))
    ports = []
    for _ in range(40):  # until the chosen worker has accepted a few
        ports += connect_and_close(server.port, 1)
        accepted = server.wait_lines(rb"accepted pid=(\d+) sport=(\d+)", len(ports))
        if sum(1 for m in accepted if int(m.group(1)) == worker) >= 3:
            break
    by_port = {int(m.group(2)): int(m.group(1)) for m in accepted}
    for port in ports:
        if by_port[port] == worker:
            tl.wait_transition(old="LAST_ACK", new="CLOSE", dport=port)
    # Stopping drains the ring buffer: whatever was sent is in the output now.
    assert tl.stop() == 0
    others = [r for r in tl.transitions() if r["pid"] != worker]
    assert not others, "lines of other processes under -p %d:\n%s" % (worker, fmt(others))
    mine = {r["dport"] for r in tl.transitions() if r["sport"] == server.port}
    assert mine == {p for p in ports if by_port[p] == worker}, (mine, by_port)
    s = tl.summary()
    assert s["unowned_hidden"] > 0, s  # the handshakes, all of them nobody's yet


# ---------------------------------------------------------------------------
# nginx from Debian: a master, 4 workers, one inherited listener

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def nginx():
    """nginx on a free loopback port with 4 workers, logging which worker
    served each request ($pid), stopped at the end."""
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not installed: scripts/setup installs it for the tests", pytrace=False)
    prefix = tempfile.mkdtemp(prefix="tcpleak-nginx-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""
worker_processes 4;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log;
events { worker_connections 256; }
http {
    log_format workers '$pid $remote_port';
    access_log %(prefix)s/access.log workers;
    client_body_temp_path %(prefix)s; proxy_temp_path %(prefix)s; fastcgi_temp_path %(prefix)s;
    uwsgi_temp_path %(prefix)s; scgi_temp_path %(prefix)s;
    server { listen 127.0.0.1:%(port)d; keepalive_timeout 0; location / { return 200 "ok\\n"; } }
}
""" % {"prefix": prefix, "port": port})
    proc = subprocess.Popen([NGINX, "-p", prefix, "-c", conf, "-g", "daemon off; user root;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers = []
    deadline = time.monotonic() + harness.DEFAULT_TIMEOUT
    while len(workers) < 4:
        assert proc.poll() is None, "nginx exited: %s" % proc.stderr.read().decode()
        assert time.monotonic() < deadline, "nginx did not start 4 workers"
        try:
            with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                workers = [int(p) for p in f.read().split()]
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    # Ready once it answers.
    while True:
        try:
            request(port)
            break
        except OSError:
            assert time.monotonic() < deadline, "nginx does not answer"
            time.sleep(0.02)
    yield {"port": port, "master": proc.pid, "workers": workers, "prefix": prefix}
    proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    shutil.rmtree(prefix, ignore_errors=True)


def request(port):
    """One HTTP/1.0 GET; returns the client's port."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        client_port = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        while s.recv(4096):
            pass
    return client_port


def test_nginx_worker_trace_prints_nothing_of_the_master_or_other_workers(nginx):
    """One tcpleak trace -p per worker, side by side: each prints exactly the
    connections its worker served (from their accept() on), and not one line
    of the master or of another worker."""
    tracers = {worker: start_trace("-p", str(worker)) for worker in nginx["workers"]}
    ports = [request(nginx["port"]) for _ in range(40)]
    served_by = {}
    with open(os.path.join(nginx["prefix"], "access.log")) as f:  # written before each response ends
        for line in f:
            pid, port = map(int, line.split())
            served_by[port] = pid
    assert set(ports) <= set(served_by), (ports, served_by)
    for worker, tl in tracers.items():
        mine = [p for p in ports if served_by[p] == worker]
        for port in mine:  # nginx closes first: its side ends FIN_WAIT2 -> CLOSE
            tl.wait_transition(sport=nginx["port"], dport=port, new="CLOSE")
        assert tl.stop() == 0  # drains the ring buffer: everything sent is in the output
        others = [r for r in tl.transitions() if r["pid"] != worker]
        assert not others, "lines of other processes under -p %d (master %d):\n%s" % (
            worker, nginx["master"], fmt(others))
        shown = {r["dport"] for r in tl.transitions() if r["sport"] == nginx["port"] and r["dport"] in ports}
        assert shown == set(mine), (worker, sorted(shown), mine)
        assert all(r["owner_via"] == "accept" for r in tl.transitions() if r["sport"] == nginx["port"])


def test_nginx_handshakes_are_nobodys_not_the_masters(nginx):
    tl = start_trace("--port", str(nginx["port"]))
    ports = [request(nginx["port"]) for _ in range(10)]
    for port in ports:
        tl.wait_transition(sport=nginx["port"], dport=port, new="CLOSE")
    received = [r for r in tl.transitions() if r["sport"] == nginx["port"] and r["dport"] in ports]
    handshake = [r for r in received if r["old_state"] in ("LISTEN", "SYN_RECV")]
    assert handshake and all(r["pid"] is None for r in handshake), fmt(handshake)
    assert all(r["pid"] in nginx["workers"] for r in received if r not in handshake), fmt(received)
    assert not [r for r in received if r["pid"] == nginx["master"]], fmt(received)
    assert tl.stop() == 0
