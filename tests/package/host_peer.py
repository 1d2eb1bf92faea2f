#!/usr/bin/python3
"""A host process for the packaging checks: tcpleak runs in a chroot, this
runs outside it, in the host's pid and network namespaces.

  host_peer.py server COMM HOLD   as COMM, listens on 127.0.0.1 (a free port), prints
                                  "ready pid=PID port=PORT", accepts one
                                  connection and keeps it open HOLD seconds
                                  after the client hung up (a CLOSE_WAIT leak
                                  when HOLD passes the threshold), then exits
  host_peer.py client PORT        as host-client, connects, prints "client pid=PID",
                                  closes once the server has accepted
"""
import socket
import sys
import time


def server(comm, hold):
    # The comm tcpleak must report: distinctive, not just "python3".
    with open("/proc/self/comm", "w") as f:
        f.write(comm)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(60)
    print("ready pid=%d port=%d" % (__import__("os").getpid(), listener.getsockname()[1]), flush=True)
    conn, _ = listener.accept()
    conn.settimeout(60)
    # The client hangs up only once accept() has returned: the socket's
    # owner is then learned at accept, whatever the timing.
    conn.sendall(b"a")
    if conn.recv(1) != b"":
        sys.exit("server: expected the client to hang up")
    time.sleep(hold)  # in CLOSE_WAIT all this time: never closed
    conn.close()
    print("server closed", flush=True)


def client(port):
    with open("/proc/self/comm", "w") as f:
        f.write("host-client")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    print("client pid=%d" % __import__("os").getpid(), flush=True)
    if s.recv(1) != b"a":
        sys.exit("client: the server did not accept")
    s.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(sys.argv[2], float(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "client":
        client(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
