#!/usr/bin/python3
"""Hostile HTTP clients for the agent's metrics endpoint (Python 3 stdlib only).

For the end-to-end test of `tcpleak agent`: hostile_checks(host, port) throws
AssertionError, with what went wrong, unless the server

- answers a normal GET with 200, a Content-Type and a matching Content-Length;
- answers HEAD with the same headers and no body;
- answers an unknown path with 404 and methods other than GET/HEAD with 405
  and an Allow header;
- answers malformed requests and binary junk with 400;
- answers an oversized header section with 431 and an overlong request line
  with 414;
- closes a slow sender, which trickles a request that never ends, once the
  request timeout has passed;
- survives 1000 connections at once, requesting or idle: each gets 200, 503
  or a closed connection, none hangs;
- and after all of that still answers a normal GET with 200.

Run against a server: /usr/bin/python3 tests/e2e/hostile_http.py 127.0.0.1:9464
"""

import argparse
import resource
import selectors
import socket
import sys
import time

# Generous: a loaded CI machine must not turn a correct server into a failure.
IO_TIMEOUT_S = 10.0
# How long past its request timeout the server may take to close a slow sender.
SLOW_SENDER_GRACE_S = 3.0
# The server's default head limit is 8 KiB; these are well past it but under
# what it drains after answering, so the answer is not lost to a reset.
OVERSIZED_BYTES = 20 * 1024


class Reply:
    """What a client received before the server closed the connection."""

    def __init__(self, data, reset):
        self.data = data
        self.reset = reset  # the connection ended with a reset, not a FIN
        head, _, self.body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status_line = lines[0].decode("latin-1") if data else ""
        parts = self.status_line.split(" ", 2)
        self.status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def describe(self):
        if not self.data:
            return "connection closed without a response" + (" (reset)" if self.reset else "")
        return "%r%s" % (self.data[:200], " (reset)" if self.reset else "")


def _connect(host, port):
    return socket.create_connection((host, port), timeout=IO_TIMEOUT_S)


def _read_until_closed(sock):
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return Reply(b"".join(chunks), False)
            chunks.append(chunk)
    except ConnectionResetError:
        return Reply(b"".join(chunks), True)
    except socket.timeout:
        raise AssertionError("server kept the connection open %.0f s after the request" % IO_TIMEOUT_S)


def _send_request(sock, data):
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may answer and close before reading everything


def request(host, port, data):
    """Sends raw bytes on a new connection; returns the Reply."""
    with _connect(host, port) as sock:
        _send_request(sock, data)
        return _read_until_closed(sock)


def _get(host, port, path, method="GET", version="HTTP/1.1", extra=b""):
    authority = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
    return request(host, port, b"%s %s %s\r\nHost: %s\r\nUser-Agent: hostile_http\r\n%s\r\n" % (
        method.encode(), path.encode(), version.encode(), authority.encode(), extra))


def _expect_status(reply, status, what):
    assert reply.status == status, "%s: expected %d, got %s" % (what, status, reply.describe())


def check_normal_get(host, port, path="/metrics"):
    reply = _get(host, port, path)
    _expect_status(reply, 200, "GET " + path)
    assert reply.headers.get("content-type", "").startswith("text/plain"), \
        "GET %s: Content-Type %r" % (path, reply.headers.get("content-type"))
    if path == "/metrics":
        assert "version=0.0.4" in reply.headers["content-type"], \
            "GET /metrics: Content-Type %r lacks version=0.0.4" % reply.headers["content-type"]
    assert reply.headers.get("content-length") == str(len(reply.body)), \
        "GET %s: Content-Length %r, body of %d bytes" % (path, reply.headers.get("content-length"), len(reply.body))
    assert reply.body, "GET %s: empty body" % path


def check_head(host, port, path="/metrics"):
    reply = _get(host, port, path, method="HEAD")
    _expect_status(reply, 200, "HEAD " + path)
    assert reply.body == b"", "HEAD %s: a body of %d bytes" % (path, len(reply.body))
    assert int(reply.headers.get("content-length", "0")) > 0, "HEAD %s: no Content-Length" % path


