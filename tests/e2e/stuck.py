# Over 500 lines: every stuck-state scenario and the ss/netns plumbing they share.
"""Real sockets stuck in the closing states, for `tcpleak leaks --state` tests.

Every scenario is made of peer.py processes (harness.Peer) holding real
sockets, in the host's network namespace or in namespaces made for it, and
ends when the state is there as `ss` shows it (polled: no fixed sleeps).
Each is a context manager that yields a Scenario:

    with stuck.fin_wait1_peer_not_reading(held=False) as sc:
        sc.stuck   # the socket in the state: an End (pid, comm, fd, sock, ...)
        sc.other   # the other end of the connection
        sc.ss      # the stuck socket as ss showed it when the state was there

and undoes everything at the end, also when the test fails: links mended,
the scenario's sockets destroyed (ss -K), its processes killed, its
namespaces deleted. Everything is registered with the harness too, so
conftest's teardown catches whatever a test left (and a failing test gets
`ss` of each namespace of its own in its report).

Scenarios (setup, from nothing to the state, median of 5 on a loaded 2-core VM,
kernel 6.18; starting the peer processes is about 0.1 s of it):
  fin_wait1_peer_not_reading(held)  the reader set a small SO_RCVBUF and never
      reads; the sender (small SO_SNDBUF) writes until EAGAIN, then close()s
      (orphaned) or shutdown(SHUT_WR)s and keeps the fd (held): FIN_WAIT1,
      zero window, bytes and the FIN unsent, the persist timer probing.
      ~0.4-0.65 s (the persist timer follows a first RTO).
  half_closed(how)                  the client half-closes, the server never
      closes: server CLOSE_WAIT, client FIN_WAIT2, held (how="shutdown":
      shutdown(SHUT_WR), fd kept) or orphaned (how="close"). The pairing case.
      ~0.3 s on loopback, ~0.55 s across a VethPair.
  fin_wait2_orphaned(fin_timeout)   half_closed("close") in a namespace of its
      own with net.ipv4.tcp_fin_timeout set low: the client's socket is the
      kernel's time-wait socket with substate FIN_WAIT2, dropped fin_timeout
      after the close (Scenario.wait_gone()). ~0.4 s, then fin_timeout.
  last_ack_peer_gone()              two namespaces joined by a veth pair; the
      client closes, the server sees EOF (CLOSE_WAIT), the client's address
      goes (its namespace drops what the server sends: no reset, no ICMP),
      the server closes: LAST_ACK retransmitting its FIN, the
      retransmissions growing (RTO 200 ms, doubling).
      ~1-2 s (two namespaces, the link, the first retransmission).

Topologies (where the two ends are): Loopback(family, netns=None) - both in
one namespace on 127.0.0.1 or ::1; VethPair() - server 10.200.0.1 in one
namespace, client 10.200.0.2 in another.
"""

import contextlib
import dataclasses
import itertools
import os
import re
import subprocess
import time
from typing import Optional

import harness
from harness import Peer

POLL_S = 0.02

# ---------------------------------------------------------------------------
# ss: the kernel's view of a socket

SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV", "FIN-WAIT-1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT", "UNCONN": "CLOSE", "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING",
}
# ss's names of the kernel's timers (ss.c, tmr_name[]): "on" is the
# retransmission timer, "persist" the zero-window probe timer.
_TIMER_RE = re.compile(r"timer:\((\w+),([^,]*),(\d+)\)")
_MS_RE = re.compile(r"(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$")


def ss_duration_ms(text):
    """ss's print_ms_timer(): '192ms', '1.604ms' (1 s 604 ms), '59sec', '1min', '1min30sec'."""
    m = _MS_RE.match(text)
    if not m or not text:
        raise ValueError("not an ss duration: %r" % text)
    minutes, secs, ms = (int(g) if g else 0 for g in m.groups())
    return (minutes * 60 + secs) * 1000 + ms


def _endpoint(text):
    addr, port = text.rsplit(":", 1)
    addr = addr.strip("[]")
    if "%" in addr:  # fe80::1%eth0
        addr = addr.split("%", 1)[0]
    return addr, (int(port) if port != "*" else 0)


