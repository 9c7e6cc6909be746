"""The trigger rules (extensions/prometheus/rollback_triggers.rules.yml.j2) with Prometheus' own rule engine.

`promtool test rules` (Debian's prometheus 2.42, as the lab runs it) evaluates the rendered rules over synthetic
series with the production windows: what fires when, written from the runbooks' trigger tables (001: error rate
> 5% for 5 min, p95 > 200 ms for 10 min, 3 consecutive failed health checks, OOMKilled > 3 pods in 5 min; 000:
> 1% for 2+ min approves a rollback, > 0.5% for 10 min and > 5% of 429 escalate). Series names are the demo app's
(lab/demo_app) and, for OOMKilled, kube-state-metrics' (docs/metrics/workload/pod-metrics.md:
kube_pod_container_status_restarts_total, kube_pod_container_status_last_terminated_reason{reason}, kube_pod_labels
with label_<pod label>). The end-to-end test (test_auto_rollback.py) covers the lab's own windows live.
"""

import json
import os
import shutil
import subprocess
import sys

import jinja2
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))

from labkit.monitoring import LAB_WINDOWS  # noqa: E402

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

TEMPLATE = os.path.join(REPO, "extensions", "prometheus", "rollback_triggers.rules.yml.j2")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
LABELS = {
    "RollbackErrorRateHigh": dict(trigger="error_rate", signal="error_rate_percent", priority="P1", runbook="001"),
    "RollbackErrorRateSustained": dict(trigger="error_rate_sustained", signal="error_rate_percent", priority="P1",
                                       runbook="000"),
    "RollbackErrorRateElevated": dict(trigger="error_rate_elevated", signal="error_rate_percent", priority="P2",
                                      runbook="000"),
    "RollbackRateLimited": dict(trigger="rate_limited", priority="P2", runbook="000"),
    "RollbackLatencyHigh": dict(trigger="latency_p95", signal="latency_p95_ms", priority="P1", runbook="001"),
    "RollbackLatencyCritical": dict(trigger="latency_p95_critical", signal="latency_p95_ms", priority="P1",
                                    runbook="000"),
    "RollbackHealthCheckFailing": dict(trigger="health_checks", signal="consecutive_health_failures",
                                       priority="P1", runbook="001"),
    "RollbackOOMKilled": dict(trigger="oom_killed", signal="oom_killed_pods", priority="P1", runbook="001"),
}
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.2", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")


def render(directory, windows=None):
    with open(TEMPLATE) as handle:
        text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(handle.read()).render(
            rollback_alerts=windows or {})
    path = os.path.join(directory, "rules.yml")
    with open(path, "w") as handle:
        handle.write(text)
    return path


def firing(alertnames, service="api", **extra):
    """The ALERTS{alertstate="firing"} samples the rule engine writes for these alerts."""
    samples = []
    for name in alertnames:
        labels = dict(LABELS[name], alertname=name, alertstate="firing", service=service, **extra)
        if name == "RollbackHealthCheckFailing":
            labels.update(job="health", instance="http://api/health")
        text = ",".join('%s="%s"' % (key, value) for key, value in sorted(labels.items()))
        samples.append(dict(labels='{__name__="ALERTS",%s}' % text, value=1))
    return samples


def promtool_test(tmp_path, series, expectations, windows=None):
    """Run promtool test rules; expectations: {eval time: [alert names firing then]}."""
    rules = render(str(tmp_path), windows)
    tests = dict(rule_files=[rules], evaluation_interval="15s", tests=[dict(
        interval="15s", input_series=[dict(series=s, values=v) for s, v in series],
        promql_expr_test=[dict(expr='ALERTS{alertstate="firing"}', eval_time=at, exp_samples=firing(names))
                          for at, names in expectations.items()])])
    path = tmp_path / "tests.yml"
    path.write_text(json.dumps(tests))
    completed = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def requests(errors_per_step, ok_per_step, code="500"):
    return [('http_requests_total{service="api",handler="/api/items",code="%s"}' % code, "0+%dx80" % errors_per_step),
            ('http_requests_total{service="api",handler="/api/items",code="200"}', "0+%dx80" % ok_per_step),
            # Health checks and scrapes are not user traffic: their 5xx never count.
            ('http_requests_total{service="api",handler="/health",code="503"}', "0+500x80")]