def check_unknown_path(host, port, path="/metrics"):
    for unknown in ("/tcpleak-no-such-path", path + "/", path + "x"):
        _expect_status(_get(host, port, unknown), 404, "GET " + unknown)


def check_non_get(host, port, path="/metrics"):
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW", "get"):
        reply = _get(host, port, path, method=method, extra=b"Content-Length: 0\r\n")
        _expect_status(reply, 405, method + " " + path)
        assert "GET" in reply.headers.get("allow", ""), "%s %s: Allow %r" % (method, path, reply.headers.get("allow"))


MALFORMED = [
    b"GET /metrics\r\n\r\n",                                    # no version (HTTP/0.9)
    b"GET  /metrics HTTP/1.1\r\nHost: a\r\n\r\n",               # two spaces
    b"GET /metrics HTTP/1.1 extra\r\nHost: a\r\n\r\n",
    b"GET /metrics http/1.1\r\nHost: a\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n",               # space before the colon
    b"GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",     # obsolete line folding
    b"GET /metrics HTTP/1.1\r\n\r\n",                           # HTTP/1.1 without Host
    b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /metrics HTTP/1.1\rHost: a\r\n\r\n",                   # bare CR
    b"GET /met\x00rics HTTP/1.1\r\nHost: a\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS ClientHello, roughly
    bytes((i * 7919 + 13) & 0xFF for i in range(4096)),         # binary junk
]


def check_malformed(host, port, path="/metrics"):
    for data in MALFORMED:
        data = data.replace(b"/metrics", path.encode())
        _expect_status(request(host, port, data), 400, "malformed request %r" % data[:60])


