"""What the agent's end-to-end test runs against: a kubepods-like cgroup with
a matching kubelet log directory, and a real Prometheus server on loopback.
Each is registered with the harness, so the test's teardown removes it
whatever happened (harness.cleanup_all)."""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import json

import harness


def cgroup2_mount():
    """The cgroup2 mount: /sys/fs/cgroup on v2-only hosts, /sys/fs/cgroup/unified on hybrid ones."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                return fields[4]
    raise AssertionError("no cgroup2 mount in /proc/self/mountinfo")


class FakePod:
    """A cgroup as the kubelet's systemd driver and containerd name them,
    <cgroup2>/<private>/kubepods.slice/kubepods-besteffort.slice/
    kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope, nested under
    a private top cgroup so no kubelet and no concurrent test sees it; and
    <root>/pods/<namespace>_<pod>_<uid>/<container>/0.log with its
    <root>/containers/<pod>_<namespace>_<container>-<id>.log link."""

    def __init__(self, namespace="shop", pod="web-0", container="server"):
        self.namespace, self.pod, self.container = namespace, pod, container
        self.uid = "%s-%s-%s-%s-%s" % tuple(secrets.token_hex(n) for n in (4, 2, 2, 2, 6))
        self.container_id = secrets.token_hex(32)
        self.root = tempfile.mkdtemp(prefix="tcpleak-agent-e2e.")
        self.pods_dir = os.path.join(self.root, "pods")
        self.mount = cgroup2_mount()
        self.top = os.path.join(self.mount, "tcpleak-e2e-" + secrets.token_hex(4))
        pod_slice = "kubepods-besteffort-pod%s.slice" % self.uid.replace("-", "_")
        self.cgroups = [self.top]
        for part in ("kubepods.slice", "kubepods-besteffort.slice", pod_slice,
                     "cri-containerd-%s.scope" % self.container_id):
            self.cgroups.append(os.path.join(self.cgroups[-1], part))
        harness._register(self)
        for path in self.cgroups:
            os.mkdir(path)
        self._write_log_dirs()

    def _write_log_dirs(self):
        pod_dir = os.path.join(self.pods_dir, "%s_%s_%s" % (self.namespace, self.pod, self.uid))
        os.makedirs(os.path.join(pod_dir, self.container))
        log = os.path.join(pod_dir, self.container, "0.log")
        open(log, "w").close()
        containers = os.path.join(self.root, "containers")
        os.mkdir(containers)
        os.symlink(log, os.path.join(containers, "%s_%s_%s-%s.log" % (self.pod, self.namespace, self.container,
                                                                      self.container_id)))

    def enter(self, pid):
        with open(os.path.join(self.cgroups[-1], "cgroup.procs"), "w") as f:
            f.write(str(pid))
        self.pids = getattr(self, "pids", []) + [pid]

    def __repr__(self):
        return "FakePod(%s)" % self.cgroups[-1]

    def report(self):
        return "cgroup %s, pods dir %s" % (self.cgroups[-1], self.pods_dir)

    def cleanup(self):
        problems = []
        for pid in getattr(self, "pids", []):  # back to the root, in case it outlives the test
            try:
                with open(os.path.join(self.mount, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError:
                pass  # already gone
        for path in reversed(self.cgroups):
            for _ in range(50):  # a process that just exited leaves its cgroup a moment later
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                problems.append("could not remove cgroup %s" % path)
        shutil.rmtree(self.root, ignore_errors=True)
        return problems


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, reply.read().decode()


class Prometheus:
    """Debian's prometheus on 127.0.0.1, scraping one target every second."""

    def __init__(self, target, job="tcpleak"):
        self.dir = tempfile.mkdtemp(prefix="tcpleak-prometheus.")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n"
                    % (job, target))
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        harness._register(self)
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited: %s" % self.log())
            try:
                if http_get(self.url + "/-/ready", 2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus not ready within %ds: %s" % (timeout, self.log()))

    def query(self, expr):
        """The instant vector of expr: [(labels, value), ...]."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        body = json.loads(http_get(url)[1])
        assert body["status"] == "success", body
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def wait_value(self, expr, want, timeout=60):
        """Polls expr until it is one sample equal to want; returns the samples."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.query(expr)
            if len(got) == 1 and got[0][1] == want:
                return got
            time.sleep(0.5)
        raise AssertionError("prometheus: %s is %r, not %r, after %ds (up: %r, scrape_duration_seconds: %r)"
                             % (expr, got, want, timeout, self.query("up"), self.query("scrape_duration_seconds")))

    def log(self):
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()[-2000:]

    def __repr__(self):
        return "Prometheus(%s)" % self.url

    def report(self):
        return self.log() or "(empty log)"

    def cleanup(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
        return []
