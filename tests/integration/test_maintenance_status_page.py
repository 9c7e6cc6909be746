"""Runbook 004's maintenance mode and the status page, around a level 3 rollback of the lab."""

import json
import os

import pytest
from playbook_runs import databases, db_items, deploy_bad, lock_path, run_playbook, versions
from support.http_servers import free_port, webhook_receiver

MAINTENANCE_TOKEN = "maint-token-5f0c1e"
STATUS_TOKEN = "status-token-9a7d22"


@pytest.fixture
def receiver():
    background = webhook_receiver()
    yield background
    background.stop()


def extra_vars(maintenance_base, status_base):
    return json.dumps({
        "rollback_maintenance_endpoint": {"enable_url": maintenance_base + "/admin/maintenance/enable",
                                          "disable_url": maintenance_base + "/admin/maintenance/disable",
                                          "token": MAINTENANCE_TOKEN},
        "rollback_status_page": {"url": status_base + "/v1/pages/P1/incidents", "token": STATUS_TOKEN,
                                 "component": "demo-api"},
    })


def test_level3_enables_and_disables_maintenance_and_updates_the_status_page(lab, lab_env, receiver):
    deploy_bad(lab_env)
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", extra_vars(receiver.url, receiver.url))
    assert run.rc == 0, run.output[-4000:]
    calls = [(m["path"], m["body"].get("status"), m["body"].get("maintenance")) for m in receiver.messages]
    assert calls == [
        ("/v1/pages/P1/incidents", "identified", None),
        ("/admin/maintenance/enable", None, True),
        ("/admin/maintenance/disable", None, False),
        ("/v1/pages/P1/incidents", "monitoring", None),
    ]
    tokens = [m["headers"].get("Authorization") for m in receiver.messages]
    assert tokens == ["Bearer " + STATUS_TOKEN, "Bearer " + MAINTENANCE_TOKEN, "Bearer " + MAINTENANCE_TOKEN,
                      "Bearer " + STATUS_TOKEN]
    assert receiver.messages[0]["body"]["component"] == "demo-api"
    assert receiver.messages[-1]["body"]["message"].startswith("Rollback SUCCEEDED")
    assert MAINTENANCE_TOKEN not in run.output and STATUS_TOKEN not in run.output
    now = versions(lab_env)
    assert [now[target] for target in ("kubernetes", "compose", "server", "config")] == ["1.0.0"] * 4


def test_an_unreachable_maintenance_endpoint_stops_level3_before_any_change(lab, lab_env, receiver):
    deploy_bad(lab_env, backups=False)  # stopped at traffic_stop: nothing is restored (earlier dumps plan it)
    before = dict(versions=versions(lab_env), items=db_items(lab), databases=databases(lab))
    dead = "http://127.0.0.1:%d" % free_port()
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", extra_vars(dead, receiver.url))
    assert run.rc != 0
    assert "maintenance mode enable failed: the endpoint answered nothing (unreachable)" in run.output
    assert dict(versions=versions(lab_env), items=db_items(lab), databases=databases(lab)) == before
    assert run.report["outcome"] == "failed"
    assert run.report["failure"]["phase"] == "traffic_stop" and run.report["changed"] == [], run.output[-5000:]
    assert [m["body"]["status"] for m in receiver.messages] == ["identified", "investigating"]
    assert MAINTENANCE_TOKEN not in run.output
    assert not os.path.exists(lock_path(lab))


def test_a_status_page_that_fails_is_only_a_warning(lab, lab_env):
    dead = "http://127.0.0.1:%d" % free_port()
    deploy_bad(lab_env, backups=False)
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=1",
                       "-e", json.dumps({"rollback_status_page": {"url": dead + "/incidents", "token": STATUS_TOKEN}}))
    assert run.rc == 0, run.output[-4000:]
    assert "the status page was not updated for start" in run.output
    assert STATUS_TOKEN not in run.output