@dataclasses.dataclass
class SsSocket:
    """One socket of `ss -tanoeiH`: the state as tcpleak names it
    ("FIN_WAIT1"), the queues, the endpoints, the pending timer, the socket
    cookie (sk:), the inode (0: no file, orphaned) and the -i fields."""
    state: str
    recv_q: int
    send_q: int
    local: tuple
    peer: tuple
    timer: Optional[str]     # "on" (retransmit), "persist" (probe), "keepalive", "timewait"; None
    timer_ms: Optional[int]  # time left
    timer_count: int         # retransmissions (on), probes (persist), ...
    ino: Optional[int]
    cookie: Optional[int]
    info: dict               # -i's key:value words ("snd_wnd": "65536", "unacked": "1", ...)
    flags: set               # -i's bare words ("ts", "sack", ...)
    text: str

    @property
    def orphaned(self):
        return self.ino == 0

    @property
    def snd_wnd(self):
        """The peer's window; ss prints snd_wnd only when it is not 0."""
        return int(self.info.get("snd_wnd", 0))

    def num(self, key, default=0):
        value = self.info.get(key)
        return int(value) if value is not None and re.fullmatch(r"\d+", value) else default


def parse_ss(output):
    """`ss -tanoeiH` output -> [SsSocket]: a socket's first line, its -i line after a tab."""
    sockets = []
    current = None
    for line in output.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t") and current is not None:
            info, flags = {}, set()
            for word in line.split():
                if ":" in word and not word.startswith("("):
                    k, v = word.split(":", 1)
                    info.setdefault(k, v)
                else:
                    flags.add(word)
            current.info.update(info)
            current.flags |= flags
            current.text += "\n" + line
            continue
        words = line.split()
        if len(words) < 5:
            continue
        timer = _TIMER_RE.search(line)
        ino = re.search(r"\bino:(\d+)", line)
        sk = re.search(r"\bsk:([0-9a-f]+)", line)
        current = SsSocket(
            state=SS_STATES.get(words[0], words[0]), recv_q=int(words[1]), send_q=int(words[2]),
            local=_endpoint(words[3]), peer=_endpoint(words[4]),
            timer=timer.group(1) if timer else None,
            timer_ms=ss_duration_ms(timer.group(2)) if timer and timer.group(2) else None,
            timer_count=int(timer.group(3)) if timer else 0,
            ino=int(ino.group(1)) if ino else None, cookie=int(sk.group(1), 16) if sk else None,
            info={}, flags=set(), text=line)
        sockets.append(current)
    return sockets


def in_netns(netns, argv):
    return list(argv) if netns is None else ["ip", "netns", "exec", netns] + list(argv)


def ss_text(netns=None, expr=None):
    argv = ["ss", "-tanoeiH"] + ([expr] if expr else [])
    return subprocess.run(in_netns(netns, argv), check=True, capture_output=True, text=True, timeout=10).stdout


def ss(netns=None, expr=None):
    """Every TCP socket of the namespace (None: the test's own) matching the ss filter expr."""
    return parse_ss(ss_text(netns, expr))


def ss_tuple(local, peer, netns=None):
    """The sockets with exactly this local and remote (addr, port), usually one."""
    return [s for s in ss(netns, "sport = :%d and dport = :%d" % (local[1], peer[1]))
            if (s.local, s.peer) == (tuple(local), tuple(peer))]


def wait_ss(local, peer, predicate, netns=None, timeout=harness.DEFAULT_TIMEOUT, what="the state"):
    """Polls ss until the socket (local, peer) satisfies predicate(SsSocket);
    returns that SsSocket. Fails with the last ss output."""
    deadline = time.monotonic() + timeout
    while True:
        found = ss_tuple(local, peer, netns)
        for s in found:
            if predicate(s):
                return s
        if time.monotonic() > deadline:
            raise AssertionError("%s of %s:%d -> %s:%d (netns %s) not there after %.1fs; ss shows:\n%s"
                                 % (what, local[0], local[1], peer[0], peer[1], netns or "of the test",
                                    timeout, "\n".join(s.text for s in found) or "(no such socket)"))
        time.sleep(POLL_S)


def wait_ss_gone(local, peer, netns=None, timeout=harness.DEFAULT_TIMEOUT, allow=("TIME_WAIT",)):
    """Polls ss until no socket (local, peer) is left but in a state of `allow`."""
    deadline = time.monotonic() + timeout
    while True:
        left = [s for s in ss_tuple(local, peer, netns) if s.state not in allow]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s:%d -> %s:%d still there after %.1fs:\n%s" % (
                local[0], local[1], peer[0], peer[1], timeout, "\n".join(s.text for s in left)))
        time.sleep(POLL_S)


