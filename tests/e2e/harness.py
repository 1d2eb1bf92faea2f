# Over 500 lines: the one harness every e2e file shares (peers, runners, schema checks, waits).
"""Helpers for tcpleak's end-to-end tests: socket peers, a tcpleak runner,
schema validation of every JSON line, and waits on real readiness signals.

Environment:
  TCPLEAK_BIN     the tcpleak binary under test (required)
  TCPLEAK_SCHEMA  docs/tcpleak-events.schema.json (default: the one in this tree)

Everything started here registers itself; conftest.py stops it all at the end
of each test and attaches the output of every process to a failing test.
"""

import binascii
import contextlib
import datetime
import errno
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PEER_PY = os.path.join(HERE, "peer.py")
DEFAULT_SCHEMA = os.path.join(REPO, "docs", "tcpleak-events.schema.json")

# How long to wait for things that take milliseconds when all is well.
DEFAULT_TIMEOUT = 10.0
# BPF load + attach + the initial descriptor-table walk.
START_TIMEOUT = 30.0

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


class EnvironmentProblem(Exception):
    """The machine cannot run e2e tests (not root, no binary, ...): a failure, never a skip."""


# ---------------------------------------------------------------------------
# Environment


def environment_problem(need_tcpleak=True):
    """None when e2e tests can run here, else a message saying why not."""
    if os.geteuid() != 0:
        return ("tcpleak e2e tests need root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, "
                "CAP_SYS_ADMIN): run them as root, e.g. `sudo ctest -L e2e`; "
                "they fail rather than skip so that CI cannot pass without running them")
    if not need_tcpleak:
        return None
    path = os.environ.get("TCPLEAK_BIN")
    if not path:
        return "TCPLEAK_BIN is not set: point it at the tcpleak binary (ctest sets it)"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return "TCPLEAK_BIN=%s is not an executable file" % path
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "this kernel has no BTF (/sys/kernel/btf/vmlinux): tcpleak cannot run here"
    if not os.path.isfile(schema_path()):
        return "event schema not found: %s (set TCPLEAK_SCHEMA)" % schema_path()
    return None


def tcpleak_bin():
    path = os.environ.get("TCPLEAK_BIN")
    if not path:
        raise EnvironmentProblem("TCPLEAK_BIN is not set")
    return path


def churn_bin():
    """bench/'s connection churn, built beside tcpleak (TCPLEAK_CHURN overrides)."""
    path = os.environ.get("TCPLEAK_CHURN") or os.path.join(os.path.dirname(tcpleak_bin()), "bench",
                                                             "tcpleak-churn")
    if not os.access(path, os.X_OK):
        raise EnvironmentProblem("no churn generator at %s (build bench/, or set TCPLEAK_CHURN)" % path)
    return path


def schema_path():
    return os.environ.get("TCPLEAK_SCHEMA") or DEFAULT_SCHEMA


def run_schema_path():
    """docs/tcpleak-run-report.schema.json, next to the events schema."""
    return os.path.join(os.path.dirname(os.path.abspath(schema_path())), "tcpleak-run-report.schema.json")


_validators = {}  # schema path -> its validator
_validator_lock = threading.Lock()


def validator(path=None):
    """The validator of the JSON schema at path (default: the events schema), loaded once."""
    path = path or schema_path()
    with _validator_lock:
        if path not in _validators:
            from jsonschema import Draft202012Validator

            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
            _validators[path] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        return _validators[path]


def schema_errors(obj, path=None, whole="(record)"):
    """Schema violations of one parsed JSON document, as readable strings:
    an event record, or against the schema at path (run_schema_path() for
    run's report); `whole` names a violation of the document itself."""
    errors = []
    for e in sorted(validator(path).iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or whole
        errors.append("%s: %s" % (where, e.message))
    return errors


def check_time(value, what="time"):
    """An RFC 3339 UTC timestamp; returns it as an aware datetime."""
    assert isinstance(value, str) and TIME_RE.match(value), "%s is not RFC 3339 UTC: %r" % (what, value)
    text = value[:-1]
    if "." in text:  # fromisoformat wants at most 6 fractional digits
        head, frac = text.split(".")
        text = head + "." + (frac + "000000")[:6]
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)


