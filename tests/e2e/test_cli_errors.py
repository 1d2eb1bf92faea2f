"""tcpleak's command line: usage errors, missing privileges, missing BTF, help."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

import harness

CRASH_SIGNS = ("Traceback", "terminate called", "Segmentation", "Aborted", "core dumped", "AddressSanitizer")


def run(args, timeout=30, env=None, prefix=()):
    """Runs tcpleak to completion: (exit code, stdout, stderr) as text."""
    argv = list(prefix) + [harness.tcpleak_bin()] + list(args)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail("%s did not exit within %ds; stderr so far: %r" % (" ".join(argv), timeout, e.stderr))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for sign in CRASH_SIGNS:
        assert sign not in err, "%s crashed:\n%s" % (" ".join(argv), err)
    return p.returncode, out, err


HINT_RE = re.compile(r"^Run 'tcpleak( \w+)? --help' for usage\.$")


def error_message(args, err):
    """The one-line error of a usage error; a "Run 'tcpleak --help' ..." hint may follow it."""
    lines = [l for l in err.splitlines() if l.strip()]
    what = "tcpleak " + " ".join(args)
    if len(lines) == 2 and HINT_RE.match(lines[1]):
        lines = lines[:1]
    assert len(lines) == 1, "%s: expected a one-line error (and at most a --help hint), got:\n%s" % (what, err)
    assert lines[0].startswith("tcpleak"), "%s: the error does not say who speaks: %r" % (what, lines[0])
    raw = [c for c in lines[0] if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or "\u202a" <= c <= "\u202e"
           or "\u2066" <= c <= "\u2069" or c in "\u2028\u2029\ufffd"]
    assert not raw, "%s: raw control characters (or broken UTF-8) in the error: %r" % (what, lines[0])
    return lines[0]


@pytest.mark.parametrize("args, token", [
    (["trace", "-p", "abc"], "abc"),
    (["trace", "--port", "70000"], "70000"),
    (["trace", "--duration", "-3"], "-3"),
    (["trace", "--no-such-option"], "--no-such-option"),
    (["trace", "--state", "NOT_A_STATE"], "NOT_A_STATE"),
    (["trace", "--port", "0"], "0"),
    (["trace", "-4", "-6"], None),
    (["bogus"], "bogus"),
    ([], None),
    (["trace", "-p", "1\n2"], "-p $'1\\n2'"),
    (["trace", "--state", "\x1b[2J\u202e"], "$'\\e[2J\\u202e'"),
    (["trace", "x\ny"], "$'x\\ny'"),
    (["--version", "extra"], "extra"),
    (["trace", "--json=x"], "--json=x"),
], ids=["pid-abc", "port-70000", "duration-negative", "unknown-option", "bad-state", "port-0",
        "ipv4-and-ipv6", "unknown-command", "no-subcommand", "newline-in-value", "escapes-in-value",
        "newline-in-argument", "version-extra", "flag-with-value"])
def test_usage_error_exits_2_with_one_line(args, token):
    rc, out, err = run(args)
    assert rc == 2, "tcpleak %s: exit %d, expected 2 (usage error)\nstderr:\n%s" % (" ".join(args), rc, err)
    message = error_message(args, err)
    if token is not None:
        assert token in message, "the error does not name %r: %s" % (token, message)
    assert out == "", "usage error wrote to stdout: %r" % out


def test_comm_hint_is_what_the_kernel_keeps():
    """-c with a name longer than 15 bytes whose cut splits a character: the
    error is valid UTF-8, and its hint, retyped in bash, is exactly the comm
    the kernel gives a process of that name (15 bytes, the last one half of
    an é)."""
    name = "\u00e9" * 9  # 18 bytes
    p = subprocess.run([harness.tcpleak_bin(), "trace", "-c", name], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert p.returncode == 2, p
    err = p.stderr.decode("utf-8")  # strict: a split character would raise here
    m = re.search(r"\(use -c (.*)\)$", err.splitlines()[0])
    assert m, err
    retyped = subprocess.run(["bash", "-c", "printf %s " + m.group(1)], capture_output=True, check=True).stdout
    namer = subprocess.run([sys.executable, "-c",
                            "import ctypes, sys; ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0); "
                            "sys.stdout.buffer.write(open('/proc/self/comm', 'rb').read().rstrip(b'\\n'))", name],
                           capture_output=True, check=True).stdout
    assert len(namer) == 15 and retyped == namer, (retyped, namer, err)


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    pytest.fail("no free pid")


def test_nonexistent_pid_exits_1_naming_it():
    pid = unused_pid()
    rc, out, err = run(["trace", "-p", str(pid)])
    assert rc == 1, "exit %d, expected 1\nstderr:\n%s" % (rc, err)
    assert str(pid) in err, "the error does not name pid %d:\n%s" % (pid, err)
    assert out == "", "nothing should be traced: %r" % out


@pytest.mark.parametrize("command", ["trace", "leaks"])
def test_thread_id_exits_1_naming_its_process(command):
    code = ("import threading, sys\n"
            "t = threading.Thread(target=sys.stdin.read); t.start()\n"
            "print(t.native_id, flush=True); t.join()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        tid = int(proc.stdout.readline())  # the thread is running
        rc, out, err = run([command, "-p", str(tid)])
    finally:
        proc.stdin.close()  # ends the thread, then the process
        proc.wait(10)
    assert rc == 1, "exit %d, expected 1\nstderr:\n%s" % (rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(tid) in lines[0] and "-p %d" % proc.pid in lines[0], err
    assert out == ""


@pytest.mark.parametrize("args", [["trace", "--json"], ["leaks", "--json"], ["trace"]],
                         ids=["trace-json", "leaks-json", "trace-text"])
@pytest.mark.parametrize("where", ["dev-full", "full-tmpfs"])
def test_full_stdout_is_a_one_line_error_naming_it(tmp_path, args, where):
    """Standard output on a full disk: "cannot write standard output: No
    space left on device", exit 1; never "internal error"."""
    def run_into(path):
        with open(path, "wb") as out:
            p = subprocess.run([harness.tcpleak_bin()] + args + ["--duration", "10s"], stdin=subprocess.DEVNULL,
                               stdout=out, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    if where == "dev-full":
        rc, err = run_into("/dev/full")
    else:
        with harness.full_tmpfs(tmp_path / "full") as full:
            rc, err = run_into(os.path.join(full, "out"))
    assert rc == 1, "exit %d\n%s" % (rc, err)
    assert "internal error" not in err, err
    assert err.splitlines()[-1] == "tcpleak: cannot write standard output: No space left on device", err


@pytest.fixture
def world_executable_binary():
    """A copy of tcpleak that an unprivileged user can execute."""
    d = tempfile.mkdtemp(prefix="tcpleak-e2e-")
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "tcpleak")
        shutil.copy2(harness.tcpleak_bin(), path)
        os.chmod(path, 0o755)
        yield path
    finally:
        shutil.rmtree(d)


