"""The automatic rollback's gates and guards, from Alertmanager notifications as Alertmanager 0.25 posts them
(tests/support/alertmanager.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from support.alertmanager import alert as support_alert
from support.alertmanager import go_time, notification

from ansible_collections.rollback.core.plugins.module_utils import auto_rollback
from ansible_collections.rollback.core.plugins.module_utils.alertmanager import iso, parse_time
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

NOW = 1767268800.0  # 2026-01-01T12:00:00Z
SERVICES = ["demo-compose", "demo-server", "demo-kubernetes"]


class FakeModule:
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode


def alert(starts=NOW - 60, **labels):
    return support_alert(starts=starts, **labels)


def marker(tmp_path, service, started=NOW - 300, status="done", deploy_id="deploy-7", services=None, **flags):
    directory = tmp_path / "deploys"
    directory.mkdir(exist_ok=True)
    document = dict(service=service, deploy_id=deploy_id, version="1.0.1", previous_version="1.0.0", status=status,
                    started_at=iso(started), finished_at=iso(started + 20) if status != "in_progress" else None,
                    services=services or [service], **flags)
    (directory / (service + ".json")).write_text(json.dumps(document))


def params(tmp_path, note, **extra):
    values = dict((name, spec.get("default")) for name, spec in auto_rollback.SPEC.items())
    values.update(notification=note, environment="lab", services=list(SERVICES), marker_dir=str(tmp_path / "deploys"),
                  state_dir=str(tmp_path / "state"), lock=dict(backend="file", lock_dir=str(tmp_path / "locks")),
                  inventory="inventories/lab", freeze_windows=[], thresholds={})
    values.update(extra)
    return values


def decide(tmp_path, note, now=NOW, check_mode=False, **extra):
    return auto_rollback.run(FakeModule(params(tmp_path, note, **extra), check_mode=check_mode), now=now)


def test_a_p1_trigger_after_a_deploy_rolls_back_level_1_and_is_recorded(tmp_path):
    marker(tmp_path, "demo-compose")
    result = decide(tmp_path, notification(alert(), alert(name="RollbackHealthCheckFailing", value="4",
                                                          signal="consecutive_health_failures")))
    assert result["verdict"] == "run" and result["approval"] is None and result["notices"] == []
    assert result["run"]["level"] == 1 and result["run"]["services"] == ["demo-compose"]
    assert "RollbackErrorRateHigh on demo-compose = 50" in result["run"]["reason"]
    assert "RollbackHealthCheckFailing on demo-compose = 4" in result["run"]["reason"]
    service = result["services"][0]
    assert service["signals"] == dict(error_rate_percent=50.0, consecutive_health_failures=4)
    assert service["decision"]["action"] == "ROLLBACK" and "error_rate" in service["decision"]["rules"]
    assert result["changed"] is True
    assert [(e["service"], e["action"], e["deploy_id"]) for e in result["recorded"]] == [
        ("demo-compose", "run", "deploy-7")]


def test_a_second_alert_within_the_window_does_not_roll_back_twice(tmp_path):
    marker(tmp_path, "demo-compose")
    assert decide(tmp_path, notification(alert()))["verdict"] == "run"
    health = alert(name="RollbackHealthCheckFailing", value="3", signal="consecutive_health_failures")
    again = decide(tmp_path, notification(health), now=NOW + 120)
    assert again["verdict"] == "notify" and again["run"] is None and again["changed"] is False
    assert "already rolled back automatically at 2026-01-01T12:00:00.000Z" in again["notice_text"]
    assert "escalate" in again["notice_text"]
    later = decide(tmp_path, notification(alert(starts=NOW + 3000)), now=NOW + 3700)
    assert "already rolled back" not in later["notice_text"], "the window is over"


@pytest.mark.parametrize("setup,expected", [
    (lambda tmp: None, "no deploy of demo-compose is recorded"),
    (lambda tmp: marker(tmp, "demo-compose", started=NOW), "fired at 2026-01-01T11:59:00.000Z, before deploy deploy-7"),
    (lambda tmp: marker(tmp, "demo-compose", started=NOW - 4000),
     "after deploy deploy-7 of demo-compose started, outside the 30 min window: not deploy-related"),
    (lambda tmp: marker(tmp, "demo-compose", status="in_progress"), "is still running on demo-compose"),
    (lambda tmp: (tmp / "deploys").mkdir() or (tmp / "deploys" / "demo-compose.json").write_text("{not json"),
     "the deploy marker of demo-compose cannot be read"),
])
def test_an_alert_that_does_not_follow_a_deploy_only_notifies(tmp_path, setup, expected):
    setup(tmp_path)
    result = decide(tmp_path, notification(alert()))
    assert result["verdict"] == "notify" and result["run"] is None and result["recorded"] == []
    assert result["notices"][0]["services"] == ["demo-compose"]
    assert expected in result["notices"][0]["message"], result["notices"]
    assert result["notices"][0]["message"].startswith("demo-compose: no automatic rollback on RollbackErrorRateHigh: ")


def test_an_abandoned_in_progress_marker_counts_as_finished(tmp_path):
    marker(tmp_path, "demo-compose", status="in_progress", started=NOW - 900)
    assert decide(tmp_path, notification(alert()), deploy_timeout=600)["verdict"] == "run"


def test_escalation_triggers_and_other_levels_only_request_approval(tmp_path):
    marker(tmp_path, "demo-compose")
    marker(tmp_path, "demo-server", config_changed=True)
    result = decide(tmp_path, notification(
        alert(name="RollbackErrorRateElevated", value="0.8", priority="P2", runbook="000"),
        alert(service="demo-server")))
    assert result["verdict"] == "approval" and result["run"] is None
    approval = result["approval"]
    assert approval["services"] == ["demo-compose", "demo-server"] and approval["level"] == 2
    assert any("P2, not pre-approved" in text for text in approval["because"])
    assert any("level 2 is not pre-approved" in text for text in approval["because"])
    assert approval["command"].startswith("ansible-playbook playbooks/rollback.yml -i inventories/lab -e level=2 "
                                          "-e services=demo-compose,demo-server -e 'reason=Alertmanager: ")
    assert "confirm_data_loss" not in approval["command"]
    assert approval["command"] in approval["message"]
    assert [e["action"] for e in result["recorded"]] == ["approval", "approval"]
    again = decide(tmp_path, notification(alert(service="demo-server")), now=NOW + 60)
    assert again["verdict"] == "notify" and "approval to roll back demo-server was already requested" in \
        again["notice_text"]


def test_a_level_3_recommendation_only_requests_approval_with_the_data_loss_confirmation(tmp_path):
    marker(tmp_path, "demo-server")
    result = decide(tmp_path, notification(alert(service="demo-server", name="DatabaseUnavailable", value="1",
                                                 signal="database_lost", runbook="000")),
                    require_confirmation=True)
    assert result["verdict"] == "approval" and result["approval"]["level"] == 3
    assert "level 3 is not pre-approved" in " ".join(result["approval"]["because"])
    assert result["approval"]["command"].endswith("-e confirm_data_loss=true -e confirm=true")
    # As the production survey takes them (AWX mixins.py _survey_element_validation: multiplechoice values are
    # its string choices, a multiselect is a list, text is a string).
    survey = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "awx", "surveys",
                                         "rollback-production.json")))
    extra_vars = result["approval"]["extra_vars"]
    for question in survey["spec"]:
        value = extra_vars[question["variable"]]
        if question["type"] == "multiplechoice":
            assert value in question["choices"], question["variable"]
        elif question["type"] == "multiselect":
            assert isinstance(value, list)
        else:
            assert isinstance(value, str)
    assert (extra_vars["level"], extra_vars["confirm_data_loss"]) == ("3", "yes")
    assert extra_vars["services"] == ["demo-server"] and extra_vars["databases"] == []


def test_a_table_that_does_not_say_rollback_asks_for_approval(tmp_path):
    marker(tmp_path, "demo-compose")
    result = decide(tmp_path, notification(alert(name="RollbackErrorRateSustained", value="2", runbook="000")))
    assert result["verdict"] == "approval"
    assert "the decision table says EVALUATE, not ROLLBACK" in result["approval"]["because"]
    strict = decide(tmp_path, notification(alert(name="RollbackErrorRateSustained", value="2", runbook="000")),
                    thresholds=dict(error_rate_rollback=1), now=NOW + 1, state_dir=str(tmp_path / "other-state"))
    assert strict["verdict"] == "run", "runbook 000's environment rolls back above 1%"


def test_a_freeze_turns_the_automatic_rollback_into_an_approval_request(tmp_path):
    marker(tmp_path, "demo-compose")
    windows = [dict(start="2026-01-01T11:00:00Z", end="2026-01-01T13:00:00+00:00", reason="year-end freeze")]
    result = decide(tmp_path, notification(alert()), freeze_windows=windows)
    assert result["verdict"] == "approval" and result["run"] is None
    assert "a freeze is declared from 2026-01-01T11:00:00.000Z to 2026-01-01T13:00:00.000Z (year-end freeze)" in \
        result["approval"]["message"]
    freeze_file = tmp_path / "freeze"
    freeze_file.write_text("incident 42 under investigation\n")
    result = decide(tmp_path, notification(alert()), freeze_file=str(freeze_file), state_dir=str(tmp_path / "s2"))
    assert result["verdict"] == "approval"
    assert "a freeze is declared in %s (incident 42 under investigation)" % freeze_file in result["approval"]["message"]


def test_another_rollback_holding_the_lock_stops_everything(tmp_path):
    marker(tmp_path, "demo-compose")
    (tmp_path / "locks").mkdir()
    holder = dict(owner="alice@ops", run_id="run-9", since="2026-01-01T11:59:00Z", expires="2026-01-01T12:59:00Z",
                  expires_epoch=int(NOW) + 3540, info=dict(level="3"))
    (tmp_path / "locks" / "lab.lock").write_text(json.dumps(holder))
    result = decide(tmp_path, notification(alert()))
    assert result["verdict"] == "notify" and result["recorded"] == []
    assert "another rollback holds the lock of lab: alice@ops (run run-9, level 3)" in result["notice_text"]
    holder["expires_epoch"] = int(NOW) - 1
    (tmp_path / "locks" / "lab.lock").write_text(json.dumps(holder))
    assert decide(tmp_path, notification(alert()))["verdict"] == "run", "an expired lock holds nothing"


def test_dry_run_and_check_mode_start_and_record_nothing(tmp_path):
    marker(tmp_path, "demo-compose")
    dry = decide(tmp_path, notification(alert()), dry_run=True)
    assert dry["verdict"] == "notify" and dry["run"] is None and dry["recorded"] == []
    assert "dry run: would roll back automatically at level 1" in dry["notice_text"]
    checked = decide(tmp_path, notification(alert()), check_mode=True)
    assert checked["verdict"] == "run" and checked["changed"] is False and checked["recorded"] == []
    assert not os.path.exists(tmp_path / "state" / "lab.json")


def test_scope_deploy_takes_the_whole_deploy_back_together(tmp_path):
    deploy = ["demo-compose", "demo-server", "demo-kubernetes"]
    for service in deploy:
        marker(tmp_path, service, services=deploy)
    result = decide(tmp_path, notification(alert()), scope="deploy")
    assert result["verdict"] == "run" and result["run"]["services"] == sorted(deploy)
    assert result["run"]["reason"].endswith("with demo-kubernetes, demo-server (same deploy)")
    # A member deployed again since is not part of that deploy any more; one still deploying stops the whole deploy.
    marker(tmp_path, "demo-kubernetes", deploy_id="deploy-8", services=["demo-kubernetes"])
    result = decide(tmp_path, notification(alert()), scope="deploy", state_dir=str(tmp_path / "s2"))
    assert result["run"]["services"] == ["demo-compose", "demo-server"]
    assert "demo-kubernetes was part of deploy deploy-7 but its marker now says deploy deploy-8 (done)" in \
        result["notice_text"]
    marker(tmp_path, "demo-server", status="in_progress", services=deploy)
    result = decide(tmp_path, notification(alert()), scope="deploy", state_dir=str(tmp_path / "s3"))
    assert result["verdict"] == "notify" and "still running on demo-server" in result["notice_text"]


def test_scope_deploy_waits_for_approval_when_one_member_needs_it(tmp_path):
    deploy = ["demo-compose", "demo-server"]
    marker(tmp_path, "demo-compose", services=deploy)
    marker(tmp_path, "demo-server", services=deploy)
    result = decide(tmp_path, notification(alert(), alert(service="demo-server", priority="P2")), scope="deploy")
    assert result["verdict"] == "approval" and result["approval"]["services"] == deploy
    assert any("rolled back as a whole and demo-server needs approval" in t for t in result["approval"]["because"])


def test_the_same_notices_are_said_once_per_window(tmp_path):
    first = decide(tmp_path, notification(alert()))
    assert first["verdict"] == "notify" and first["notices_repeated"] is False
    again = decide(tmp_path, notification(alert()), now=NOW + 30)
    assert again["notice_text"] == first["notice_text"] and again["notices_repeated"] is True
    other = decide(tmp_path, notification(alert(service="demo-server")), now=NOW + 60)
    assert other["notices_repeated"] is False, "a different notice is said"


def test_alerts_the_inventory_cannot_place_and_resolved_alerts(tmp_path):
    marker(tmp_path, "demo-compose")
    result = decide(tmp_path, notification(alert(service="payments"), alert(status="resolved"),
                                           dict(alert(), labels=dict(alertname="NoService")), truncatedAlerts=2))
    assert result["verdict"] == "notify" and result["run"] is None
    texts = [n["message"] for n in result["notices"]]
    assert any("names payments, which is not in the inventory's services" in t for t in texts)
    assert any("has no service label" in t for t in texts)
    assert any("left 2 alert(s) out of this notification" in t for t in texts)
    assert [a["alertname"] for a in result["resolved"]] == ["RollbackErrorRateHigh"]


@pytest.mark.parametrize("note,extra,message", [
    ([], {}, "the notification is not a JSON object"),
    (dict(version="3", alerts=[]), {}, "payload version '3', expected \"4\""),
    (dict(version="4"), {}, "the Alertmanager notification has no alerts list"),
    (dict(version="4", alerts=[dict(alert(), startsAt="yesterday")]), {}, "startsAt not an RFC 3339 time"),
    (dict(version="4", alerts=[dict(alert(), status="pending")]), {}, "has status 'pending'"),
    (dict(version="4", alerts=[]), dict(pre_approved_levels=[1, 3]), "level 3 restores a database"),
    (dict(version="4", alerts=[]), dict(throttle_window=0), "throttle_window must be at least 1 second"),
    (dict(version="4", alerts=[]), dict(thresholds=dict(error_rate=5)), "unknown threshold(s) error_rate"),
    (dict(version="4", alerts=[]), dict(freeze_windows=[dict(start="2026-01-02T00:00:00Z",
                                                             end="2026-01-01T00:00:00Z")]), "ends (2026-01-01"),
])
def test_bad_input_is_refused_before_anything_is_read_or_written(tmp_path, note, extra, message):
    with pytest.raises(RollbackError) as error:
        decide(tmp_path, note, **extra)
    assert message in error.value.msg
    assert not os.path.exists(tmp_path / "state")


def test_go_times_parse_to_the_nanosecond_and_with_offsets():
    assert parse_time("2026-01-01T12:00:00.123456789Z") == pytest.approx(NOW + 0.123456789)
    assert parse_time("2026-01-01T13:30:00+01:30") == NOW
    assert parse_time(go_time(NOW + 0.5)) == NOW + 0.5
    with pytest.raises(ValueError):
        parse_time("2026-01-01 12:00")
