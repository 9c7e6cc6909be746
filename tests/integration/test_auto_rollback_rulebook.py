"""The automatic rollback on the lab: the bad release is detected by the real Prometheus, Alertmanager posts to the
rulebook (ansible-rulebook with Java 17), which rolls back at level 1 without any command; and the guards.

The lab's windows are seconds (labkit/monitoring.py LAB_WINDOWS). PagerDuty is the schema-checking stand-in
(tests/support/pagerduty.py), the chat webhook a recorder; both reach the rulebook's playbooks through the lab
inventory's environment lookups.
"""

import json
import os
import re
import subprocess
import time
import urllib.request

import pytest
from playbook_runs import DEPLOYED_BAD, REPO, labctl, lock_path, reports, versions
from support.alertmanager import alert, notification, post
from support.http_servers import webhook_receiver
from support.pagerduty import pagerduty_stand_in

ROUTING_KEY = "e2e0pagerduty0routing0key0000042"
TARGETS = ("kubernetes", "compose", "server", "swarm", "bluegreen")
SERVICES = ["demo-bluegreen", "demo-compose", "demo-kubernetes", "demo-server", "demo-swarm"]
OPERATOR = "ansible-rulebook (rollback.core.auto_rollback)"


def http_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def poll(what, probe, timeout, interval=2.0):
    """probe() -> (done, state); the last state names what was not reached."""
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        done, state = probe()
        if done:
            return state
        time.sleep(interval)
    raise AssertionError("%s not reached within %ds; last: %s" % (what, timeout, state))


def active_alerts(lab):
    return [a for a in http_json(lab["LAB_PROMETHEUS_URL"] + "/api/v1/alerts")["data"]["alerts"]
            if a["labels"].get("service") in SERVICES]


def auto_reports(lab, since):
    found = []
    for path in reports(lab):
        with open(path) as handle:
            report = json.load(handle)
        if report.get("operator") == OPERATOR and os.path.getmtime(path) >= since:
            found.append(report)
    return found


@pytest.fixture(scope="module")
def pagerduty():
    stand_in = pagerduty_stand_in()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def chat():
    receiver = webhook_receiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def incident(lab, lab_env, pagerduty, chat):
    """Deploy the bad release with the rulebook running and nothing else: what happened, once for the module."""
    assert not os.path.exists(lock_path(lab)), "a rollback lock is held: %s" % open(lock_path(lab)).read()
    # The good release first: the alerts of a bad one left running (an interrupted run) would never resolve.
    if set(versions(lab_env)[target] for target in TARGETS) != {"1.0.0"}:
        labctl(lab_env, "deploy", "1.0.0", "--no-backup")
    poll("no trigger alert of an earlier test", lambda: (not active_alerts(lab), active_alerts(lab)), 180)
    state = os.path.join(lab["LAB_DIR"], "auto-rollback", "lab.json")
    if os.path.exists(state):
        os.remove(state)
    env = dict(lab_env, ROLLBACK_PAGERDUTY_URL=pagerduty.enqueue_url, ROLLBACK_PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
               ROLLBACK_WEBHOOK_URL=chat.url + "/chat")
    labctl(env, "rulebook", "stop")  # one started by hand would not have this environment
    labctl(env, "rulebook", "start")
    try:
        started = time.time()
        # Level 1 needs no backups; the module's teardown deploys 1.0.0 again (playbook_runs.restore_good).
        DEPLOYED_BAD.append(True)
        labctl(lab_env, "deploy", "1.0.1", "--no-backup")
        deployed = time.time()
        # The run is over when its report is written and its lock released (the last step, after notifying).
        poll("the automatic rollback, reported and unlocked", lambda: (
            bool(auto_reports(lab, started)) and not os.path.exists(lock_path(lab)),
            [r["outcome"] for r in auto_reports(lab, started)]), 900, 1)
        report = auto_reports(lab, started)[0]
        recovered = versions(lab_env)
        resolved = poll("every trigger alert resolved", lambda: (not active_alerts(lab), [
            (a["labels"]["alertname"], a["labels"]["service"], a["state"]) for a in active_alerts(lab)]), 300)
        yield dict(report=report, versions=recovered, resolved=resolved, started=started, deployed=deployed,
                   state=state, env=env)
    finally:
        labctl(env, "rulebook", "stop")
        log = os.path.join(lab["LAB_DIR"], "eda", "rulebook.log")
        if os.path.exists(log):
            os.replace(log, log + ".test_auto_rollback")