def test_rules_render_and_load_with_production_and_lab_windows(tmp_path):
    for windows in ({}, LAB_WINDOWS):
        completed = subprocess.run([PROMTOOL, "check", "rules", render(str(tmp_path), windows)], capture_output=True,
                                   text=True, check=False)
        assert completed.returncode == 0 and "SUCCESS: 11 rules found" in completed.stdout, completed.stdout


def test_error_rate_10_percent_approves_at_2_minutes_and_rolls_back_at_5(tmp_path):
    promtool_test(tmp_path, requests(15, 135), {
        "1m": [],
        "4m": ["RollbackErrorRateSustained"],
        "7m": ["RollbackErrorRateHigh", "RollbackErrorRateSustained"],
        "12m": ["RollbackErrorRateHigh", "RollbackErrorRateSustained", "RollbackErrorRateElevated"],
    })


def test_error_rate_0_8_percent_only_escalates_after_10_minutes(tmp_path):
    promtool_test(tmp_path, requests(1, 124), {"8m": [], "12m": ["RollbackErrorRateElevated"]})


def test_six_percent_429_escalates(tmp_path):
    promtool_test(tmp_path, requests(6, 94, code="429"), {"4m": [], "7m": ["RollbackRateLimited"]})


def test_p95_above_200ms_for_10_minutes(tmp_path):
    # Every request between 250 and 500 ms: histogram_quantile interpolates p95 to 487.5 ms.
    series = [('http_request_duration_seconds_bucket{service="api",handler="/api/items",le="%s"}' % bound,
               "0+%dx80" % (0 if float(bound) <= 0.25 else 20)) for bound in BUCKETS]
    series.append(('http_requests_total{service="api",handler="/api/items",code="200"}', "0+20x80"))
    promtool_test(tmp_path, series, {"9m": [], "12m": ["RollbackLatencyHigh"]})


def test_three_consecutive_failed_health_checks(tmp_path):
    # Probes every 15 s: failures from 45 s on; two in a row (60 s) are not enough, three (75 s) are.
    probes = [('probe_success{job="health",service="api",instance="http://api/health"}', "1 1 1 0 0 0 0 0 1 1 1")]
    promtool_test(tmp_path, probes, {"60s": [], "75s": ["RollbackHealthCheckFailing"], "2m15s": []})


@pytest.mark.parametrize("pods,names", [(4, ["RollbackOOMKilled"]), (3, [])])
def test_more_than_3_pods_oomkilled_in_5_minutes(tmp_path, pods, names):
    series = []
    for pod in range(pods):
        labels = 'namespace="prod",pod="api-%d",container="api"' % pod
        series += [("kube_pod_container_status_restarts_total{%s}" % labels, "0 0 0 0 1 1 1 1"),
                   ('kube_pod_container_status_last_terminated_reason{%s,reason="OOMKilled"}' % labels, "1x7"),
                   ('kube_pod_labels{namespace="prod",pod="api-%d",label_rollback_core_service="api"}' % pod, "1x7")]
    # A pod of another service, and one restarted for another reason, do not count.
    series += [('kube_pod_container_status_restarts_total{namespace="prod",pod="web-0",container="web"}',
                "0 0 0 0 1 1 1 1"),
               ('kube_pod_container_status_last_terminated_reason{namespace="prod",pod="web-0",container="web",'
                'reason="Error"}', "1x7"),
               ('kube_pod_labels{namespace="prod",pod="web-0",label_rollback_core_service="api"}', "1x7")]
    promtool_test(tmp_path, series, {"90s": names})