def parse_json_line(raw, check_schema=True):
    """(record, None) for a valid NDJSON line, else (None, problem).
    check_schema=False: strict JSON and UTF-8 only (the schema check costs
    ~1 ms a line: the mass tests check a sample)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, "not valid UTF-8 (%s): %r" % (e, raw[:300])
    try:
        obj = json.loads(text)  # strict: raw control characters in strings are errors
    except ValueError as e:
        return None, "not JSON (%s): %r" % (e, raw[:300])
    if not isinstance(obj, dict):
        return None, "not a JSON object: %r" % raw[:300]
    errs = schema_errors(obj) if check_schema else []
    if errs:
        return None, "does not match the schema (%s): %s" % ("; ".join(errs[:5]), raw[:500])
    if "time" in obj:
        try:
            check_time(obj["time"])
        except AssertionError as e:
            return None, "%s: %r" % (e, raw[:300])
    return obj, None


# ---------------------------------------------------------------------------
# Processes

_live = []  # every Peer and Tcpleak started by the current test
_live_lock = threading.Lock()


def _register(thing):
    with _live_lock:
        _live.append(thing)


def live_processes():
    with _live_lock:
        return list(_live)


def cleanup_all():
    """Stops every process the test started. Returns problems found on the way."""
    with _live_lock:
        things = list(_live)
        _live.clear()
    problems = []
    for thing in reversed(things):
        try:
            problems.extend(thing.cleanup())
        except Exception as e:  # keep cleaning the rest
            problems.append("cleanup of %r failed: %s" % (thing, e))
    return problems


class LineReader:
    """Reads a pipe in a thread; keeps every line (bytes, without the newline)."""

    def __init__(self, pipe, name, on_line=None):
        self.pipe = pipe
        self.name = name
        self.lines = []
        self.eof = False
        self.on_line = on_line
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for raw in iter(self.pipe.readline, b""):
                line = raw[:-1] if raw.endswith(b"\n") else raw
                with self.cond:
                    self.lines.append(line)
                    if self.on_line:
                        self.on_line(line)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def wait(self, predicate, timeout):
        """Waits (under the lock) until predicate() is true or EOF; returns its last value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value or self.eof:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    return value
                self.cond.wait(left)

    def join(self, timeout):
        self.thread.join(timeout)

    def text(self, last=None):
        with self.cond:
            lines = self.lines if last is None else self.lines[-last:]
            return "\n".join(l.decode("utf-8", "backslashreplace") for l in lines)


def parse_reply(line):
    """'ok fd=3 port=4000 eof' -> {'fd': 3, 'port': 4000, 'eof': True}."""
    out = {}
    for word in line.split()[1:]:
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
        else:
            out[word] = True
    return out


class PeerError(AssertionError):
    pass