def destroy(local, peer, netns=None):
    """ss -K: the kernel resets the socket (local, peer) (INET_DIAG_DESTROY), whatever its state."""
    subprocess.run(in_netns(netns, ["ss", "-KHtan", "state", "all", "src", "%s:%d" % (fmt_addr(local[0]), local[1]),
                                    "dst", "%s:%d" % (fmt_addr(peer[0]), peer[1])]),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)


def fmt_addr(addr):
    return "[%s]" % addr if ":" in addr else addr


# ---------------------------------------------------------------------------
# Network namespaces

_names = itertools.count()


def netns_inode(pid="self"):
    return os.stat("/proc/%s/ns/net" % pid).st_ino


def read_sysctl(name, netns=None):
    """net.ipv4.NAME in a namespace (None: the test's own) as an int; None when it has none."""
    path = "/proc/sys/net/ipv4/%s" % name
    if netns is None:
        try:
            with open(path) as f:
                return int(f.read().split()[0])
        except FileNotFoundError:
            return None
    p = subprocess.run(["ip", "netns", "exec", netns, "cat", path], capture_output=True, text=True, timeout=10)
    return int(p.stdout.split()[0]) if p.returncode == 0 and p.stdout.strip() else None


# The sysctls tcpleak reports for a stuck socket (docs/stuck-states.md).
SYSCTLS = ("tcp_fin_timeout", "tcp_orphan_retries", "tcp_max_orphans", "tcp_retries2", "tcp_tw_reuse",
           "tcp_max_tw_buckets")
# tcp_max_orphans is host-wide: only the initial namespace's /proc/sys has it.
HOST_WIDE = ("tcp_max_orphans",)


def sysctls_of(netns=None):
    """{name: value} as they apply to a socket of the namespace (None: the test's own, the
    initial one): host-wide ones from the test's own /proc/sys."""
    return {n: read_sysctl(n, None if n in HOST_WIDE else netns) for n in SYSCTLS}