def check_oversized_request(host, port, path="/metrics"):
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(OVERSIZED_BYTES // 1000))
    reply = request(host, port, b"GET %s HTTP/1.1\r\nHost: a\r\n%s\r\n" % (path.encode(), headers))
    _expect_status(reply, 431, "%d bytes of headers" % len(headers))
    long_target = path.encode() + b"?" + b"q" * OVERSIZED_BYTES
    _expect_status(request(host, port, b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % long_target), 414,
                   "a request line of %d bytes" % len(long_target))


def check_slow_sender(host, port, path="/metrics", request_timeout=5.0):
    """Sends a request head a few bytes at a time and never ends it."""
    deadline = time.monotonic() + request_timeout + SLOW_SENDER_GRACE_S
    with _connect(host, port) as sock:
        start = time.monotonic()
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\nX-Slow: " % path.encode())
        sock.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                try:
                    sock.sendall(b"z")  # keeps an idle timer from ever firing
                except (BrokenPipeError, ConnectionResetError):
                    return _slow_sender_closed(start, request_timeout, b"")
                continue
            except ConnectionResetError:
                return _slow_sender_closed(start, request_timeout, b"")
            return _slow_sender_closed(start, request_timeout, data)
    raise AssertionError("slow sender still connected %.1f s after connecting (request timeout %.1f s)" % (
        request_timeout + SLOW_SENDER_GRACE_S, request_timeout))


def _slow_sender_closed(start, request_timeout, data):
    elapsed = time.monotonic() - start
    assert elapsed >= request_timeout * 0.8, \
        "slow sender closed after %.1f s, before the %.1f s request timeout" % (elapsed, request_timeout)
    assert not data.startswith(b"HTTP/1.1 2"), "slow sender was served: %r" % data[:100]


def _raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY or hard >= want else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    assert soft >= want, "need %d file descriptors for the connection flood, the limit is %d" % (want, soft)


def _open_many(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((host, port))  # EINPROGRESS; the selector tells when it is done
        socks.append(sock)
    return socks


def check_many_connections(host, port, path="/metrics", count=1000, send_request=True):
    """count connections at once, each sending a GET (or nothing). Every one
    must end with 200, 503 or a closed connection within IO_TIMEOUT_S."""
    _raise_fd_limit(count + 256)
    request_bytes = b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode()
    socks = _open_many(host, port, count)
    outcomes = {}
    try:
        if not send_request:
            time.sleep(0.5)  # hold the connections open together for a moment
            return
        received = {sock: b"" for sock in socks}
        pending = set(socks)
        selector = selectors.DefaultSelector()
        for sock in socks:
            selector.register(sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + IO_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for key, events in selector.select(timeout=0.5):
                sock = key.fileobj
                if events & selectors.EVENT_WRITE:
                    _send_once(sock, request_bytes, outcomes)
                    selector.modify(sock, selectors.EVENT_READ)
                    continue
                outcome = _receive(sock, received)
                if outcome is not None:
                    outcomes.setdefault(sock, outcome)
                    selector.unregister(sock)
                    pending.discard(sock)
                    sock.close()  # as a scraper does: the server stops lingering
        assert not pending, "%d of %d connections neither answered nor closed after %.0f s" % (
            len(pending), count, IO_TIMEOUT_S)
        unexpected = [o for o in outcomes.values() if o not in ("200", "503", "closed")]
        assert not unexpected, "unexpected answers to the flood: %r" % unexpected[:5]
        assert "200" in outcomes.values(), "none of %d connections was served" % count
    finally:
        for sock in socks:
            sock.close()


def _send_once(sock, data, outcomes):
    try:
        sock.send(data)  # small: fits the socket buffer at once
    except OSError:
        outcomes[sock] = "closed"  # refused or reset before the request went out


def _receive(sock, received):
    """Returns the outcome once the server has closed, else None."""
    try:
        chunk = sock.recv(65536)
    except BlockingIOError:
        return None
    except OSError:
        chunk = b""  # reset
    if chunk:
        received[sock] += chunk
        return None
    status = Reply(received[sock], False).status
    return str(status) if status is not None else "closed"


def hostile_checks(host, port, path="/metrics", request_timeout=5.0, connections=1000, log=None):
    """Runs every check against host:port; AssertionError on the first failure."""
    checks = [
        ("normal GET", lambda: check_normal_get(host, port, path)),
        ("HEAD", lambda: check_head(host, port, path)),
        ("unknown path", lambda: check_unknown_path(host, port, path)),
        ("non-GET methods", lambda: check_non_get(host, port, path)),
        ("malformed requests", lambda: check_malformed(host, port, path)),
        ("oversized request", lambda: check_oversized_request(host, port, path)),
        ("slow sender", lambda: check_slow_sender(host, port, path, request_timeout)),
        ("%d requesting connections" % connections, lambda: check_many_connections(host, port, path, connections)),
        ("%d idle connections" % connections,
         lambda: check_many_connections(host, port, path, connections, send_request=False)),
        # The idle ones hold slots until the server sees them close.
        ("normal GET afterwards", lambda: _eventually(lambda: check_normal_get(host, port, path))),
    ]
    for name, check in checks:
        started = time.monotonic()
        check()
        if log:
            log("ok: %s (%.1f s)" % (name, time.monotonic() - started))


def _eventually(check, within_s=2.0):
    deadline = time.monotonic() + within_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def _parse_host_port(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464")
    return host.strip("[]"), int(port)


def main():
    parser = argparse.ArgumentParser(description="Hostile HTTP checks against a metrics endpoint.")
    parser.add_argument("address", type=_parse_host_port, help="HOST:PORT of the server")
    parser.add_argument("--path", default="/metrics")
    parser.add_argument("--request-timeout", type=float, default=5.0,
                        help="the server's request timeout in seconds (default 5)")
    parser.add_argument("--connections", type=int, default=1000)
    args = parser.parse_args()
    host, port = args.address
    try:
        hostile_checks(host, port, args.path, args.request_timeout, args.connections, log=print)
    except AssertionError as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    print("all hostile checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