class Peer:
    """A peer.py process: p.cmd("listen 4 127.0.0.1 0") -> {'fd': 3, 'port': 41234}."""

    def __init__(self, netns=None, comm=None, timeout=DEFAULT_TIMEOUT, prefix=None):
        """prefix: argv run in front of the peer, e.g. [tcpleak, "run", "--"]: the
        peer is then that command's descendant, talking through its stdio;
        self.proc is the prefix's process (its exit status is exit()'s)."""
        argv = [sys.executable, PEER_PY]
        if comm is not None:
            argv += ["--comm", _comm_hex(comm)]
        if netns is not None:
            argv = ["ip", "netns", "exec", netns] + argv
        if prefix is not None:
            argv = list(prefix) + argv
        self.argv = argv
        self.netns = netns
        self.children = set()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True)
        _register(self)
        self.out = LineReader(self.proc.stdout, "peer-stdout")
        self.err = LineReader(self.proc.stderr, "peer-stderr")
        self._next = 0  # index of the next unread reply line
        first = self._read_line(timeout, "ready line")
        m = re.fullmatch(r"ready pid=(\d+)", first)
        if not m:
            raise PeerError("peer did not start: %r\n%s" % (first, self.err.text()))
        self.pid = int(m.group(1))

    def __repr__(self):
        return "Peer(pid=%s)" % getattr(self, "pid", "?")

    def _read_line(self, timeout, what):
        got = self.out.wait(lambda: len(self.out.lines) > self._next, timeout)
        if not got:
            state = "exited with %s" % self.proc.poll() if self.proc.poll() is not None else "still running"
            raise PeerError("peer %s: no %s within %.1fs (%s)\nstderr:\n%s"
                            % (getattr(self, "pid", "?"), what, timeout, state, self.err.text()))
        line = self.out.lines[self._next].decode("utf-8", "backslashreplace")
        self._next += 1
        return line

    def cmd(self, line, timeout=DEFAULT_TIMEOUT):
        """Sends one command and returns its reply as a dict; raises on 'err'."""
        self.send_line(line)
        reply = self._read_line(timeout, "reply to %r" % line)
        if reply.startswith("ok"):
            result = parse_reply(reply)
            if line.split()[0] in ("fork", "spawn"):
                self.children.add(result["pid"])
            elif line.split()[0] in ("kill-child", "exit-child"):
                self.children.discard(result["pid"])
            return result
        raise PeerError("peer %d: %r failed: %s" % (self.pid, line, reply))

    def send_line(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise PeerError("peer %s: cannot send %r (%s; exit status %s)\nstderr:\n%s"
                            % (getattr(self, "pid", "?"), line, e, self.proc.poll(), self.err.text()))

    # Convenience wrappers ------------------------------------------------

    def listen(self, family=4, addr=None, port=0, reuseport=False):
        return self.cmd("listen %d %s %d%s" % (family, addr or loopback(family), port,
                                                " 128 reuseport" if reuseport else ""))

    def connect(self, port, family=4, addr=None):
        return self.cmd("connect %d %s %d" % (family, addr or loopback(family), port))

    def accept(self, lfd):
        return self.cmd("accept %d" % lfd)

    def close(self, fd):
        return self.cmd("close %d" % fd)

    def cookie(self, fd):
        return self.cmd("cookie %d" % fd)["cookie"]

    def wait_eof(self, fd, timeout=DEFAULT_TIMEOUT):
        return self.cmd("wait-eof %d %g" % (fd, timeout), timeout=timeout + 5)

    def state(self, fd):
        return self.cmd("state %d" % fd)["state"]

    def set_comm(self, name):
        return self.cmd("comm %s" % _comm_hex(name))

    def exit(self, code=0, timeout=DEFAULT_TIMEOUT):
        """Makes the peer _exit(code) with everything open; returns its exit status."""
        self.send_line("exit %d" % code)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise PeerError("peer %d did not exit within %.1fs" % (self.pid, timeout))

    def cleanup(self):
        for child in list(self.children):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.children.clear()
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return ["peer %s did not die" % self.pid]
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        return []

    def report(self):
        err = self.err.text()
        return ("peer pid=%s argv=%s exit=%s\nstderr:\n%s"
                % (getattr(self, "pid", "?"), " ".join(self.argv), self.proc.poll(), err or "(empty)"))


LEAKER_PY = os.path.join(HERE, "leaker.py")


class Leaker:
    """A leaker.py process (and the processes it forks: a process group of its
    own, killed whole at the end), started and ready."""

    def __init__(self, *args, timeout=DEFAULT_TIMEOUT, netns=None, defer_ready=False):
        self.argv = [sys.executable, LEAKER_PY] + [str(a) for a in args]
        if netns is not None:
            self.argv = ["ip", "netns", "exec", netns] + self.argv
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
        _register(self)
        self.out = LineReader(self.proc.stdout, "leaker-stdout")
        self.err = LineReader(self.proc.stderr, "leaker-stderr")
        self.pid = self.port = None
        self.workers = []
        if not defer_ready:  # else: start many, then wait_ready() each
            self.wait_ready(timeout)

    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        if not self.out.wait(lambda: self.out.lines, timeout):
            raise AssertionError("leaker did not start:\n%s" % self.report())
        m = re.fullmatch(rb"ready pid=(\d+) port=(\d+)(?: workers=([\d,]+))?", self.out.lines[0])
        if not m:
            raise AssertionError("leaker: unexpected first line %r\n%s" % (self.out.lines[0], self.report()))
        self.pid, self.port = int(m.group(1)), int(m.group(2))
        self.workers = [int(w) for w in m.group(3).split(b",")] if m.group(3) else []

    def __repr__(self):
        return "Leaker(%s)" % " ".join(self.argv[2:])

    def wait_lines(self, regex, count, timeout=DEFAULT_TIMEOUT):
        """The first `count` stdout lines matching regex (bytes), as match objects."""
        pattern = re.compile(regex)

        def matches():
            return [m for m in (pattern.fullmatch(l) for l in self.out.lines) if m]

        got = self.out.wait(lambda: len(matches()) >= count, timeout)
        found = matches()
        if len(found) < count:
            raise AssertionError("leaker: %d of %d lines matching %r within %.1fs\n%s"
                                 % (len(found), count, regex, timeout, self.report()))
        return found[:count]

    def cleanup(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)
        self.out.join(5)
        self.err.join(5)
        return []

    def report(self):
        return "leaker argv=%s exit=%s\nstderr:\n%s" % (" ".join(self.argv), self.proc.poll(),
                                                         self.err.text() or "(empty)")


def wait_child(pid, timeout=DEFAULT_TIMEOUT):
    """The first child of process pid, once it has one (run's keeper, say)."""
    path = "/proc/%d/task/%d/children" % (pid, pid)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                children = f.read().split()
        except FileNotFoundError:
            children = []
        if children:
            return int(children[0])
        if time.monotonic() > deadline:
            raise AssertionError("process %d has no child after %.1fs" % (pid, timeout))
        time.sleep(0.01)


def wait_command_runs(tcpleak_pid, timeout=DEFAULT_TIMEOUT):
    """The pid of run's COMMAND once it runs: past the gate, so tcpleak is
    attached. COMMAND is the child of tcpleak's keeper, forked before
    anything is loaded; it runs once it has exec'd."""
    keeper = wait_child(tcpleak_pid, timeout)
    command = wait_child(keeper, timeout)
    gated = os.readlink("/proc/%d/exe" % tcpleak_pid)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.readlink("/proc/%d/exe" % command) != gated:
                return command
        except FileNotFoundError:
            return command  # ran, and is gone already
        if time.monotonic() > deadline:
            raise AssertionError("run's COMMAND (pid %d) has not started after %.1fs" % (command, timeout))
        time.sleep(0.01)


def _comm_hex(name):
    if isinstance(name, str):
        name = name.encode("utf-8")
    return binascii.hexlify(name).decode()


def loopback(family):
    return "127.0.0.1" if family == 4 else "::1"


# Runs tcpleak where tracefs shows no syscall events (an empty tmpfs on
# /sys/kernel/tracing, in a private mount namespace): it must fall back to its
# tp_btf sys_enter/sys_exit hooks. Used as Tcpleak(..., wrapper=NO_TRACEFS).
NO_TRACEFS = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
              "mount -t tmpfs tcpleak-e2e /sys/kernel/tracing && mkdir /sys/kernel/tracing/events && "
              "mount -t tmpfs tcpleak-e2e /sys/kernel/debug && exec \"$0\" \"$@\""]
