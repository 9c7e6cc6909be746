"""Runbook 004's maintenance mode and the status page, around a level 3 rollback of the lab.

What a successful level 3 run does with them is read from the level 3 drill, which runs with both
(test_playbook_rollback.py, test_level3_drill_enables_and_disables_maintenance_and_updates_the_status_page).
"""

import json
import os

import pytest
from playbook_runs import (MAINTENANCE_TOKEN, STATUS_TOKEN, bad_release_untouched, databases, db_items, deploy_bad,
                           lock_path, maintenance_vars, run_playbook, versions)
from support.http_servers import free_port, webhook_receiver


@pytest.fixture
def receiver():
    background = webhook_receiver()
    yield background
    background.stop()


def test_an_unreachable_maintenance_endpoint_stops_level3_before_any_change(lab, lab_env, receiver):
    deploy_bad(lab_env, backups=False)  # stopped at traffic_stop: nothing is restored (earlier dumps plan it)
    before = dict(versions=versions(lab_env), items=db_items(lab), databases=databases(lab))
    dead = "http://127.0.0.1:%d" % free_port()
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", maintenance_vars(dead, receiver.url))
    assert run.rc != 0
    assert "maintenance mode enable failed: the endpoint answered nothing (unreachable)" in run.output
    assert dict(versions=versions(lab_env), items=db_items(lab), databases=databases(lab)) == before
    assert run.report["outcome"] == "failed"
    assert run.report["failure"]["phase"] == "traffic_stop" and run.report["changed"] == [], run.output[-5000:]
    assert [m["body"]["status"] for m in receiver.messages] == ["identified", "investigating"]
    assert MAINTENANCE_TOKEN not in run.output
    assert not os.path.exists(lock_path(lab))
    bad_release_untouched(backups=False)


def test_a_status_page_that_fails_is_only_a_warning(lab, lab_env):
    dead = "http://127.0.0.1:%d" % free_port()
    deploy_bad(lab_env, backups=False)
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=1",
                       "-e", json.dumps({"rollback_status_page": {"url": dead + "/incidents", "token": STATUS_TOKEN}}))
    assert run.rc == 0, run.output[-4000:]
    assert "the status page was not updated for start" in run.output
    assert STATUS_TOKEN not in run.output
