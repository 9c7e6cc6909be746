"""smoke_check through Ansible against the real demo app (good and bad releases) and the lab's real Prometheus."""

import pytest
from support.http_servers import DemoApp

TOKEN = "tok-secret-%d" % 424242


@pytest.fixture(scope="module")
def good():
    app = DemoApp("1.0.0")
    yield app
    app.stop()


@pytest.fixture(scope="module")
def bad():
    app = DemoApp("1.0.1")
    yield app
    app.stop()


@pytest.fixture(scope="module")
def prometheus(lab):
    """The lab's Prometheus 2.42 (Debian), scraping the demo app on the server, compose and swarm targets."""
    return lab["LAB_PROMETHEUS_URL"]


def health(app, name="health", **extra):
    return dict(dict(name=name, url=app.url + "/health", json={"status": "ok"}, headers={"Authorization": TOKEN}),
                **extra)


def test_good_release_passes_with_streak_and_latency_figures(ansible_module, good):
    run = ansible_module("smoke_check", dict(checks=[health(good), dict(name="items", url=good.url + "/api/items",
                                                                        contains='"items"')],
                                             rounds=5, interval=0.05, consecutive_successes=3), verbosity=3)
    assert not run.failed, run.stdout
    assert run.result["changed"] is False and run.result["passed"] is True
    assert run.result["rounds"] == 3, "stops as soon as every check has its streak"
    assert run.result["success_rate"] == 100.0
    check = run.result["checks"][0]
    assert (check["passes"], check["failures"], check["last_status"]) == (3, 0, 200)
    assert 0 < check["latency_ms"]["p50"] <= check["latency_ms"]["p95"] <= check["latency_ms"]["p99"] < 1000
    assert TOKEN not in run.stdout + run.stderr


def test_bad_release_fails_naming_the_check_and_why(ansible_module, good, bad):
    run = ansible_module("smoke_check", dict(checks=[health(good), health(bad, name="bad-health")],
                                             rounds=3, interval=0.05, max_failures=1))
    assert run.failed
    assert run.result["msg"] == ("smoke checks failed: bad-health: 2 failure(s), last: status 503, "
                                 "expected [200]")
    assert run.result["failed_checks"] == ["bad-health"]
    assert run.result["rounds"] == 2, "stops once a check has spent its failure budget"
    assert run.result["checks"][1]["consecutive_failures"] == 2


def test_report_only_mode_and_check_mode(ansible_module, bad):
    run = ansible_module("smoke_check", dict(checks=[health(bad)], fail_on_error=False), check=True)
    assert not run.failed
    assert run.result["passed"] is False and run.result["success_rate"] == 0.0


def test_latency_budget(ansible_module):
    slow = DemoApp("1.0.2")
    try:
        run = ansible_module("smoke_check", dict(checks=[dict(name="slow", url=slow.url + "/health",
                                                              max_latency_ms=500)]))
    finally:
        slow.stop()
    assert run.failed and "slow: 1 failure(s), last: latency" in run.result["msg"]
    assert run.result["checks"][0]["latency_ms"]["p50"] >= 1500


# The answers below are Prometheus' own (web/api/v1/api.go): a parse error is HTTP 400 errorType bad_data, a range
# selector gives resultType "matrix", 0/0 is the sample value "NaN", and a metric nobody exports is an empty vector.
def test_metrics_gate_and_no_data_policies(ansible_module, prometheus):
    def metric(name, query, **extra):
        return dict(dict(name=name, url=prometheus, query=query), **extra)

    run = ansible_module("smoke_check", dict(metrics=[
        # The simulated users' requests to the server target's good release: > 1 per second, no 5xx.
        metric("requests_per_second", 'sum(rate(http_requests_total{service="demo-server",handler="/api/items"}[5s]))',
               min=1),
        metric("error_rate_percent", 'sum(rate(http_requests_total{service="demo-server",code=~"5.."}[5s])) '
               'or vector(0)', max=0.1),
        metric("latency_p95_ms", "vector(2500)", max=2000),
        metric("none-inconclusive", "rollback_core_no_such_metric", max=1, no_data="inconclusive"),
        metric("none-pass", "rollback_core_no_such_metric", max=1, no_data="pass"),
        metric("nan-inconclusive", "vector(0) / 0", max=1, no_data="inconclusive"),
        metric("scalar", "scalar(vector(3))", max=5),
    ], fail_on_error=False))
    assert not run.failed, run.stdout
    assert run.result["passed"] is False
    verdicts = dict((m["name"], (m["verdict"], m["value"])) for m in run.result["metrics"])
    assert verdicts.pop("requests_per_second")[0] == "pass"
    assert verdicts == {"error_rate_percent": ("pass", 0.0), "latency_p95_ms": ("fail", 2500.0),
                        "none-inconclusive": ("inconclusive", None), "none-pass": ("pass", None),
                        "nan-inconclusive": ("inconclusive", None), "scalar": ("pass", 3.0)}


def test_metric_failures_fail_the_task(ansible_module, prometheus):
    run = ansible_module("smoke_check", dict(metrics=[
        dict(name="latency", url=prometheus, query="vector(2.5)", max=2.0),
        dict(name="missing", url=prometheus, query="rollback_core_no_such_metric", max=1.0),
        dict(name="broken", url=prometheus, query="sum(", max=1.0),
        dict(name="range", url=prometheus, query="http_requests_total[5s]", max=1.0),
    ]))
    assert run.failed
    assert run.result["msg"] == (
        "smoke checks failed: metric latency: 2.5 > max 2; metric missing: query returned no data; metric broken: "
        'status 400: invalid parameter "query": 1:5: parse error: unclosed left parenthesis; metric range: the query '
        "returns a range vector (matrix): gate on an instant vector, e.g. rate(metric[5m]) instead of metric[5m]")


@pytest.mark.parametrize("args,message", [
    (dict(checks=[]), "nothing to verify: give checks and/or metrics"),
    (dict(checks=[dict(name="a", url="http://127.0.0.1:1/")], rounds=0), "rounds must be at least 1, got 0"),
    (dict(checks=[dict(name="a", url="http://x/"), dict(name="a", url="http://y/")]),
     "check names must be unique; repeated: a"),
    (dict(checks=[dict(url="http://x/")]), "missing required arguments: name"),
    (dict(checks=[dict(name="a", url="http://x/")], rounds=2, consecutive_successes=3),
     "consecutive_successes (3) cannot exceed rounds (2)"),
])
def test_bad_input_is_one_clear_message(ansible_module, args, message):
    run = ansible_module("smoke_check", args)
    assert run.failed and message in run.result["msg"]


def test_unreachable_endpoint_is_a_failed_check_not_a_crash(ansible_module):
    run = ansible_module("smoke_check", dict(checks=[dict(name="down", url="http://127.0.0.1:1/health")],
                                             timeout=1))
    assert run.failed and run.result["msg"].startswith("smoke checks failed: down: 1 failure(s), last: request "
                                                       "failed:")