FALLBACK_HOOKS_LINE = b"tcpleak: syscall hooks: tp_btf sys_enter/sys_exit"


# Runs tcpleak where tracefs is not mounted (unmounted in a private mount
# namespace, whatever the machine has): it must mount it in a namespace of
# its own to attach syscalls:* tracepoints, and come back. Prints the mount
# namespace tcpleak starts in first: "started in mnt:[N]".
TRACEFS_UNMOUNTED = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                     "for d in /sys/kernel/debug/tracing /sys/kernel/tracing /sys/kernel/debug; do "
                     "umount \"$d\" 2>/dev/null; done; echo \"started in $(readlink /proc/self/ns/mnt)\" >&2; "
                     "exec \"$0\" \"$@\""]
CLASSIC_HOOKS_LINE = b"tcpleak: syscall hooks: syscalls:* tracepoints"

# setns(2) fails with EPERM for the command and everything it starts: a
# seccomp filter installed with ctypes (root: no need for no_new_privs).
_NO_SETNS = r"""
import ctypes, os, platform, struct, sys
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[platform.machine()]
NR_SETNS = {"x86_64": 308, "aarch64": 268}[platform.machine()]
def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)
prog = b"".join([
    insn(0x20, 0, 0, 4),                 # A = arch
    insn(0x15, 0, 3, AUDIT_ARCH),        # if A != arch: allow
    insn(0x20, 0, 0, 0),                 # A = syscall number
    insn(0x15, 0, 1, NR_SETNS),          # if A != setns: allow
    insn(0x06, 0, 0, 0x00050000 | 1),    # SECCOMP_RET_ERRNO | EPERM
    insn(0x06, 0, 0, 0x7FFF0000),        # SECCOMP_RET_ALLOW
])
buf = ctypes.create_string_buffer(prog)
fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    sys.exit("cannot install the seccomp filter: %s" % os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
"""
NO_SETNS = [sys.executable, "-c", _NO_SETNS]


