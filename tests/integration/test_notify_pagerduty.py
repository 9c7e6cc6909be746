"""The notify role pages through PagerDuty's Events API v2, against a local stand-in that checks the v2 schema."""

import json
import os
import subprocess

import pytest
from support.pagerduty import pagerduty_stand_in

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUTING_KEY = "pd0rk0secret0c0ffee0000000000042"
ESCALATION_KEY = "pd0escalation0secret000000000042"


@pytest.fixture
def pagerduty():
    stand_in = pagerduty_stand_in()
    yield stand_in
    stand_in.stop()


def notify(lab_env, options, events, verbosity=0):
    command = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"),
               os.path.join(REPO, "tests", "integration", "files", "notify_pagerduty.yml"),
               "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + os.path.join(REPO, ".venv", "bin", "python"),
               "-e", json.dumps(dict(rollback_pagerduty=options, events=events))]
    if verbosity:
        command.append("-" + "v" * verbosity)
    return subprocess.run(command, cwd=REPO, env=lab_env, capture_output=True, text=True, timeout=600, check=False)


def event(name, run_id, text="lab level 1 (demo-compose)"):
    return dict(event=name, run_id=run_id, text=text)


def test_a_run_pages_at_start_resolves_at_the_end_and_escalates_a_failure(lab_env, pagerduty):
    options = dict(routing_key=ROUTING_KEY, url=pagerduty.enqueue_url, escalation_routing_key=ESCALATION_KEY)
    run = notify(lab_env, options, [event("start", "run-1"), event("end", "run-1"), event("start", "run-2"),
                                    event("failure", "run-2"), event("approval", "approval-lab-demo-server"),
                                    event("notice", "run-3")], verbosity=3)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert pagerduty.rejected == [], pagerduty.rejected
    assert [(e["event_action"], e["dedup_key"]) for e in pagerduty.events] == [
        ("trigger", "run-1"), ("resolve", "run-1"), ("trigger", "run-2"), ("trigger", "run-2"),
        ("trigger", "run-2-escalation"), ("trigger", "approval-lab-demo-server")]
    assert pagerduty.state("run-1") == "resolved" and pagerduty.state("run-2") == "triggered"
    # Pages: each run's alert, the escalation (on the escalation service) and the approval request; no notice.
    assert [(p["dedup_key"], p["routing_key"]) for p in pagerduty.pages] == [
        ("run-1", ROUTING_KEY), ("run-2", ROUTING_KEY), ("run-2-escalation", ESCALATION_KEY),
        ("approval-lab-demo-server", ROUTING_KEY)]
    failure = pagerduty.events[3]["payload"]
    assert failure["severity"] == "critical" and failure["summary"].startswith("ROLLBACK FAILED - escalate: ")
    assert pagerduty.events[0]["payload"]["custom_details"] == dict(
        run_id="run-1", environment="lab", level=1, reason="alert RollbackErrorRateHigh", operator="ansible-rulebook",
        event="start", services=["demo-compose"])
    assert ROUTING_KEY not in run.stdout + run.stderr and ESCALATION_KEY not in run.stdout + run.stderr


def test_throttling_is_retried_and_an_unreachable_pagerduty_is_a_warning(lab_env, pagerduty):
    pagerduty.answers = [429, 503]
    run = notify(lab_env, dict(routing_key=ROUTING_KEY, url=pagerduty.enqueue_url), [event("start", "run-4")])
    assert run.returncode == 0, run.stdout[-3000:]
    assert [e["dedup_key"] for e in pagerduty.events] == ["run-4"], "accepted on the third attempt"
    down = notify(lab_env, dict(routing_key=ROUTING_KEY, url="http://127.0.0.1:9/v2/enqueue", retries=0),
                  [event("end", "run-4")])
    assert down.returncode == 0, down.stdout[-3000:]
    assert "PagerDuty did not accept the end event(s) (HTTP no answer): page on-call by hand" in " ".join(
        down.stdout.replace("'", "").split())


def test_a_misspelt_option_is_refused_before_anything_is_sent(lab_env, pagerduty):
    run = notify(lab_env, dict(routing_key=ROUTING_KEY, url=pagerduty.enqueue_url, severty="warning"),
                 [event("start", "run-5")])
    assert run.returncode != 0
    assert "severty" in run.stdout and pagerduty.events == []
    assert ROUTING_KEY not in run.stdout + run.stderr