def test_unprivileged_exits_1_naming_capabilities_and_sudo(world_executable_binary):
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            world_executable_binary, "trace"]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd="/")
    err = p.stderr.decode("utf-8", "replace")
    for sign in CRASH_SIGNS:
        assert sign not in err, err
    assert p.returncode == 1, "exit %d as nobody, expected 1\nstderr:\n%s" % (p.returncode, err)
    assert "CAP_BPF" in err, "the error does not name CAP_BPF:\n%s" % err
    assert "CAP_PERFMON" in err, "the error does not name CAP_PERFMON:\n%s" % err
    assert "sudo" in err, "the error does not suggest sudo:\n%s" % err
    assert p.stdout == b"", p.stdout


def test_no_btf_exits_1_naming_btf():
    env = dict(os.environ)
    script = 'mount --bind /dev/null /sys/kernel/btf/vmlinux && exec "$TCPLEAK_BIN" trace'
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=env)
    err = p.stderr.decode("utf-8", "replace")
    for sign in CRASH_SIGNS:
        assert sign not in err, err
    assert p.returncode == 1, "exit %d without BTF, expected 1\nstderr:\n%s" % (p.returncode, err)
    assert "BTF" in err, "the error does not mention BTF:\n%s" % err
    assert p.stdout == b"", p.stdout


def test_help_exits_0():
    rc, out, err = run(["--help"])
    assert rc == 0, err
    for word in ("trace", "leaks", "run"):
        assert word in out, "--help does not mention the %s command:\n%s" % (word, out)


def test_trace_help_lists_its_options():
    rc, out, err = run(["trace", "--help"])
    assert rc == 0, err
    for opt in ("-p", "-c", "--port", "-4", "-6", "--state", "--json", "--duration", "-v"):
        assert opt in out, "trace --help does not list %s:\n%s" % (opt, out)


def test_help_needs_no_privileges(world_executable_binary):
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                        world_executable_binary, "trace", "--help"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, cwd="/")
    assert p.returncode == 0, p.stderr
    assert b"--json" in p.stdout
