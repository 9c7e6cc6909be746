"""rollback_decision through Ansible, fed by a real smoke_check of the demo app."""

import pytest
from support.http_servers import DemoApp

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab


@pytest.fixture(scope="module")
def bad():
    app = DemoApp("1.0.1")
    yield app
    app.stop()


def test_bad_release_smoke_result_decides_an_immediate_rollback(ansible_module, bad):
    smoke = ansible_module("smoke_check", dict(checks=[dict(name="health", url=bad.url + "/health")], rounds=3,
                                               interval=0.05, max_failures=3, fail_on_error=False))
    assert smoke.result["passed"] is False
    run = ansible_module("rollback_decision", dict(smoke=smoke.result, migration_ran=True, migration_failed=True))
    assert not run.failed, run.stdout
    assert (run.result["action"], run.result["urgency"], run.result["level"]) == ("ROLLBACK", "immediate", 3)
    assert run.result["signals"]["error_rate_percent"] == 100.0
    assert run.result["signals"]["consecutive_health_failures"] == 3
    assert "error rate 100.00% > 5% (001, 002, 003, 004)" in run.result["reasons"]
    assert run.result["changed"] is False


def test_explicit_signals_baseline_ratio_and_environment_thresholds(ansible_module):
    run = ansible_module("rollback_decision", dict(error_rate_percent=0.4, latency_p99_ms=900, baseline_p99_ms=300,
                                                   config_changed=True))
    assert run.result["signals"]["latency_ratio"] == 3.0
    assert (run.result["action"], run.result["level"]) == ("ROLLBACK", 2)
    run = ansible_module("rollback_decision", dict(error_rate_percent=0.4, thresholds=dict(error_rate_monitor=0.5)))
    assert (run.result["action"], run.result["urgency"]) == ("MONITOR", "none")


@pytest.mark.parametrize("args,message", [
    (dict(thresholds=dict(error_rate_rolback=1)), "unknown threshold(s) error_rate_rolback; known:"),
    (dict(thresholds=dict(error_rate_rollback="high")), "threshold error_rate_rollback must be a number"),
    (dict(error_rate_percent="lots"), "error_rate_percent"),
])
def test_bad_input(ansible_module, args, message):
    run = ansible_module("rollback_decision", args)
    assert run.failed and message in run.result["msg"]