def wait_fallback_hooks_line(tl):
    """-v says which syscall hooks run: the fallback's, under NO_TRACEFS."""
    if not tl.err.wait(lambda: any(l.startswith(FALLBACK_HOOKS_LINE) for l in tl.err.lines), START_TIMEOUT):
        tl._fail("no %r line on stderr" % FALLBACK_HOOKS_LINE)


class Tcpleak:
    """Runs `$TCPLEAK_BIN args...` and collects its output.

    In JSON mode (--json among args) every stdout line is parsed and validated
    against the schema as it arrives; a line that is not valid is recorded in
    self.problems and fails the test (at the next wait, at stop(), and at
    teardown at the latest).
    """

    def __init__(self, args, json_mode=None, env=None, pass_fds=(), stdin=subprocess.DEVNULL, wrapper=(),
                 schema_sample=1):
        """schema_sample N: every line is parsed strictly, and every Nth leak
        or transition record (and every other record) checked against the
        schema."""
        self.args = list(args)
        self.schema_sample = schema_sample
        self.argv = list(wrapper) + [tcpleak_bin()] + self.args
        self.json = ("--json" in self.args) if json_mode is None else json_mode
        self.records_ = []
        self.problems = []
        self.returncode = None
        self.proc = subprocess.Popen(self.argv, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, pass_fds=pass_fds)
        _register(self)
        self.out = LineReader(self.proc.stdout, "tcpleak-stdout", self._on_stdout if self.json else None)
        self.err = LineReader(self.proc.stderr, "tcpleak-stderr")

    def __repr__(self):
        return "Tcpleak(%s)" % " ".join(self.args)

    def _on_stdout(self, raw):  # called with self.out.cond held
        bulk = raw.startswith((b'{"type":"leak",', b'{"type":"transition",'))
        sampled = self.schema_sample == 1 or not bulk or len(self.out.lines) % self.schema_sample == 0
        obj, problem = parse_json_line(raw, check_schema=sampled)
        if problem:
            self.problems.append("stdout line %d %s" % (len(self.out.lines), problem))
        else:
            self.records_.append(obj)

    # Waiting --------------------------------------------------------------

    def wait_started(self, timeout=START_TIMEOUT):
        """Waits until BPF is attached: the start record (JSON) or the 'Tracing' line (text)."""
        if self.json:
            got = self.out.wait(lambda: len(self.out.lines) > 0, timeout)
            if not got:
                self._fail("no start record within %.0fs" % timeout)
            self.assert_valid()
            first = self.records_[0]
            if first.get("type") != "start":
                self._fail("first record is not the start record: %r" % first)
            return first
        got = self.err.wait(lambda: self._tracing_line(), timeout)
        if not got:
            self._fail("no 'Tracing TCP state transitions' line on stderr within %.0fs" % timeout)
        return got

    def _tracing_line(self):
        for line in self.err.lines:
            if line.startswith(b"Tracing TCP state transitions"):
                return line.decode("utf-8", "replace")
        return None

    def wait_for(self, predicate, timeout=DEFAULT_TIMEOUT, what=None):
        """The first JSON record for which predicate(record) is true, waiting for it."""
        found = []
        seen = [0]  # records already looked at: each is tested once

        def check():
            if self.problems:
                return True
            while seen[0] < len(self.records_):
                r = self.records_[seen[0]]
                seen[0] += 1
                if predicate(r):
                    found.append(r)
                    return True
            return False

        self.out.wait(check, timeout)
        self.assert_valid()
        if not found:
            self._fail("no record %s within %.1fs" % (what or "matching the predicate", timeout))
        return found[0]

    def wait_transition(self, sock=None, old=None, new=None, timeout=DEFAULT_TIMEOUT, **fields):
        """The first transition of socket `sock` from `old` to `new` (None: any)."""
        def pred(r):
            if r.get("type") != "transition":
                return False
            if sock is not None and r.get("sock") != sock:
                return False
            if old is not None and r.get("old_state") != old:
                return False
            if new is not None and r.get("new_state") != new:
                return False
            return all(r.get(k) == v for k, v in fields.items())

        desc = "transition sock=%s %s->%s %s" % (sock, old or "*", new or "*", fields or "")
        return self.wait_for(pred, timeout, desc)

    def wait_stdout_line(self, predicate, timeout=DEFAULT_TIMEOUT, what=None):
        """The first raw stdout line (bytes) for which predicate(line) is true (text mode)."""
        found = []

        def check():
            for line in self.out.lines:
                if predicate(line):
                    found.append(line)
                    return True
            return False

        self.out.wait(check, timeout)
        if not found:
            self._fail("no stdout line %s within %.1fs" % (what or "matching the predicate", timeout))
        return found[0]

    # Results ---------------------------------------------------------------

    def records(self, type=None):
        with self.out.cond:
            recs = list(self.records_)
        return [r for r in recs if type is None or r.get("type") == type]

    def transitions(self, predicate=None):
        return [r for r in self.records("transition") if predicate is None or predicate(r)]

    def stdout_lines(self):
        with self.out.cond:
            return list(self.out.lines)

    def stderr_lines(self):
        with self.err.cond:
            return list(self.err.lines)

    def stderr_text(self):
        return self.err.text()

    def assert_valid(self):
        with self.out.cond:
            problems = list(self.problems)
        if problems:
            self._fail("invalid JSON output:\n  " + "\n  ".join(problems[:10]))

    # Ending ----------------------------------------------------------------

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        """Waits for the process to end and its output to be read; returns the exit code."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            self._fail("did not exit within %.1fs (killed)" % timeout)
        self.out.join(5)
        self.err.join(5)
        return self.returncode

    def stop(self, sig=signal.SIGINT, timeout=DEFAULT_TIMEOUT):
        """Sends sig (SIGINT), waits for the exit; returns the exit code."""
        self.send_signal(sig)
        return self.wait_exit(timeout)

    def summary(self):
        sums = self.records("summary")
        if len(sums) != 1:
            self._fail("expected exactly one summary record, got %d" % len(sums))
        return sums[0]

    def cleanup(self):
        problems = []
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdin is not None:  # stdin=subprocess.PIPE
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self.out.join(5)
        self.err.join(5)
        if self.json and self.problems:
            problems.append("%r wrote invalid JSON:\n  %s" % (self, "\n  ".join(self.problems[:10])))
        return problems

    def report(self):
        return ("tcpleak %s (pid %d, exit %s)\n--- stderr ---\n%s\n--- stdout (last 60 lines) ---\n%s"
                % (" ".join(self.args), self.proc.pid, self.proc.poll(),
                   self.err.text() or "(empty)", self.out.text(last=60) or "(empty)"))

    def _fail(self, message):
        raise AssertionError("%r: %s\n%s" % (self, message, self.report()))


# ---------------------------------------------------------------------------
# File systems


@contextlib.contextmanager
def full_tmpfs(directory):
    """A 64 KiB tmpfs mounted on `directory` (created), filled up: every
    write there fails with ENOSPC. Unmounted at the end."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tcpleak-e2e-full", str(directory)],
                   check=True)
    try:
        with open(os.path.join(directory, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


@contextlib.contextmanager
def world_executable_tcpleak():
    """A copy of tcpleak that any user can execute (the build tree may not be
    reachable for them); removed at the end."""
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="tcpleak-e2e-")
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "tcpleak")
        shutil.copy2(tcpleak_bin(), path)
        os.chmod(path, 0o755)
        yield path
    finally:
        shutil.rmtree(d)


