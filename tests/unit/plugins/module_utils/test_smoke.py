"""The smoke check through the modules' main() (smoke_check, and rollback_decision given checks), against real
local HTTP servers: refusals before any request, a passing round, a failing metric gate with and without
fail_on_error, check mode (which still probes: the checks only read), and the decision on a smoke check it ran."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import http.server

import pytest
from ansible_collections.rollback.core.plugins.modules import rollback_decision, smoke_check
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


# rollback_decision runs the same smoke check itself when given checks or metrics (the verify role's one task).

def test_the_decision_smoke_checks_and_verifies_a_healthy_service(run_module, healthy):
    failed, result = run_module(rollback_decision.main, dict(
        checks=[dict(name="health", url=healthy.url + "/health")], rounds=3, interval=0.01,
        consecutive_successes=2, verify_service="shop"))
    assert not failed, result
    assert (result["verified"], result["passed"], result["decision"], result["success_rate"]) == (
        True, True, "MONITOR", 100.0)
    assert result["smoke"]["requests"] == 2 and result["smoke"]["passed"] is True, "stopped after 2 good rounds"


def test_a_failing_check_is_a_signal_and_the_verification_escalates(run_module, failing):
    failed, result = run_module(rollback_decision.main, dict(
        checks=[dict(name="api", url=failing.url + "/health")], verify_service="shop"))
    assert failed and result["msg"].startswith("shop is not healthy after the rollback (ROLLBACK: "), result["msg"]
    assert "escalate to the incident commander" in result["msg"] and result["failed_checks"] == ["api"]
    assert result["action"] == "ROLLBACK" and result["signals"]["error_rate_percent"] == 100.0
    failed, result = run_module(rollback_decision.main, dict(checks=[dict(name="api", url=failing.url + "/health")]))
    assert not failed and result["action"] == "ROLLBACK", "without verify_service it only decides"


def test_no_checks_verify_nothing(run_module):
    failed, result = run_module(rollback_decision.main, dict(checks=[], metrics=[], verify_service="shop"))
    assert not failed and (result["verified"], result["passed"], result["decision"]) == (
        False, None, "NOT VERIFIED: no checks")
    assert "smoke" not in result


def test_a_registered_smoke_result_and_checks_to_run_are_refused_together(run_module, healthy):
    failed, result = run_module(rollback_decision.main, dict(
        smoke=dict(passed=True, success_rate=100.0), checks=[dict(name="health", url=healthy.url)]))
    assert failed and result["msg"] == "parameters are mutually exclusive: smoke|checks"
