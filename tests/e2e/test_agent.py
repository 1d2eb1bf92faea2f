"""End-to-end tests of `tcpleak agent`: the real binary scraped by a real
Prometheus server (Debian's prometheus) on loopback every second, a server
process placed in a kubepods-like cgroup with a matching kubelet log
directory under a test --pods-dir (agent_env.py), hostile HTTP clients
(hostile_http.py), and the --textfile and NDJSON outputs.

Foreign sockets and processes (other tests run on the machine at the same
time) are filtered out by the fake pod's own labels. Everything is awaited
on a readiness signal: the agent's "serving" line, Prometheus' /-/ready, a
peer's reply, a query's answer.
"""

import os
import re
import signal
import subprocess
import time

import agent_env
import harness
import hostile_http
from harness import Peer, Tcpleak

SERVER_COMM = "pod-server"
LEAKS = 3


def start_agent(*extra):
    agent = Tcpleak(["agent", "--listen", "127.0.0.1:0", "--interval", "1s", "--threshold", "1s", "--json"]
                    + list(extra))
    agent.wait_started()
    pattern = re.compile(rb"tcpleak agent: serving http://127\.0\.0\.1:(\d+)/metrics")
    if not agent.err.wait(lambda: any(pattern.fullmatch(l) for l in agent.err.lines), harness.START_TIMEOUT):
        raise AssertionError("no 'serving' line:\n" + agent.stderr_text())
    port = int(next(pattern.fullmatch(l) for l in agent.err.lines if pattern.fullmatch(l)).group(1))
    return agent, port


def scrape(port):
    status, body = agent_env.http_get("http://127.0.0.1:%d/metrics" % port)
    assert status == 200
    return body


def leak_in_pod(peer, count):
    """count server sockets of peer in CLOSE_WAIT: accepted, their clients closed."""
    listener = peer.listen()
    servers = []
    for _ in range(count):
        client = peer.connect(listener["port"])["fd"]
        servers.append(peer.accept(listener["fd"])["fd"])
        peer.close(client)
    for fd in servers:
        assert peer.state(fd) == "CLOSE_WAIT"
    return servers


def pod_records(agent, kind, count, pod="web-0"):
    """The first count records of that kind naming the pod (the machine's other leaks are not ours)."""
    seen = []

    def enough(record):
        if record["type"] == kind and record.get("pod") == pod:
            seen.append(record)
        return len(seen) >= count

    agent.wait_for(enough, timeout=30, what="%d %s records of pod %s" % (count, kind, pod))
    return seen


def wait_textfile_matches_scrape(path, port, tries=10):
    """Right after the agent replaces the textfile, a scrape shows the same series."""
    last = None
    for _ in range(tries):
        before = os.stat(path).st_mtime_ns
        deadline = time.monotonic() + 5
        while os.stat(path).st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.05)
        body = scrape(port)
        with open(path) as f:
            last = (f.read(), body)
        if last[0] == last[1]:
            return
    raise AssertionError("textfile and scrape differ after %d tries:\n--- textfile\n%s\n--- scrape\n%s"
                         % (tries, last[0][:3000], last[1][:3000]))


def test_pod_leak_reaches_prometheus_with_pod_and_namespace():
    pod = agent_env.FakePod(namespace="shop", pod="web-0", container="server")
    peer = Peer(comm=SERVER_COMM)
    pod.enter(peer.pid)
    textfile = os.path.join(pod.root, "tcpleak.prom")
    agent, port = start_agent("--pods-dir", pod.pods_dir, "--textfile", textfile)
    prometheus = agent_env.Prometheus("127.0.0.1:%d" % port)
    prometheus.wait_value('up{job="tcpleak"}', 1)

    servers = leak_in_pod(peer, LEAKS)
    who = 'pod="web-0",namespace="shop"'
    prometheus.wait_value("sum(tcpleak_close_wait_leaked_sockets{%s})" % who, LEAKS)
    series = prometheus.query("tcpleak_close_wait_leaked_sockets{%s}" % who)
    assert len(series) == 1, series
    labels = series[0][0]
    assert labels["comm"] == SERVER_COMM and labels["container"] == "server", labels
    assert labels["verdict"] == "held", labels  # default mode: no release hook, verdicts from holders
    prometheus.wait_value('sum(tcpleak_sockets{state="close_wait",%s})' % who, LEAKS)
    leaks = pod_records(agent, "leak", LEAKS)
    for record in leaks:
        assert record["namespace"] == "shop" and record["container"] == "server", record
        assert record["pod_uid"] == pod.uid and record["container_id"] == pod.container_id, record
        assert record["cgroup"].endswith("cri-containerd-%s.scope" % pod.container_id), record
        assert record["pid"] == peer.pid

    body = scrape(port)
    check = subprocess.run(["promtool", "check", "metrics"], input=body.encode(), capture_output=True)
    assert check.returncode == 0 and not check.stdout and not check.stderr, check
    wait_textfile_matches_scrape(textfile, port)

    for fd in servers:
        peer.close(fd)
    prometheus.wait_value("sum(tcpleak_close_wait_leaked_sockets{%s}) or vector(0)" % who, 0)
    prometheus.wait_value("sum(tcpleak_leaks_total{%s})" % who, LEAKS)
    resolved = prometheus.query('tcpleak_leaks_resolved_total{how="close"}')
    assert resolved and resolved[0][1] >= LEAKS, resolved
    for record in pod_records(agent, "leak_resolved", LEAKS):
        assert record["how"] == "close" and record["namespace"] == "shop", record

    assert agent.stop(signal.SIGTERM) == 0, agent.stderr_text()
    summary = agent.summary()
    assert summary["mode"] == "agent" and summary["leaks"] >= LEAKS, summary


def test_hostile_http_leaves_the_agent_serving():
    agent, port = start_agent()
    hostile_http.hostile_checks("127.0.0.1", port, "/metrics")
    assert agent_env.http_get("http://127.0.0.1:%d/healthz" % port) == (200, "ok\n")
    assert "tcpleak_build_info{" in scrape(port)
    assert agent.stop(signal.SIGTERM) == 0, agent.stderr_text()


def test_bad_listen_address_is_a_usage_error():
    done = subprocess.run([harness.tcpleak_bin(), "agent", "--listen", "127.0.0.1"], capture_output=True)
    assert done.returncode == 2
    assert done.stderr.decode().splitlines()[0].startswith("tcpleak agent: --listen: ")


def test_address_in_use_fails_before_loading():
    agent, port = start_agent()
    done = subprocess.run([harness.tcpleak_bin(), "agent", "--listen", "127.0.0.1:%d" % port],
                          capture_output=True, timeout=30)
    assert done.returncode == 1
    assert "Address already in use" in done.stderr.decode(), done.stderr
    assert agent.stop(signal.SIGTERM) == 0
