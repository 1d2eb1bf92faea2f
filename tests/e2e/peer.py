#!/usr/bin/python3
# Over 500 lines: one command per socket operation the tests drive.
"""A scriptable TCP socket process for tcpleak's end-to-end tests.

Driven over stdin/stdout: one command per line, exactly one reply line per
command ("ok [key=value ...]" or "err NAME message"), flushed at once. On start
it prints "ready pid=N". Descriptors are plain integers; nothing is closed
behind the test's back (no garbage-collected socket objects).

Commands (FAMILY is 4 or 6; port 0 = ephemeral):
  listen FAMILY ADDR PORT [BACKLOG] [reuseport] [OPTION=N...]  -> ok fd=N port=P
  connect FAMILY ADDR PORT [OPTION=N...]  -> ok fd=N sport=P
                                    OPTIONs, set before bind/connect (accepted sockets
                                    inherit a listener's): sndbuf=BYTES rcvbuf=BYTES
                                    (SO_SNDBUF, SO_RCVBUF: the kernel doubles them)
  accept LFD                        -> ok fd=N port=PEER_PORT lport=LOCAL_PORT
  accept-nowait LFD                 -> the same, or "ok none" when nothing is queued
  close FD                          -> ok
  shutdown FD [wr|rd|rdwr]          -> ok            (default wr: SHUT_WR)
  send FD NBYTES                    -> ok n=NBYTES
  fill FD                           -> ok n=BYTES    (non-blocking writes until EAGAIN: the send
                                                      buffer is full; the fd is blocking again after)
  recv FD                           -> ok n=BYTES [eof]   (what is there, no wait)
  wait-eof FD [TIMEOUT_S]           -> ok eof n=BYTES_DRAINED   (peer's FIN arrived)
  dup FD                            -> ok fd=M
  dup2 OLD NEW                      -> ok fd=NEW       (os.dup2(inheritable=False): the dup3 syscall)
  dup2-raw OLD NEW                  -> ok fd=NEW       (libc dup2(): the dup2 syscall where there is one)
  close-range FIRST LAST            -> ok            (close_range(2), flags 0)
  fork                              -> ok pid=CHILD  (child keeps every fd, blocks)
  spawn PROGRAM [ARGS...]           -> ok pid=CHILD  (fork + exec: the exec drops every fd, all
                                                      O_CLOEXEC as Python makes them; kill-child ends it)
  kill-child PID                    -> ok pid=PID status=WAITSTATUS
  exit-child PID [CODE]             -> ok pid=PID status=WAITSTATUS
  comm HEX                          -> ok            (prctl(PR_SET_NAME, bytes))
  getcomm                           -> ok hex=HEX
  cookie FD                         -> ok cookie=N   (SO_COOKIE, = tcpleak's "sock")
  state FD                          -> ok state=NAME (TCP_INFO tcpi_state)
  bufs FD                           -> ok sndbuf=N rcvbuf=N   (SO_SNDBUF, SO_RCVBUF as the kernel keeps them)
  linger FD SECONDS                 -> ok            (SO_LINGER on; 0 = RST on close)
  unix-listen NAME                  -> ok fd=N      (abstract unix stream socket "@NAME")
  unix-connect NAME                 -> ok fd=N
  unix-accept FD                    -> ok fd=N
  send-fd UFD FD                    -> ok            (FD passed over unix socket UFD: SCM_RIGHTS)
  recv-fd UFD                       -> ok fd=N       (a descriptor received over UFD)
  ping                              -> ok pid=N
  exit CODE                         -> (no reply) os._exit(CODE), closing nothing
"""

import ctypes
import os
import select
import signal
import socket
import struct
import sys
import time

PR_SET_NAME = 15
PR_GET_NAME = 16
SO_COOKIE = 57
SYS_close_range_x86_64 = 436
# A forked child whose parent is gone keeps its descriptors (that may be the
# point of the test) but not forever: the harness kills it at teardown.
ORPHAN_LIFETIME_S = int(os.environ.get("PEER_ORPHAN_LIFETIME_S", "120"))

TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
    11: "CLOSING", 12: "NEW_SYN_RECV",
}

libc = ctypes.CDLL(None, use_errno=True)

# pid -> write end of the pipe the child blocks on
children = {}


class CommandError(Exception):
    pass


def reply(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def family_of(arg):
    if arg == "4":
        return socket.AF_INET
    if arg == "6":
        return socket.AF_INET6
    raise CommandError("bad family %r (4 or 6)" % arg)


class Borrowed:
    """A socket object over an fd we keep owning: detached, never closed, on exit."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=int(fd))

    def __enter__(self):
        return self.sock

    def __exit__(self, *exc):
        self.sock.detach()
        return False


def new_socket(family):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s


BUFFER_OPTIONS = {"sndbuf": socket.SO_SNDBUF, "rcvbuf": socket.SO_RCVBUF}


def split_options(words):
    """(positional words, {name: int}) of a command's trailing NAME=N words."""
    positional, options = [], {}
    for w in words:
        if "=" in w:
            name, value = w.split("=", 1)
            if name not in BUFFER_OPTIONS:
                raise CommandError("unknown option %r" % name)
            options[name] = int(value)
        else:
            positional.append(w)
    return positional, options


def apply_options(s, options):
    for name, value in options.items():
        s.setsockopt(socket.SOL_SOCKET, BUFFER_OPTIONS[name], value)


def cmd_listen(family, addr, port, *rest):
    words, options = split_options(rest)
    if len(words) > 2:
        raise TypeError("listen: too many arguments")
    backlog = words[0] if words else "128"
    option = words[1] if len(words) > 1 else None
    s = new_socket(family_of(family))
    try:
        if option == "reuseport":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        elif option is not None:
            raise ValueError("unknown listen option %r" % option)
        apply_options(s, options)
        s.bind((addr, int(port)))
        s.listen(int(backlog))
        bound = s.getsockname()[1]
    except BaseException:
        s.close()
        raise
    return "fd=%d port=%d" % (s.detach(), bound)


def cmd_connect(family, addr, port, *rest):
    words, options = split_options(rest)
    if words:
        raise TypeError("connect: unexpected %r" % words[0])
    s = socket.socket(family_of(family), socket.SOCK_STREAM)
    try:
        apply_options(s, options)
        s.connect((addr, int(port)))
        sport = s.getsockname()[1]
    except BaseException:
        s.close()
        raise
    return "fd=%d sport=%d" % (s.detach(), sport)


def cmd_accept(lfd):
    with Borrowed(lfd) as ls:
        conn, peer = ls.accept()
    lport = conn.getsockname()[1]
    return "fd=%d port=%d lport=%d" % (conn.detach(), peer[1], lport)


def cmd_accept_nowait(lfd):
    with Borrowed(lfd) as ls:
        ls.setblocking(False)
        try:
            conn, peer = ls.accept()
        except BlockingIOError:
            return "none"
        finally:
            ls.setblocking(True)
    conn.setblocking(True)
    lport = conn.getsockname()[1]
    return "fd=%d port=%d lport=%d" % (conn.detach(), peer[1], lport)


def cmd_close(fd):
    os.close(int(fd))
    return ""


def cmd_shutdown(fd, how="wr"):
    hows = {"wr": socket.SHUT_WR, "rd": socket.SHUT_RD, "rdwr": socket.SHUT_RDWR}
    if how not in hows:
        raise CommandError("bad shutdown mode %r" % how)
    with Borrowed(fd) as s:
        s.shutdown(hows[how])
    return ""


def cmd_send(fd, nbytes):
    n = int(nbytes)
    with Borrowed(fd) as s:
        s.sendall(b"x" * n)
    return "n=%d" % n


def cmd_fill(fd):
    total = 0
    chunk = b"x" * 65536
    with Borrowed(fd) as s:
        s.setblocking(False)
        try:
            while True:
                try:
                    total += s.send(chunk)
                except BlockingIOError:
                    break
        finally:
            s.setblocking(True)
    return "n=%d" % total


def cmd_recv(fd):
    total = 0
    eof = False
    with Borrowed(fd) as s:
        while True:
            try:
                data = s.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not data:
                eof = True
                break
            total += len(data)
    return "n=%d%s" % (total, " eof" if eof else "")


def cmd_wait_eof(fd, timeout="30"):
    deadline = time.monotonic() + float(timeout)
    total = 0
    with Borrowed(fd) as s:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandError("timeout: no EOF after %ss (%d bytes read)" % (timeout, total))
            ready, _, _ = select.select([s], [], [], left)
            if not ready:
                continue
            data = s.recv(65536, socket.MSG_DONTWAIT)
            if not data:
                return "eof n=%d" % total
            total += len(data)


def cmd_dup(fd):
    return "fd=%d" % os.dup(int(fd))


def cmd_dup2(old, new):
    return "fd=%d" % os.dup2(int(old), int(new), inheritable=False)


def cmd_dup2_raw(old, new):
    # os.dup2 with the default inheritable=True calls libc dup2(), which is
    # the dup2 syscall on x86_64 (inheritable=False makes it dup3).
    return "fd=%d" % os.dup2(int(old), int(new))


def close_range(first, last):
    fn = getattr(libc, "close_range", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_int]
        rc = fn(first, last, 0)
    else:
        if os.uname().machine != "x86_64":
            raise CommandError("close_range: no libc wrapper and syscall number unknown here")
        libc.syscall.argtypes = [ctypes.c_long, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint]
        rc = libc.syscall(SYS_close_range_x86_64, first, last, 0)
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def cmd_close_range(first, last):
    close_range(int(first), int(last))
    return ""


def child_main(rfd):
    # Keep every inherited descriptor; block until told to exit.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        data = os.read(rfd, 1)
        if data:
            os._exit(data[0])
        # The parent is gone: linger for a while, then go.
        signal.alarm(ORPHAN_LIFETIME_S)
        while True:
            signal.pause()
    finally:
        os._exit(0)


def cmd_fork():
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(wfd)
            for other in children.values():
                os.close(other)
        except OSError:
            pass
        child_main(rfd)
        os._exit(0)  # not reached
    os.close(rfd)
    children[pid] = wfd
    return "pid=%d" % pid


def cmd_spawn(program, *args):
    rfd, wfd = os.pipe()  # nothing is written: kill-child wants one
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(program, [program, *args])
        finally:
            os._exit(127)
    os.close(rfd)
    children[pid] = wfd
    return "pid=%d" % pid


def forget_child(pid):
    wfd = children.pop(pid, None)
    if wfd is None:
        raise CommandError("no child %d" % pid)
    return wfd


def cmd_kill_child(pid):
    pid = int(pid)
    wfd = forget_child(pid)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(wfd)
    return "pid=%d status=%d" % (pid, status)


def cmd_exit_child(pid, code="0"):
    pid = int(pid)
    wfd = forget_child(pid)
    os.write(wfd, bytes([int(code) & 0xFF]))
    _, status = os.waitpid(pid, 0)
    os.close(wfd)
    return "pid=%d status=%d" % (pid, status)


def cmd_comm(hexbytes):
    name = bytes.fromhex(hexbytes)
    if b"\0" in name:
        raise CommandError("comm may not contain NUL")
    buf = ctypes.create_string_buffer(name, max(len(name) + 1, 16))
    rc = libc.prctl(PR_SET_NAME, buf, 0, 0, 0)
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ""


def get_comm():
    buf = ctypes.create_string_buffer(17)
    if libc.prctl(PR_GET_NAME, buf, 0, 0, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return buf.value


def cmd_getcomm():
    return "hex=%s" % get_comm().hex()


def cmd_cookie(fd):
    with Borrowed(fd) as s:
        raw = s.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8)
    return "cookie=%d" % struct.unpack("=Q", raw)[0]


def cmd_state(fd):
    with Borrowed(fd) as s:
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    return "state=%s" % TCP_STATES.get(info[0], str(info[0]))


def cmd_bufs(fd):
    with Borrowed(fd) as s:
        snd = s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        rcv = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return "sndbuf=%d rcvbuf=%d" % (snd, rcv)


def cmd_linger(fd, seconds):
    with Borrowed(fd) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, int(seconds)))
    return ""


