"""pytest glue for tcpleak's e2e tests.

- Every test fails (never skips) with a clear message when the machine cannot
  run them: not root, TCPLEAK_BIN missing, no BTF, no schema.
- Every peer and tcpleak process a test started is stopped at its end; a
  tcpleak run that wrote an invalid JSON line fails the test at teardown.
- A failing test gets the stderr/stdout of every process it started attached.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "peer_only: the test runs only peer.py processes (needs root, not tcpleak)")


@pytest.fixture(autouse=True)
def e2e_environment(request):
    need_tcpleak = request.node.get_closest_marker("peer_only") is None
    problem = harness.environment_problem(need_tcpleak=need_tcpleak)
    if problem:
        pytest.fail("cannot run tcpleak e2e tests: " + problem, pytrace=False)


@pytest.fixture(autouse=True)
def e2e_cleanup(e2e_environment):
    yield
    problems = harness.cleanup_all()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for thing in harness.live_processes():
            try:
                rep.sections.append(("output of %r" % thing, thing.report()))
            except Exception as e:  # never hide the failure itself
                rep.sections.append(("output of %r" % thing, "(unavailable: %s)" % e))