# ---------------------------------------------------------------------------
# Sockets


def sockets_on_port(port, include_time_wait=False):
    """Hashed TCP sockets (this netns) with `port` as local or remote port, from /proc/net/tcp{,6}."""
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, st = fields[1], fields[2], int(fields[3], 16)
            if st == 6 and not include_time_wait:  # TIME_WAIT: no socket left to transition
                continue
            lport = int(local.rsplit(":", 1)[1], 16)
            rport = int(remote.rsplit(":", 1)[1], 16)
            if port in (lport, rport):
                found.append((path, local, remote, st))
    return found


def wait_port_quiet(port, timeout=DEFAULT_TIMEOUT):
    """Waits until no socket but TIME_WAIT uses `port`: every transition on it has fired.

    There is no event to wait on for a connection whose transitions are
    filtered out, so this polls the kernel's socket tables (every 10 ms).
    """
    deadline = time.monotonic() + timeout
    while True:
        left = sockets_on_port(port)
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError("sockets still open on port %d after %.1fs: %r" % (port, timeout, left))
        time.sleep(0.01)


@dataclass
class Connection:
    """One loopback connection between a server peer and a client peer."""
    server: Peer
    client: Peer
    family: int
    port: int           # the listener's port
    lfd: int
    listener_sock: int  # cookies (tcpleak's "sock")
    cfd: int
    sport: int          # the client's port
    client_sock: int
    afd: int
    server_sock: int


