#!/usr/bin/python3
"""Leaking servers for tcpleak's end-to-end tests: whole populations of
sockets left in CLOSE_WAIT, where peer.py drives one socket at a time.

  leaker.py steady RATE HOLD_S
      One process: connects to its own listener RATE times a second; the
      client side closes at once, the server keeps its accepted socket in
      CLOSE_WAIT for HOLD_S seconds, then closes it (so sockets are always
      entering CLOSE_WAIT, crossing any threshold and leaving it).

Prints "ready pid=N port=P" once listening, then runs until killed. Only the
standard library; /usr/bin/python3 of Debian.
"""

import collections
import os
import resource
import socket
import sys
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def steady(rate, hold_s):
    raise_fd_limit()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    print("ready pid=%d port=%d" % (os.getpid(), port), flush=True)
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


def main(argv):
    if len(argv) == 4 and argv[1] == "steady":
        steady(float(argv[2]), float(argv[3]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
