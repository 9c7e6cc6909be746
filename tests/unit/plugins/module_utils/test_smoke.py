"""smoke.verify (the smoke_check flow) through the module's main(), against real local HTTP servers: refusals
before any request, a passing round, a failing metric gate with and without fail_on_error, and check mode (which
still probes: the checks only read)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server

import pytest
from ansible_collections.rollback.core.plugins.modules import smoke_check
from support.http_servers import _Background, slow_server


@pytest.fixture(scope="module")
def healthy():
    server = slow_server(0)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def failing():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = _Background(Handler)
    yield server
    server.stop()


@pytest.mark.parametrize("args,message", [
    ({}, "nothing to verify: give checks and/or metrics"),
    (dict(rounds=0), "rounds must be at least 1, got 0"),
    (dict(concurrency=0), "concurrency must be at least 1, got 0"),
    (dict(consecutive_successes=0), "consecutive_successes must be at least 1, got 0"),
    (dict(rounds=2, consecutive_successes=3), "consecutive_successes (3) cannot exceed rounds (2)"),
])
def test_bad_options_are_refused_before_any_request(run_module, failing, args, message):
    if args:
        args = dict(args, checks=[dict(name="never", url=failing.url + "/never")])
    failed, result = run_module(smoke_check.main, args)
    assert failed and result["msg"] == message


def test_a_healthy_endpoint_passes_every_round(run_module, healthy):
    failed, result = run_module(smoke_check.main, dict(checks=[dict(name="health", url=healthy.url + "/health")],
                                                       rounds=3, interval=0.01, consecutive_successes=3))
    assert not failed, result
    assert (result["passed"], result["success_rate"], result["requests"], result["rounds"]) == (True, 100.0, 3, 3)
    assert result["failed_checks"] == [] and result["changed"] is False
    assert result["checks"][0]["passes"] == 3 and 0 <= result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]


def test_a_failing_check_fails_the_module_naming_it(run_module, failing):
    failed, result = run_module(smoke_check.main, dict(checks=[dict(name="api", url=failing.url + "/health")]))
    assert failed and result["msg"].startswith("smoke checks failed: api: 1 failure(s)")
    assert result["passed"] is False and result["failed_checks"] == ["api"] and result["success_rate"] == 0.0


def test_check_mode_still_probes(run_module, healthy):
    failed, result = run_module(smoke_check.main, dict(checks=[dict(name="health", url=healthy.url)]), check_mode=True)
    assert not failed and result["requests"] == 1 and result["passed"] is True
