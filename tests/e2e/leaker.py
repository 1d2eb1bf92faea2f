#!/usr/bin/python3
"""Servers for tcpleak's end-to-end tests that leak (or hold) sockets by the
dozen or the thousand, where peer.py drives one socket at a time.

  leaker.py steady RATE HOLD_S
      One process: connects to its own listener RATE times a second; the
      client side closes at once, the server keeps its accepted socket in
      CLOSE_WAIT for HOLD_S seconds, then closes it (so sockets are always
      entering CLOSE_WAIT, crossing any threshold and leaving it).
  leaker.py mass COUNT
      One process: COUNT connections to its own listener; each client side
      shuts down its writing half (FIN) but stays open, so the accepted side
      sits in CLOSE_WAIT and nothing is orphaned. Ready once all are.
  leaker.py forking-server
      socat fork style: the parent accepts, forks a child per connection and
      closes its own copy; the child holds the socket until killed.
      Prints "child pid=N sport=P" per connection.
  leaker.py prefork WORKERS
      A prefork server: listens, then forks WORKERS processes that share the
      listener and accept from it; each connection is read to EOF and
      closed. A worker prints "accepted pid=N sport=P" per connection.

Each prints "ready pid=N port=P [workers=a,b,...]" once listening (and, for
mass, once every socket is in CLOSE_WAIT), then runs until killed. Only the
standard library; /usr/bin/python3 of Debian.
"""

import collections
import os
import resource
import signal
import socket
import sys
import time


def raise_fd_limit(wanted=None):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted is not None and wanted > hard:
        hard = wanted  # root may raise the hard limit (up to fs.nr_open)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def listen(backlog=1024):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def sleep_forever():
    while True:
        signal.pause()


def steady(rate, hold_s):
    raise_fd_limit()
    listener = listen()
    port = listener.getsockname()[1]
    say("ready pid=%d port=%d" % (os.getpid(), port))
    held = collections.deque()  # (close_at, socket)
    period = 1.0 / rate
    next_at = time.monotonic()
    while True:
        now = time.monotonic()
        while held and held[0][0] <= now:
            held.popleft()[1].close()
        if now < next_at:
            time.sleep(min(next_at - now, 0.05))
            continue
        next_at += period
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        client.close()  # FIN: the server's socket goes to CLOSE_WAIT
        held.append((now + hold_s, server))


def mass(count):
    raise_fd_limit(2 * count + 64)
    listener = listen(backlog=min(count, 4096))
    port = listener.getsockname()[1]
    kept = []
    while len(kept) < 2 * count:
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        client.shutdown(socket.SHUT_WR)  # FIN, the descriptor kept: no orphan
        kept += [client, server]
    # Every server side has the FIN by the time the client's shutdown returns
    # on loopback; read it to be sure.
    for server in kept[1::2]:
        if server.recv(1) != b"":
            raise SystemExit("leaker mass: data instead of EOF")
    say("ready pid=%d port=%d" % (os.getpid(), port))
    sleep_forever()


def forking_server():
    listener = listen()
    say("ready pid=%d port=%d" % (os.getpid(), listener.getsockname()[1]))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies
    while True:
        conn, peer = listener.accept()
        child = os.fork()
        if child == 0:
            listener.close()
            sleep_forever()  # holds conn: the leak
        conn.close()  # the parent's copy: a close that does not take effect
        say("child pid=%d sport=%d" % (child, peer[1]))


def prefork(workers):
    listener = listen()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            while True:
                conn, peer = listener.accept()
                say("accepted pid=%d sport=%d" % (os.getpid(), peer[1]))
                while conn.recv(4096):
                    pass
                conn.close()
        pids.append(pid)

    def stop(signum, frame):
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    say("ready pid=%d port=%d workers=%s" % (os.getpid(), listener.getsockname()[1], ",".join(map(str, pids))))
    sleep_forever()


def main(argv):
    if len(argv) == 4 and argv[1] == "steady":
        steady(float(argv[2]), float(argv[3]))
    elif len(argv) == 3 and argv[1] == "mass":
        mass(int(argv[2]))
    elif len(argv) == 2 and argv[1] == "forking-server":
        forking_server()
    elif len(argv) == 3 and argv[1] == "prefork":
        prefork(int(argv[2]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