class Netns:
    """A network namespace of the test's own (`ip netns add`, lo up); deleted
    by cleanup(). Registered with the harness: conftest deletes it at the
    latest, after the processes started in it (started later)."""

    def __init__(self, tag):
        self.name = "tcpleak-e2e-%s-%d-%d" % (tag, os.getpid(), next(_names))
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)  # a leftover
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.deleted = False
        harness._register(self)
        self.inode = os.stat("/run/netns/%s" % self.name).st_ino
        self.ip("link", "set", "lo", "up")

    def __repr__(self):
        return "Netns(%s)" % self.name

    def ip(self, *args):
        subprocess.run(["ip", "-n", self.name] + list(args), check=True, timeout=10)

    def sysctl(self, name, value):
        """Sets net.ipv4.NAME here (only here: these are per namespace) and reads it back."""
        subprocess.run(["ip", "netns", "exec", self.name, "sysctl", "-qw", "net.ipv4.%s=%d" % (name, value)],
                       check=True, timeout=10)
        got = read_sysctl(name, self.name)
        assert got == value, "net.ipv4.%s is %r in %s after setting it to %d" % (name, got, self.name, value)

    def sockets(self):
        return ss(self.name)

    def cleanup(self):
        if self.deleted:
            return []
        self.deleted = True
        # Sockets the kernel keeps without a process (orphans) hold the
        # namespace: reset them, so that it goes with its name.
        subprocess.run(["ip", "netns", "exec", self.name, "ss", "-KHtan", "state", "all"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        p = subprocess.run(["ip", "netns", "del", self.name], capture_output=True, text=True, timeout=10)
        return [] if p.returncode == 0 else ["ip netns del %s: %s" % (self.name, p.stderr.strip())]

    def report(self):
        if self.deleted:
            return "netns %s (inode %d): deleted" % (self.name, self.inode)
        try:
            text = ss_text(self.name)
        except Exception as e:  # never hide the failure itself
            text = "(ss failed: %s)" % e
        return "netns %s (inode %d), ss -tanoei:\n%s" % (self.name, self.inode, text or "(no sockets)")


def wait_link_up(netns, dev, timeout=harness.DEFAULT_TIMEOUT):
    """A veth end is up once its peer is: operstate UP (carrier)."""
    deadline = time.monotonic() + timeout
    while True:
        p = subprocess.run(["ip", "netns", "exec", netns, "cat", "/sys/class/net/%s/operstate" % dev],
                           capture_output=True, text=True, timeout=10)
        if p.stdout.strip() == "up":
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s in %s is %r, not up, after %.1fs" % (dev, netns, p.stdout.strip(), timeout))
        time.sleep(POLL_S)


# ---------------------------------------------------------------------------
# Topologies: where the server and the client are


@dataclasses.dataclass
class Place:
    netns: Optional[str]  # `ip netns` name; None: the test's own namespace
    addr: str             # the local address there


class Loopback:
    """Both ends in one namespace (None: the test's own), over 127.0.0.1 or ::1."""

    def __init__(self, family=4, netns=None):
        self.family = family
        ns = netns.name if isinstance(netns, Netns) else netns
        self.netns = [netns] if isinstance(netns, Netns) else []
        self.server = self.client = Place(ns, harness.loopback(family))

    def cut(self):
        raise NotImplementedError("loopback cannot be cut")

    def mend(self):
        pass


def netns_loopback(tag, family=4, **sysctls):
    """A factory of Loopback(family) in a namespace of its own, with
    net.ipv4 sysctls set there first: netns_loopback("fw1", tcp_orphan_retries=7)."""

    def make():
        ns = Netns(tag)
        for name, value in sysctls.items():
            ns.sysctl(name, value)
        return Loopback(family, ns)

    return make


class VethPair:
    """Two namespaces of their own joined by a veth pair: the server at
    10.200.0.1/24 in one, the client at 10.200.0.2/24 in the other (the
    addresses are private to the pair, each namespace has its own).

    cut() makes the client unreachable. how="addr" (the default) removes
    the client's address: the server's segments still cross the link and
    are dropped by the client's namespace (not a local address, forwarding
    off: no reset, no ICMP), and the server's sends all succeed, so it
    retransmits (timer "on") from the first one. how="link" takes the
    client's end down instead; the server's end then loses its carrier,
    and until the kernel's linkwatch has deactivated its queue (up to 1 s
    later) a send fails locally (veth: NET_XMIT_DROP): a FIN closed in that
    second is not sent and waits under the probe timer ("persist", window
    open: tcpleak's cannot_send), then is retransmitted - measured here,
    every time. Hence "addr" for a peer that is gone."""

    SERVER_ADDR, CLIENT_ADDR = "10.200.0.1", "10.200.0.2"
    SERVER_DEV, CLIENT_DEV = "tlk-srv", "tlk-cli"

    def __init__(self, tag="veth"):
        self.family = 4
        self.server_ns = Netns(tag + "-srv")
        self.client_ns = Netns(tag + "-cli")
        self.netns = [self.server_ns, self.client_ns]
        subprocess.run(["ip", "link", "add", self.SERVER_DEV, "netns", self.server_ns.name, "type", "veth",
                        "peer", "name", self.CLIENT_DEV, "netns", self.client_ns.name], check=True, timeout=10)
        self.server_ns.ip("addr", "add", self.SERVER_ADDR + "/24", "dev", self.SERVER_DEV)
        self.client_ns.ip("addr", "add", self.CLIENT_ADDR + "/24", "dev", self.CLIENT_DEV)
        self.server_ns.ip("link", "set", self.SERVER_DEV, "up")
        self.client_ns.ip("link", "set", self.CLIENT_DEV, "up")
        wait_link_up(self.server_ns.name, self.SERVER_DEV)
        wait_link_up(self.client_ns.name, self.CLIENT_DEV)
        self.server = Place(self.server_ns.name, self.SERVER_ADDR)
        self.client = Place(self.client_ns.name, self.CLIENT_ADDR)
        self.is_cut = False

    def cut(self, how="addr"):
        if how == "addr":
            self.client_ns.ip("addr", "del", self.CLIENT_ADDR + "/24", "dev", self.CLIENT_DEV)
        else:
            self.client_ns.ip("link", "set", self.CLIENT_DEV, "down")
        self.is_cut = how

    def mend(self):
        if self.is_cut and not self.client_ns.deleted:
            if self.is_cut == "addr":
                self.client_ns.ip("addr", "add", self.CLIENT_ADDR + "/24", "dev", self.CLIENT_DEV)
            else:
                self.client_ns.ip("link", "set", self.CLIENT_DEV, "up")
                wait_link_up(self.server_ns.name, self.SERVER_DEV)
            self.is_cut = False


# ---------------------------------------------------------------------------
# Scenarios


@dataclasses.dataclass
class End:
    """One end of a connection: its process, descriptor (None once closed:
    the socket is orphaned) and socket (cookie = tcpleak's "sock")."""
    peer: Peer
    comm: str
    fd: Optional[int]
    sock: int
    netns: int            # inode, as tcpleak's "netns"
    netns_name: Optional[str]
    family: int
    addr: str             # local
    port: int

    @property
    def pid(self):
        return self.peer.pid

    @property
    def endpoint(self):
        return (self.addr, self.port)

    @property
    def family_name(self):
        return "ipv4" if self.family == 4 else "ipv6"


@dataclasses.dataclass
class Scenario:
    name: str
    topology: object
    stuck: End                 # the socket in `state`
    other: End                 # the other end
    state: str                 # "FIN_WAIT1", ...
    other_state: str           # the other end's state when it was ready
    ss: SsSocket               # the stuck socket when the state was there
    other_ss: Optional[SsSocket]
    setup_s: float             # from nothing (namespaces included) to the state, seconds
    written: int = 0           # FIN_WAIT1: bytes the sender wrote
    listener_fd: Optional[int] = None

    @property
    def held(self):
        return self.stuck.fd is not None

    @property
    def netns(self):
        return self.topology.netns

    def sysctls(self):
        """The sysctls as they apply to the stuck socket (its namespace's)."""
        return sysctls_of(self.stuck.netns_name)

    def now(self, end=None):
        """The end's socket (default: the stuck one) as ss shows it now; None when gone."""
        end = end or self.stuck
        other = self.other if end is self.stuck else self.stuck
        found = ss_tuple(end.endpoint, other.endpoint, end.netns_name)
        return found[0] if found else None

    def wait(self, predicate, end=None, timeout=harness.DEFAULT_TIMEOUT, what="the state"):
        end = end or self.stuck
        other = self.other if end is self.stuck else self.stuck
        return wait_ss(end.endpoint, other.endpoint, predicate, end.netns_name, timeout, what)

    def wait_gone(self, timeout=harness.DEFAULT_TIMEOUT, end=None):
        """Until the end's socket (default: the stuck one) is gone, TIME_WAIT aside."""
        end = end or self.stuck
        other = self.other if end is self.stuck else self.stuck
        wait_ss_gone(end.endpoint, other.endpoint, end.netns_name, timeout)

    def cleanup(self):
        """Mends the links, resets both sockets, kills the processes, deletes the namespaces."""
        problems = []
        try:
            self.topology.mend()
        except Exception as e:
            problems.append("mending %r: %s" % (self.topology, e))
        for end, other in ((self.stuck, self.other), (self.other, self.stuck)):
            try:
                destroy(end.endpoint, other.endpoint, end.netns_name)
            except Exception as e:
                problems.append("ss -K: %s" % e)
        for peer in (self.stuck.peer, self.other.peer):
            problems.extend(peer.cleanup())
        for ns in self.topology.netns:
            problems.extend(ns.cleanup())
        return problems


@contextlib.contextmanager
def _scenario(topology_factory, build):
    """Runs build(topology) -> Scenario; cleans up on the way out, failure or not."""
    topology = None
    scenario = None
    peers = []
    try:
        t0 = time.monotonic()
        topology = topology_factory()
        scenario = build(topology, peers)
        scenario.setup_s = time.monotonic() - t0
        yield scenario
    finally:
        if scenario is not None:
            problems = scenario.cleanup()
        else:
            problems = []
            for p in peers:
                problems.extend(p.cleanup())
            for ns in (topology.netns if topology is not None else []):
                problems.extend(ns.cleanup())
        if problems:
            raise AssertionError("scenario cleanup: " + "; ".join(problems))


def _connect(topology, peers, server_comm, client_comm, listen_opts="", connect_opts=""):
    """A server and a client process, connected: (server, client, lfd, afd, cfd, sport, port)."""
    server = Peer(comm=server_comm, netns=topology.server.netns)
    peers.append(server)
    client = Peer(comm=client_comm, netns=topology.client.netns)
    peers.append(client)
    fam = topology.family
    lst = server.cmd(("listen %d %s 0 128 %s" % (fam, topology.server.addr, listen_opts)).strip())
    conn = client.cmd(("connect %d %s %d %s" % (fam, topology.server.addr, lst["port"], connect_opts)).strip())
    acc = server.accept(lst["fd"])
    assert acc["port"] == conn["sport"], "accepted %r, the client is %r" % (acc, conn)
    s_end = End(peer=server, comm=server_comm, fd=acc["fd"], sock=server.cookie(acc["fd"]),
                netns=netns_inode(server.pid), netns_name=topology.server.netns, family=fam,
                addr=topology.server.addr, port=lst["port"])
    c_end = End(peer=client, comm=client_comm, fd=conn["fd"], sock=client.cookie(conn["fd"]),
                netns=netns_inode(client.pid), netns_name=topology.client.netns, family=fam,
                addr=topology.client.addr, port=conn["sport"])
    return s_end, c_end, lst["fd"]


def _topology(topology, family):
    """A factory of the topology: None (loopback of `family` in the test's
    namespace), a factory (VethPair, a function), or a topology made already."""
    if topology is None:
        return lambda: Loopback(family)
    if callable(topology):
        return topology
    return lambda: topology


# Small buffers: the kernel doubles what is asked (and keeps at least 4608
# for SO_SNDBUF, 2304 for SO_RCVBUF); the window closes after a few KiB.
SMALL_SNDBUF = 4096
SMALL_RCVBUF = 4096


def fin_wait1_peer_not_reading(held=False, topology=None, family=4, sender_comm="stuck-sender",
                               reader_comm="stuck-reader", timeout=harness.DEFAULT_TIMEOUT):
    """FIN_WAIT1 behind a zero window. The reader (the client, SO_RCVBUF
    small before connect) never reads; the sender (the server's accepted
    socket, SO_SNDBUF small on the listener) writes without blocking until
    EAGAIN, then close()s (held=False: orphaned) or shutdown(SHUT_WR)s and
    keeps its descriptor (held=True). Ready when ss shows the sender in
    FIN_WAIT1 with the persist (zero-window probe) timer, the peer's window
    0 and bytes plus the FIN unsent (Send-Q). stuck = the sender, other =
    the reader (ESTABLISHED, its receive queue full)."""

    def build(topo, peers):
        sender, reader, lfd = _connect(topo, peers, sender_comm, reader_comm, "sndbuf=%d" % SMALL_SNDBUF,
                                       "rcvbuf=%d" % SMALL_RCVBUF)
        written = sender.peer.cmd("fill %d" % sender.fd)["n"]
        if held:
            sender.peer.cmd("shutdown %d wr" % sender.fd)
        else:
            sender.peer.close(sender.fd)
            sender.fd = None

        def ready(s):
            return (s.state == "FIN_WAIT1" and s.timer == "persist" and s.snd_wnd == 0 and s.send_q > 1
                    and s.orphaned == (not held))

        got = wait_ss(sender.endpoint, reader.endpoint, ready, sender.netns_name, timeout,
                      "FIN_WAIT1 with a zero window and the persist timer")
        other = wait_ss(reader.endpoint, sender.endpoint, lambda s: s.state == "ESTABLISHED" and s.recv_q > 0,
                        reader.netns_name, timeout, "the reader ESTABLISHED with unread bytes")
        return Scenario(name="fin_wait1_peer_not_reading", topology=topo, stuck=sender, other=reader,
                        state="FIN_WAIT1", other_state="ESTABLISHED", ss=got, other_ss=other,
                        setup_s=0.0, written=written, listener_fd=lfd)

    return _scenario(_topology(topology, family), build)


def half_closed(how="shutdown", topology=None, family=4, server_comm="stuck-server", client_comm="stuck-client",
                timeout=harness.DEFAULT_TIMEOUT):
    """The client half-closes, the server never closes. how="shutdown": the
    client calls shutdown(SHUT_WR) and keeps its descriptor (FIN_WAIT2
    held); how="close": it close()s (FIN_WAIT2 orphaned: the kernel's
    time-wait socket with substate FIN_WAIT2 when tcp_fin_timeout <= 60 s).
    Ready when the server has read the EOF and ss shows it in CLOSE_WAIT and
    the client in FIN_WAIT2. stuck = the client (FIN_WAIT2), other = the
    server (CLOSE_WAIT, held: the leak)."""
    if how not in ("shutdown", "close"):
        raise ValueError(how)

    def build(topo, peers):
        server, client, lfd = _connect(topo, peers, server_comm, client_comm)
        if how == "shutdown":
            client.peer.cmd("shutdown %d wr" % client.fd)
        else:
            client.peer.close(client.fd)
            client.fd = None
        server.peer.wait_eof(server.fd)
        srv = wait_ss(server.endpoint, client.endpoint, lambda s: s.state == "CLOSE_WAIT", server.netns_name,
                      timeout, "CLOSE_WAIT")
        cli = wait_ss(client.endpoint, server.endpoint,
                      lambda s: s.state == "FIN_WAIT2" and s.orphaned == (how == "close"), client.netns_name,
                      timeout, "FIN_WAIT2 %s" % ("orphaned" if how == "close" else "held"))
        return Scenario(name="half_closed_" + how, topology=topo, stuck=client, other=server, state="FIN_WAIT2",
                        other_state="CLOSE_WAIT", ss=cli, other_ss=srv, setup_s=0.0,
                        listener_fd=lfd)

    return _scenario(_topology(topology, family), build)


def fin_wait2_held(topology=None, family=4, **kw):
    """half_closed("shutdown"): client FIN_WAIT2 held, server CLOSE_WAIT."""
    return half_closed("shutdown", topology, family, **kw)


def fin_wait2_orphaned(fin_timeout=5, family=4, **kw):
    """half_closed("close") in a namespace of its own where
    net.ipv4.tcp_fin_timeout = fin_timeout: the client's orphaned FIN_WAIT2
    is dropped fin_timeout seconds after its close (Scenario.wait_gone)."""

    return half_closed("close", netns_loopback("fw2", family, tcp_fin_timeout=fin_timeout), family, **kw)


def last_ack_peer_gone(orphan_retries=None, server_comm="stuck-server", client_comm="stuck-client",
                       timeout=harness.DEFAULT_TIMEOUT):
    """LAST_ACK retransmitting to a peer that went away: a VethPair; the
    client closes, the server reads the EOF (CLOSE_WAIT); the client's
    address goes (VethPair.cut: the server's segments are dropped in the
    client's namespace, no reset, no ICMP); the server closes: its FIN is
    sent, never acknowledged, and retransmitted (RTO 200 ms, doubling). Ready when ss shows the server's
    orphaned socket in LAST_ACK with at least one retransmission.
    orphan_retries: net.ipv4.tcp_orphan_retries set in the server's
    namespace first (0 there means 8: the kernel resets the socket after
    that many retransmissions, about 100 s). stuck = the server, other = the
    client (its orphaned FIN_WAIT2, unreachable)."""

    def topology():
        topo = VethPair("lastack")
        if orphan_retries is not None:
            topo.server_ns.sysctl("tcp_orphan_retries", orphan_retries)
        return topo

    def build(topo, peers):
        server, client, lfd = _connect(topo, peers, server_comm, client_comm)
        client.peer.close(client.fd)
        client.fd = None
        server.peer.wait_eof(server.fd)
        wait_ss(server.endpoint, client.endpoint, lambda s: s.state == "CLOSE_WAIT", server.netns_name, timeout,
                "CLOSE_WAIT")
        cli = wait_ss(client.endpoint, server.endpoint, lambda s: s.state == "FIN_WAIT2", client.netns_name,
                      timeout, "the client's FIN_WAIT2")
        topo.cut()
        server.peer.close(server.fd)
        server.fd = None
        got = wait_ss(server.endpoint, client.endpoint,
                      lambda s: s.state == "LAST_ACK" and s.orphaned and s.timer == "on" and s.timer_count >= 1,
                      server.netns_name, timeout, "LAST_ACK retransmitting")
        return Scenario(name="last_ack_peer_gone", topology=topo, stuck=server, other=client, state="LAST_ACK",
                        other_state="FIN_WAIT2", ss=got, other_ss=cli, setup_s=0.0,
                        listener_fd=lfd)

    return _scenario(topology, build)
