from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.http_checks import (
    MISSING,
    CheckState,
    evaluate,
    json_path,
    percentile,
    summarise,
    tls_context,
)

CHECK = dict(name="health", url="http://x/health", status=[200], json={"status": "ok", "data.items.1": "b"},
             contains=None, max_latency_ms=100.0)


def test_percentiles_are_nearest_rank():
    samples = list(range(1, 101))
    assert (percentile(samples, 0.5), percentile(samples, 0.95), percentile(samples, 0.99)) == (50, 95, 99)
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.99) == 7.0


def test_json_path():
    document = {"data": {"items": ["a", "b"]}, "status": "ok"}
    assert json_path(document, "data.items.1") == "b"
    assert json_path(document, "data.items.-1") == "b"
    assert json_path(document, "data.items.5") is MISSING
    assert json_path(document, "nope") is MISSING


@pytest.mark.parametrize("status,body,error,latency,reason", [
    (200, '{"status": "ok", "data": {"items": ["a", "b"]}}', None, 10, None),
    (None, "", "connection refused", 1, "request failed: connection refused"),
    (503, '{"status": "error"}', None, 10, "status 503, expected [200]"),
    (200, "not json", None, 10, "body is not JSON"),
    (200, '{"status": "error", "data": {"items": ["a", "b"]}}', None, 10, 'json status is "error", expected "ok"'),
    (200, '{"status": "ok"}', None, 10, "json data.items.1 missing"),
    (200, '{"status": "ok", "data": {"items": ["a", "b"]}}', None, 150, "latency 150ms > 100ms"),
])
def test_evaluate_names_the_first_unmet_condition(status, body, error, latency, reason):
    assert evaluate(CHECK, status, body, error, latency) == reason


def test_streak_and_budget():
    state = CheckState(CHECK)
    for reason in ("status 503", None, None, "status 503", None, None, None):
        state.record(503 if reason else 200, reason, 10.0)
    report = state.report(consecutive_successes=3, max_failures=2)
    assert (report["passed"], report["passes"], report["failures"], report["streak"]) == (True, 5, 2, 3)
    assert report["max_consecutive_failures"] == 1
    assert state.report(consecutive_successes=4, max_failures=2)["passed"] is False
    assert state.report(consecutive_successes=3, max_failures=1)["passed"] is False


def test_summary_message_names_each_failing_check_and_metric():
    failing = CheckState(CHECK)
    failing.record(503, "status 503, expected [200]", 5.0)
    passing = CheckState(dict(CHECK, name="api"))
    passing.record(200, None, 5.0)
    summary, message = summarise([failing.report(1, 0), passing.report(1, 0)],
                                 [dict(name="errors", verdict="fail", reason="0.5 > max 0.1")])
    assert summary["success_rate"] == 50.0 and summary["failed_checks"] == ["health"] and not summary["passed"]
    assert message == ("smoke checks failed: health: 1 failure(s), last: status 503, expected [200]; "
                       "metric errors: 0.5 > max 0.1")


def test_one_tls_context_per_process_and_verification_setting():
    """Loading the CA certificates costs ~45 ms each: made once (the controller makes it before the workers fork)."""
    verified = tls_context(True)
    assert tls_context(True) is verified and tls_context(1) is verified
    unverified = tls_context(False)
    assert unverified is not verified and tls_context(False) is unverified
    assert unverified.check_hostname is False and verified.check_hostname is True