def unix_address(name):
    return "\0" + name


def cmd_unix_listen(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(unix_address(name))
        s.listen(8)
    except BaseException:
        s.close()
        raise
    return "fd=%d" % s.detach()


def cmd_unix_connect(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(unix_address(name))
    except BaseException:
        s.close()
        raise
    return "fd=%d" % s.detach()


def cmd_unix_accept(fd):
    with Borrowed(fd) as ls:
        conn, _ = ls.accept()
    return "fd=%d" % conn.detach()


def cmd_send_fd(ufd, fd):
    with Borrowed(ufd) as s:
        socket.send_fds(s, [b"x"], [int(fd)])
    return ""


def cmd_recv_fd(ufd):
    with Borrowed(ufd) as s:
        _, fds, _, _ = socket.recv_fds(s, 1, 1)
    if len(fds) != 1:
        raise CommandError("expected one descriptor, got %d" % len(fds))
    return "fd=%d" % fds[0]


def cmd_ping():
    return "pid=%d" % os.getpid()


def cmd_exit(code="0"):
    sys.stdout.flush()
    os._exit(int(code))


COMMANDS = {
    "listen": cmd_listen,
    "connect": cmd_connect,
    "accept": cmd_accept,
    "accept-nowait": cmd_accept_nowait,
    "close": cmd_close,
    "shutdown": cmd_shutdown,
    "send": cmd_send,
    "fill": cmd_fill,
    "recv": cmd_recv,
    "wait-eof": cmd_wait_eof,
    "dup": cmd_dup,
    "dup2": cmd_dup2,
    "dup2-raw": cmd_dup2_raw,
    "close-range": cmd_close_range,
    "fork": cmd_fork,
    "spawn": cmd_spawn,
    "kill-child": cmd_kill_child,
    "exit-child": cmd_exit_child,
    "comm": cmd_comm,
    "getcomm": cmd_getcomm,
    "cookie": cmd_cookie,
    "state": cmd_state,
    "bufs": cmd_bufs,
    "linger": cmd_linger,
    "unix-listen": cmd_unix_listen,
    "unix-connect": cmd_unix_connect,
    "unix-accept": cmd_unix_accept,
    "send-fd": cmd_send_fd,
    "recv-fd": cmd_recv_fd,
    "ping": cmd_ping,
    "exit": cmd_exit,
}


def one_line(text):
    return " ".join(str(text).split())


def main():
    # The harness stops peers with SIGKILL/SIGTERM; a Ctrl-C at the terminal
    # should not leave a traceback per peer.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if len(sys.argv) > 1 and sys.argv[1] == "--comm":
        cmd_comm(sys.argv[2])
    reply("ready pid=%d" % os.getpid())
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        name, args = words[0], words[1:]
        fn = COMMANDS.get(name)
        if fn is None:
            reply("err unknown-command %s" % one_line(name))
            continue
        try:
            result = fn(*args)
        except TypeError as e:
            reply("err usage %s: %s" % (name, one_line(e)))
        except (CommandError, ValueError) as e:
            reply("err bad-request %s" % one_line(e))
        except OSError as e:
            reply("err errno=%s %s" % (e.errno, one_line(e.strerror or e)))
        else:
            reply("ok" + (" " + result if result else ""))
    os._exit(0)


if __name__ == "__main__":
    main()