def test_the_bad_release_is_rolled_back_at_level_1_without_any_command(lab, incident, pagerduty, chat):
    report = incident["report"]
    assert report["outcome"] == "succeeded" and report["level"] == 1, report["summary"]
    assert sorted(report["services"]) == SERVICES, "the lab's whole deploy (scope deploy)"
    assert report["operator"] == OPERATOR
    # The report names the alert that triggered it, with its value and runbook.
    assert re.search(r"^Alertmanager: Rollback\w+ on demo-\w+ = [\d.]+ \(.*runbook 00[01]", report["reason"]), \
        report["reason"]
    assert [incident["versions"][target] for target in TARGETS] == ["1.0.0"] * 5, incident["versions"]
    assert incident["resolved"] == []
    # PagerDuty: the run's alert, keyed by its run id, triggered at the start and resolved at the end.
    assert pagerduty.rejected == []
    run_events = [e for e in pagerduty.events if e["dedup_key"] == report["run_id"]]
    assert [e["event_action"] for e in run_events] == ["trigger", "resolve"]
    assert "Reason: Alertmanager: Rollback" in run_events[0]["payload"]["summary"]
    assert run_events[0]["payload"]["custom_details"]["operator"] == OPERATOR
    assert pagerduty.state(report["run_id"]) == "resolved"
    # The chat: the start names the trigger, the end the outcome; the routing key is in neither.
    texts = [m["body"]["text"] for m in chat.messages]
    assert any(t.startswith("Rollback started: lab level 1") and "Alertmanager: Rollback" in t for t in texts)
    assert any(t.startswith("Rollback SUCCEEDED: lab level 1") for t in texts)
    assert ROUTING_KEY not in json.dumps(chat.messages)
    assert not os.path.exists(lock_path(lab)), "the rollback released the lock"


def test_the_real_prometheus_gates_saw_the_incident(lab, incident, ansible_module):
    """smoke_check's Prometheus gates on the real series of the incident: the peak error rate fails, now passes."""
    window = "%ds" % (time.time() - incident["started"] + 5)
    run = ansible_module("smoke_check", dict(metrics=[
        dict(name="error_rate_percent", url=lab["LAB_PROMETHEUS_URL"], max=5,
             query='max_over_time(service:http_errors:percent{service="demo-compose"}[%s])' % window),
        dict(name="error_rate_now", url=lab["LAB_PROMETHEUS_URL"], max=5, no_data="pass",
             query='service:http_errors:percent{service="demo-compose"}'),
    ], fail_on_error=False))
    verdicts = dict((m["name"], (m["verdict"], m["value"])) for m in run.result["metrics"])
    assert verdicts["error_rate_percent"][0] == "fail" and verdicts["error_rate_percent"][1] > 30, verdicts
    assert verdicts["error_rate_now"][0] == "pass", verdicts


def test_a_second_alert_within_the_window_does_not_roll_back_twice(lab, incident, chat):
    """Alertmanager repeats a firing group; the same trigger again, after the rollback, only notifies."""
    before = len(reports(lab))
    del chat.messages[:]
    body = notification(alert(name="RollbackHealthCheckFailing", value="4", signal="consecutive_health_failures",
                              trigger="health_checks", starts=incident["deployed"] + 1))
    assert post(lab["LAB_EDA_WEBHOOK_URL"], body, lab["LAB_EDA_WEBHOOK_TOKEN"]) == 200
    expected = ("demo-compose: no automatic rollback on RollbackHealthCheckFailing: demo-compose was already rolled "
                "back automatically at")
    poll("the throttle's notice", lambda: (any(expected in m["body"]["text"] for m in chat.messages), None), 300)
    texts = [m["body"]["text"] for m in chat.messages if expected in m["body"]["text"]]
    assert "escalate" in texts[0]
    assert len(reports(lab)) == before, "no second rollback"
    with open(incident["state"]) as handle:
        runs = [e for e in json.load(handle)["entries"] if e["action"] == "run"]
    assert sorted(e["service"] for e in runs) == SERVICES, "one automatic rollback per service"


# -- guards, through the rulebook's decision playbook (playbooks/auto_rollback.yml) -------------------------------

def decide(lab, lab_env, tmp_path, body, chat, pagerduty, **auto):
    """Run the rulebook's first step by hand; returns (rc, output, the decision it hands to the rulebook)."""
    config = dict(marker_dir=str(tmp_path / "deploys"), state_dir=str(tmp_path / "state"), scope="service",
                  deploy_window=600, throttle_window=600, freeze_file=str(tmp_path / "freeze"),
                  inventory="inventories/lab")
    config.update(auto)
    (tmp_path / "vars.json").write_text(json.dumps(dict(alert_notification=body, rollback_auto=config)))
    env = dict(lab_env, ROLLBACK_WEBHOOK_URL=chat.url + "/chat", ROLLBACK_PAGERDUTY_URL=pagerduty.enqueue_url,
               ROLLBACK_PAGERDUTY_ROUTING_KEY=ROUTING_KEY, ANSIBLE_SHOW_CUSTOM_STATS="true",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    completed = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"),
                                os.path.join(REPO, "playbooks", "auto_rollback.yml"), "-i",
                                os.path.join(REPO, "inventories", "lab"), "-e", "@%s" % (tmp_path / "vars.json")],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = completed.stdout + completed.stderr
    match = re.search(r"CUSTOM STATS: \*+\s+RUN: (\{.*\})", output)
    return completed.returncode, output, json.loads(match.group(1))["auto_rollback"] if match else None