def open_connection(server, client, family=4, listener=None):
    """listen (unless listener=(lfd, port) given), connect, accept; returns a Connection."""
    if listener is None:
        r = server.listen(family)
        lfd, port = r["fd"], r["port"]
    else:
        lfd, port = listener
    c = client.connect(port, family)
    a = server.accept(lfd)
    assert a["port"] == c["sport"], "accepted %r but the client is %r" % (a, c)
    return Connection(server=server, client=client, family=family, port=port, lfd=lfd,
                      listener_sock=server.cookie(lfd), cfd=c["fd"], sport=c["sport"],
                      client_sock=client.cookie(c["fd"]), afd=a["fd"],
                      server_sock=server.cookie(a["fd"]))


def marker(tl, peer, family=4, port=0):
    """Opens and closes a listener in `peer` and waits for its LISTEN->CLOSE record.

    Records come through one ordered ring buffer: once the marker is read,
    everything that happened before it has been read too.
    """
    r = peer.listen(family, port=port)
    sock = peer.cookie(r["fd"])
    peer.close(r["fd"])
    return tl.wait_transition(sock=sock, old="LISTEN", new="CLOSE")


def by_sock(records):
    """{sock: [(old_state, new_state), ...]} in stream order."""
    out = {}
    for r in records:
        if r.get("type") == "transition":
            out.setdefault(r["sock"], []).append((r["old_state"], r["new_state"]))
    return out


def on_port(port):
    """Predicate: a transition with `port` as source or destination port."""
    return lambda r: r.get("type") == "transition" and port in (r.get("sport"), r.get("dport"))


def fmt_records(records):
    return "\n".join(json.dumps(r, sort_keys=True) for r in records)


def check_reported_once(records):
    """At most one leak and one leak_resolved record among a socket's records."""
    kinds = [r["type"] for r in records]
    assert kinds.count("leak") <= 1 and kinds.count("leak_resolved") <= 1, \
        "socket reported more than once:\n%s" % fmt_records(records)
    return records
