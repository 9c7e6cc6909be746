"""Every row of the runbooks' decision matrices, one case each (runbook and row in the id)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.decision import (
    NOT_VERIFIED,
    decide,
    recommend_level,
    signals_from_smoke,
    verification,
)

ROWS = [
    # runbook 000, decision matrix
    ("000 data corruption", dict(data_corruption=True, error_rate_percent=0.0), "ROLLBACK", "immediate"),
    ("000 all providers down >1%", dict(all_providers_down=True, error_rate_percent=1.5), "ROLLBACK", "immediate"),
    ("000 database lost", dict(database_lost=True), "ROLLBACK", "immediate"),
    ("000 security breach", dict(security_breach=True), "ROLLBACK", "immediate"),
    ("000 high error spike >1% >5s", dict(error_rate_percent=1.5, latency_p95_ms=6000), "ROLLBACK", "high"),
    ("000 degraded latency <0.5% >3s", dict(error_rate_percent=0.3, latency_p95_ms=3500), "EVALUATE", "medium"),
    ("000 rate limiting <0.5% normal latency", dict(error_rate_percent=0.3, latency_p95_ms=300), "MONITOR", "low"),
    # runbook 001, automatic triggers and decision tree
    ("001 error rate >5%", dict(error_rate_percent=6.0), "ROLLBACK", "immediate"),
    ("001 health check fails 3 consecutive", dict(consecutive_health_failures=3), "ROLLBACK", "immediate"),
    ("001 critical workflow failure", dict(critical_feature_down=True), "ROLLBACK", "immediate"),
    ("001 database corruption", dict(data_corruption=True), "ROLLBACK", "immediate"),
    ("001 smoke test failure rate >50%", dict(smoke_failure_rate_percent=60.0), "EVALUATE", "high"),
    ("001 tree: error rate <5% -> monitor closely", dict(error_rate_percent=0.5), "MONITOR", "low"),
    ("001 OOMKilled > 3 pods in 5 minutes", dict(oom_killed_pods=4), "ROLLBACK", "immediate"),
    ("001 OOMKilled 3 pods is not more than 3", dict(oom_killed_pods=3), "MONITOR", "none"),
    # runbook 002, decision criteria
    ("002 error rate >5%", dict(error_rate_percent=5.5), "ROLLBACK", "immediate"),
    ("002 p99 >2x baseline", dict(latency_ratio=2.4), "ROLLBACK", "immediate"),
    ("002 memory >90%", dict(memory_percent=93.0), "ROLLBACK", "immediate"),
    # runbook 003, rollback triggers
    ("003 health check 3 consecutive", dict(consecutive_health_failures=4), "ROLLBACK", "immediate"),
    ("003 error rate >5%", dict(error_rate_percent=7.0), "ROLLBACK", "immediate"),
    ("003 response time >3s", dict(latency_p95_ms=3200), "EVALUATE", "medium"),
    # runbook 004, decision matrix
    ("004 complete outage", dict(complete_outage=True), "ROLLBACK", "immediate"),
    ("004 data corruption", dict(data_corruption=True), "ROLLBACK", "immediate"),
    ("004 security breach", dict(security_breach=True), "ROLLBACK", "immediate"),
    ("004 critical feature down >5% >5s", dict(error_rate_percent=6.0, latency_p95_ms=6000), "ROLLBACK", "immediate"),
    ("004 major feature down >2% >2s", dict(error_rate_percent=2.5, latency_p95_ms=2500), "EVALUATE", "medium"),
    ("004 minor feature down <1% <1s", dict(error_rate_percent=0.5, latency_p95_ms=800), "MONITOR", "low"),
    ("004 performance degradation <1% >2s", dict(error_rate_percent=0.5, latency_p95_ms=2500), "EVALUATE",
     "medium"),
    ("004 UI glitch <0.1% <500ms", dict(error_rate_percent=0.05, latency_p95_ms=400), "MONITOR", "none"),
    ("healthy", dict(error_rate_percent=0.0, latency_p95_ms=120, consecutive_health_failures=0), "MONITOR", "none"),
]


@pytest.mark.parametrize("row,signals,action,urgency", ROWS, ids=[row[0] for row in ROWS])
def test_matrix_row(row, signals, action, urgency):
    decision = decide(signals)
    assert (decision["action"], decision["urgency"]) == (action, urgency), decision["reasons"]
    assert decision["reasons"]


def test_runbook_001_latency_trigger_is_off_until_the_environment_sets_it():
    assert decide(dict(latency_p95_ms=450))["action"] == "MONITOR"
    decision = decide(dict(latency_p95_ms=450), dict(latency_p95_rollback_ms=200))
    assert (decision["action"], decision["rules"]) == ("ROLLBACK", ["latency_p95"])
    assert "450ms > 200ms (001" in decision["reasons"][0]


def test_thresholds_are_per_environment():
    assert decide(dict(error_rate_percent=2.0))["action"] == "EVALUATE"
    strict = decide(dict(error_rate_percent=2.0), dict(error_rate_rollback=1.0))
    assert strict["action"] == "ROLLBACK" and "> 1%" in strict["reasons"][0]
    assert decide(dict(consecutive_health_failures=2), dict(health_failures_rollback=2))["action"] == "ROLLBACK"


@pytest.mark.parametrize("signals,level", [
    (dict(), 1),
    (dict(migration_ran=True), 1),
    (dict(migration_ran=True, migration_failed=True), 3),
    (dict(config_changed=True), 2),
    (dict(config_changed=True, migration_ran=True, migration_failed=True), 3),
    (dict(database_lost=True), 3),
    (dict(data_corruption=True), 3),
])
def test_level_follows_runbook_001_tree(signals, level):
    assert recommend_level(signals)[0] == level


def test_signals_from_a_smoke_check_result():
    smoke = dict(success_rate=70.0, checks=[
        dict(name="health", consecutive_failures=3, latency_ms=dict(p50=5, p95=40, p99=50)),
        dict(name="api", consecutive_failures=0, latency_ms=dict(p50=5, p95=900, p99=950)),
    ], metrics=[dict(name="error_rate_percent", value=12.5), dict(name="unrelated", value=1)])
    signals = signals_from_smoke(smoke)
    assert signals == dict(error_rate_percent=12.5, smoke_failure_rate_percent=30.0, latency_p95_ms=900,
                           consecutive_health_failures=3)
    assert decide(signals)["action"] == "ROLLBACK"


SMOKE_OK = dict(passed=True, success_rate=100.0, latency_ms=dict(p50=2.0, p95=3.0, p99=3.0), failed_checks=[],
                checks=[dict(name="health", latency_ms=dict(p95=3.0), consecutive_failures=0)])


def test_a_healthy_service_is_verified_and_passed():
    kept = verification("web", SMOKE_OK, decide(signals_from_smoke(SMOKE_OK)))
    assert kept == dict(verified=True, passed=True, success_rate=100.0, latency_ms=SMOKE_OK["latency_ms"],
                        failed_checks=[], decision="MONITOR", reasons=["no threshold crossed: keep monitoring"])


def test_no_checks_verifies_nothing_and_never_passes():
    for smoke in (None, {}, dict(skipped=True, changed=False)):
        kept = verification("web", smoke, decide({}))
        assert (kept["verified"], kept["passed"], kept["decision"]) == (False, None, NOT_VERIFIED)


def test_a_failed_smoke_check_fails_with_the_escalation_and_the_fields():
    smoke = dict(SMOKE_OK, passed=False, success_rate=0.0, failed_checks=["health"])
    with pytest.raises(RollbackError) as raised:
        verification("web", smoke, decide(signals_from_smoke(smoke)))
    assert raised.value.msg.startswith("web is not healthy after the rollback (ROLLBACK: error rate 100.00% > 5%")
    assert raised.value.msg.endswith("; health). Runbook 000 - stop remediating and escalate to the incident "
                                     "commander.")
    assert (raised.value.details["verified"], raised.value.details["passed"]) == (True, False)
    assert raised.value.details["action"] == raised.value.details["decision"] == "ROLLBACK"


def test_a_passing_smoke_check_with_a_decision_other_than_monitor_is_not_healthy():
    decision = dict(action="EVALUATE", reasons=["p95 latency 2500ms > 2000ms (004)"])
    with pytest.raises(RollbackError, match=r"web is not healthy after the rollback \(EVALUATE: p95 latency"):
        verification("web", SMOKE_OK, decision)