def marker(tmp_path, service, started, status="done"):
    directory = tmp_path / "deploys"
    directory.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    (directory / (service + ".json")).write_text(json.dumps(dict(
        service=service, deploy_id="deploy-%s" % service, version="1.0.1", previous_version="1.0.0", status=status,
        started_at=stamp, finished_at=stamp, services=[service])))


@pytest.fixture
def fresh():
    """A chat and a PagerDuty of the test's own (the module's rulebook may still be deciding on notifications)."""
    chat, pagerduty = webhook_receiver(), pagerduty_stand_in()
    yield chat, pagerduty
    chat.stop()
    pagerduty.stop()


def test_guards_without_a_deploy_only_notify_and_level_3_only_requests_approval(lab, lab_env, tmp_path, fresh):
    chat, pagerduty = fresh
    now = time.time()
    marker(tmp_path, "demo-compose", now - 120)
    marker(tmp_path, "demo-server", now - 120)
    body = notification(
        alert(starts=now - 60),
        alert(service="demo-server", name="DatabaseUnavailable", value="1", signal="database_lost", runbook="000",
              starts=now - 60),
        alert(service="demo-swarm", starts=now - 60))
    rc, output, decision = decide(lab, lab_env, tmp_path, body, chat, pagerduty)
    assert rc == 0, output[-3000:]
    assert decision["verdict"] == "run" and decision["run"]["services"] == "demo-compose"
    assert decision["run"]["level"] == 1 and decision["run"]["extra_vars"]["level"] == "1"
    assert decision["approval"]["services"] == "demo-server" and decision["approval"]["level"] == 3
    assert decision["approval"]["extra_vars"]["confirm_data_loss"] == "yes"
    assert decision["notices"] == 1
    texts = [m["body"]["text"] for m in chat.messages]
    approval = [t for t in texts if "needs approval" in t][0]
    assert "level 3 is not pre-approved" in approval
    assert ("ansible-playbook playbooks/rollback.yml -i inventories/lab -e level=3 -e services=demo-server" in approval
            and approval.endswith("-e confirm_data_loss=true"))
    notice = [t for t in texts if "no automatic rollback" in t][0]
    assert "demo-swarm: no automatic rollback on RollbackErrorRateHigh: no deploy of demo-swarm is recorded" in notice
    assert [p["summary"][:32] for p in pagerduty.pages] == ["Rollback needs approval: Rollbac"], "the approver is paged"
    assert pagerduty.rejected == [] and ROUTING_KEY not in output


def test_a_freeze_and_a_held_lock_refuse_the_automatic_rollback(lab, lab_env, tmp_path, fresh, ansible_module):
    chat, pagerduty = fresh
    now = time.time()
    marker(tmp_path, "demo-compose", now - 120)
    (tmp_path / "freeze").write_text("release freeze until Monday\n")
    rc, output, decision = decide(lab, lab_env, tmp_path, notification(alert(starts=now - 60)), chat, pagerduty)
    assert rc == 0, output[-3000:]
    assert decision["verdict"] == "approval" and "run" not in decision
    assert any("needs approval" in m["body"]["text"] and "a freeze is declared in %s (release freeze until Monday)"
               % (tmp_path / "freeze") in m["body"]["text"] for m in chat.messages)
    os.remove(tmp_path / "freeze")
    # Another rollback of the environment holds the lock (taken as the playbook takes it).
    lock_dir = os.path.join(lab["LAB_DIR"], "locks")
    taken = ansible_module("rollback_lock", dict(name="lab", run_id="run-held-by-a-human", owner="alice@ops",
                                                 lock_dir=lock_dir, info=dict(level=2)))
    assert not taken.failed, taken.stdout
    try:
        rc, output, decision = decide(lab, lab_env, tmp_path, notification(alert(starts=now - 60)), chat, pagerduty,
                                      state_dir=str(tmp_path / "state2"))
    finally:
        ansible_module("rollback_lock", dict(name="lab", run_id="run-held-by-a-human", state="absent",
                                             lock_dir=lock_dir))
    assert rc == 0, output[-3000:]
    assert decision["verdict"] == "notify" and "run" not in decision and "approval" not in decision
    assert any("another rollback holds the lock of lab: alice@ops (run run-held-by-a-human, level 2)"
               in m["body"]["text"] for m in chat.messages)
