"""playbooks/rollback.yml, production.yml and drill.yml against the lab: every level, every target type."""

import json
import os
import re
import shutil
import threading
import time

import boto3
import pytest
from playbook_runs import (
    MAINTENANCE_TOKEN,
    STATUS_TOKEN,
    databases,
    db_items,
    deploy_bad,
    deploy_marker,
    lock_path,
    playbook_in_background,
    reports,
    restore_points,
    run_playbook,
    ssh_logins,
    state,
    versions,
)
from support.demo_images import demo_image
from support.http_servers import webhook_receiver

GOOD = {"kubernetes": "1.0.0", "compose": "1.0.0", "server": "1.0.0", "swarm": "1.0.0", "bluegreen": "1.0.0"}


def targets(current):
    return dict((k, current[k]) for k in GOOD)


def configmap_version(lab):
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=lab["LAB_KUBECONFIG"]))
    return api.read_namespaced_config_map("demo-config", "default").data["version"]


@pytest.fixture
def webhook():
    receiver = webhook_receiver()
    yield receiver
    receiver.stop()


def test_level1_rolls_back_every_target_verifies_reports_notifies_and_a_rerun_changes_nothing(lab, lab_env, webhook):
    deploy_bad(lab_env, backups=False)
    before, logins = state(lab, lab_env), ssh_logins(lab)
    url = webhook.url + "/services/T0/B0/webhook-secret-token"
    run = run_playbook(dict(lab_env, ROLLBACK_WEBHOOK_URL=url), "rollback.yml", "-e", "level=1",
                       "-e", "reason='error rate 100%'")
    assert run.rc == 0, run.output[-4000:]
    after = state(lab, lab_env)
    assert targets(after["versions"]) == GOOD
    assert after["versions"]["config"] == "1.0.1", "level 1 must not touch the configuration"
    assert after["items"] == before["items"], "level 1 must not touch the database"
    assert not after["lock"], "the lock must be released"

    report = run.report
    assert report["outcome"] == "succeeded"
    assert report["level"] == 1 and report["reason"] == "error rate 100%"
    assert dict((v["service"], (v["from_version"], v["to_version"])) for v in report["versions"]) == {
        "demo-kubernetes": (demo_image("1.0.1"), demo_image("1.0.0")), "demo-compose": ("1.0.1", "1.0.0"),
        "demo-server": ("v1.0.1", "v1.0.0"), "demo-swarm": ("1.0.1", "1.0.0"),
        "demo-bluegreen": ("green", "blue (1.0.0)")}
    assert [v["passed"] for v in report["verification"]] == [True] * 5
    phases = [p["name"] for p in report["timeline"]["phases"]]
    assert phases.index("preflight") < phases.index("app") < phases.index("verify")
    assert report["timeline"]["budget_seconds"] == 300 and report["timeline"]["within_budget"]
    with open(os.path.join(run.report_dir, "report.md")) as handle:
        markdown = handle.read()
    assert "**SUCCEEDED**" in markdown and "| demo-server | server | v1.0.1 | v1.0.0 | changed |" in markdown
    assert "ROLLBACK TIMELINE" in run.output
    # ansible-core 2.19 warns "Encountered 1 template error" for a task name that does not render (an
    # {{ item }} in the name of a task whose loop is empty): noise an operator would read as a fault.
    assert "template error" not in run.output, run.output[-3000:]
    assert ssh_logins(lab) > logins, "demo-server rolled back over SSH on the lab's remote host"
    # The hosts whose modules run in the controller's own Python share one library check, on localhost; each other
    # host checks its own Python (demo-server over SSH): a worker per host to check the same Python is gone.
    host_checks = run.output.split("PLAY [Preflight - every host")[1].split("PLAY [")[0]
    assert re.findall(r"(?:ok|changed|fatal): \[([^\]]+)\]", host_checks) == ["demo-server"], host_checks
    assert re.search(r"Check the Python libraries of the modules the controller runs for the run's hosts\] \**\n"
                     r"ok: \[localhost\]", run.output)
    # The five targets roll back in one task, at the same time (one task file per target type made Ansible's
    # lockstep run the files one after another: the Swarm service waited for Kubernetes to finish).
    rollback_play = run.output.split("PLAY [Rollback]")[1].split("PLAY [")[0]
    app_tasks = [t for t in rollback_play.split("TASK [rollback.core.app : ")[1:] if not t.startswith("Validating")]
    assert len(app_tasks) == 1 and app_tasks[0].startswith("Roll the service back on its target")
    assert all("changed: [demo-%s]" % target in app_tasks[0].split("TASK [")[0] for target in GOOD)

    texts = [m["body"]["text"] for m in webhook.messages]
    assert len(texts) == 2 and texts[0].startswith("Rollback started: lab level 1")
    assert texts[1].startswith("Rollback SUCCEEDED") and "demo-compose 1.0.1 -> 1.0.0" in texts[1]
    assert all(m["body"]["blocks"][0]["type"] == "section" for m in webhook.messages)
    assert all(m["path"] == "/services/T0/B0/webhook-secret-token" for m in webhook.messages)
    assert "webhook-secret-token" not in run.output

    # A re-run continues idempotently: no target is undone a second time (kubectl rollout undo twice would put the
    # bad Deployment back; the server would go one release further back, here: fail, v1.0.0 being the oldest).
    # While it holds the environment's lock, a second rollback of the environment is refused.
    with playbook_in_background(lab_env, "rollback.yml", "-e", "level=1") as (rerun, finish):
        deadline = time.monotonic() + 60
        while not os.path.exists(lock_path(lab)) and time.monotonic() < deadline and rerun.poll() is None:
            time.sleep(0.1)
        with open(lock_path(lab)) as handle:
            holder = json.load(handle)
        refused = run_playbook(lab_env, "rollback.yml", "-e", "level=1")
        second = finish()
    assert second.rc == 0, second.output[-4000:]
    assert refused.rc != 0
    assert "another rollback holds the lock lab" in refused.output and holder["run_id"] in refused.output
    assert refused.report_dir is None, "the refused run changes nothing and writes no report"
    assert holder["run_id"] == second.report["run_id"]
    assert not os.path.exists(lock_path(lab))
    assert targets(versions(lab_env)) == GOOD
    assert dict((v["service"], v["status"]) for v in second.report["versions"]) == dict(
        (v["service"], "unchanged") for v in report["versions"])
    assert [(h["host"], p["phase"]) for h in second.report["hosts"] for p in h["phases"]
            if p["status"] == "changed"] == []
    with open(os.path.join(lab["LAB_SERVER_RELEASES_DIR"], ".rollback-undo.json")) as handle:
        assert json.load(handle)["run_id"] == report["run_id"], "the second run wrote no record"


def test_level1_of_one_service_leaves_the_others(lab, lab_env):
    deploy_bad(lab_env, backups=False)
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=1", "-e", "services=demo-compose")
    assert run.rc == 0, run.output[-4000:]
    assert targets(versions(lab_env)) == dict(GOOD, kubernetes="1.0.1", server="1.0.1", swarm="1.0.1",
                                              bluegreen="1.0.1")
    assert [h["host"] for h in run.report["hosts"]] == ["demo-compose"]


def test_level2_restores_configuration_then_application(lab, lab_env):
    deploy_bad(lab_env)
    before = state(lab, lab_env)
    backups = sorted(f for f in os.listdir(os.path.dirname(lab["LAB_SERVER_ENV_FILE"]))
                     if f.startswith("app.env.backup-"))
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=2")
    assert run.rc == 0, run.output[-4000:]
    after = state(lab, lab_env)
    assert targets(after["versions"]) == GOOD
    assert after["versions"]["config"] == "1.0.0", "etcd keys restored from the pre-deploy backup"
    assert configmap_version(lab) == "1.0.0", "ConfigMap restored"
    with open(os.path.join(os.path.dirname(lab["LAB_SERVER_ENV_FILE"]), backups[-1])) as handle:
        assert after["env_file"] == handle.read(), "env file restored byte for byte from the newest backup"
    assert after["items"] == before["items"], "level 2 must not touch the database"
    statuses = dict((h["host"], dict((p["phase"], p["status"]) for p in h["phases"])) for h in run.report["hosts"])
    assert statuses["demo-server"] == {"config": "changed", "app": "changed", "verify": "unchanged"}
    assert statuses["demo-kubernetes"]["config"] == "changed"


def test_level3_drill_restores_the_database_and_keeps_the_old_one(lab, lab_env, level3_drill):
    before_drill = level3_drill.deploy_before  # the deploy before the drill (labctl deploy --no-backup)
    items_at_good = level3_drill.items_before
    run = level3_drill.run
    assert run.rc == 0, run.output[-4000:]
    assert "every target runs 1.0.0 again" in run.output
    assert "template error" not in run.output, "a task name that does not render (see the level 1 test)"
    assert db_items(lab) == items_at_good, "the database is back to the pre-deploy dump"

    report = run.report
    # The drill took its restore points with playbooks/backup.yml between its good and bad deploys (the bad deploy,
    # labctl deploy --no-backup, carried that backup's deploy id on), and the rollback restored exactly those.
    drill_deploy = deploy_marker(lab, "demo-server")["deploy_id"]
    assert drill_deploy != before_drill
    taken = restore_points(lab, drill_deploy)
    assert sorted(taken) == ["demo-bluegreen", "demo-compose", "demo-kubernetes", "demo-postgres", "demo-rds",
                             "demo-server", "demo-swarm"], "every service and database of the lab"
    items = dict(((owner, i["kind"]), i.get("path") or i.get("snapshot")) for owner, manifest in taken.items()
                 for i in manifest["items"] if i["kind"] != "marker")
    used = dict(((r["host"], r["kind"]), (r["restore_point"], r["backup"])) for r in report["restore_points"])
    assert used == dict((key, (taken[key[0]]["restore_point"], backup)) for key, backup in items.items()), used
    assert all(r["deploy_id"] == drill_deploy and r["stale"] is False for r in report["restore_points"])
    backups_used = dict((d["host"], d["backup_used"]) for d in report["databases_restored"])
    assert backups_used == {"demo-postgres": items[("demo-postgres", "postgres")],
                            "demo-rds": items[("demo-rds", "rds")]}
    assert "restore point %s" % taken["demo-postgres"]["restore_point"] in run.output
    postgres = next(d for d in report["databases_restored"] if d["host"] == "demo-postgres")
    assert postgres["previous"] in databases(lab), "the replaced database is kept"
    assert db_items(lab, postgres["previous"]) == items_at_good + ["written-by-1.0.1"], "with the lost writes"
    assert os.path.exists(postgres["emergency_backup"])
    assert postgres["data_loss_window"]["seconds"] >= 0
    rds = next(d for d in report["databases_restored"] if d["host"] == "demo-rds")
    client = boto3.client("rds", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    assert client.describe_db_instances(DBInstanceIdentifier=rds["previous"])["DBInstances"]
    assert rds["backup_used"].startswith("demo-db-predeploy-")

    assert versions(lab_env)["kubernetes_replicas"] == 2, "traffic resumed with the saved replica count"
    assert not os.path.exists(lab["LAB_SERVER_MAINTENANCE_FILE"])
    phases = [p["name"] for p in report["timeline"]["phases"]]
    assert [p["name"] for p in report["timeline"]["phases"][:3]] == ["deploy", "backup", "deploy"]
    for earlier, later in [("deploy", "detect"), ("detect", "preflight"), ("traffic_stop", "database"),
                           ("database", "config"), ("config", "app"), ("app", "traffic_resume"),
                           ("traffic_resume", "verify")]:
        assert phases.index(earlier) < phases.index(later)
    deploy = next(p for p in report["timeline"]["phases"] if p["name"] == "deploy")
    assert deploy["start"] < 0, "the drill's deploys are before the clock starts"


def test_level3_drill_enables_and_disables_maintenance_and_updates_the_status_page(level3_drill):
    """Runbook 004's maintenance mode and status page around a level 3 run (test_maintenance_status_page.py has the
    failures): the drill runs with both, on one receiver."""
    run, messages = level3_drill.run, level3_drill.status_messages
    assert run.rc == 0, run.output[-4000:]
    calls = [(m["path"], m["body"].get("status"), m["body"].get("maintenance")) for m in messages]
    assert calls == [
        ("/v1/pages/P1/incidents", "identified", None),
        ("/admin/maintenance/enable", None, True),
        ("/admin/maintenance/disable", None, False),
        ("/v1/pages/P1/incidents", "monitoring", None),
    ]
    tokens = [m["headers"].get("Authorization") for m in messages]
    assert tokens == ["Bearer " + STATUS_TOKEN, "Bearer " + MAINTENANCE_TOKEN, "Bearer " + MAINTENANCE_TOKEN,
                      "Bearer " + STATUS_TOKEN]
    assert messages[0]["body"]["component"] == "demo-api"
    assert messages[-1]["body"]["message"].startswith("Rollback SUCCEEDED")
    assert MAINTENANCE_TOKEN not in run.output and STATUS_TOKEN not in run.output, "not even at -vvv"


def test_a_failure_mid_level3_stops_reports_releases_the_lock_and_a_rerun_completes(lab, lab_env, webhook):
    deploy_bad(lab_env)
    saved = os.path.join(lab["LAB_DIR"], "backups", "pre-rollback")
    # The config phase saves the current config there. Removed once the database phase has swapped the database
    # in (after the plan, which refuses a missing directory before any change): the config phase fails mid-run.
    before, done, fault = set(databases(lab)), threading.Event(), []

    def remove_when_the_database_is_swapped():
        while not done.wait(0.2):
            if any("_pre_rollback_" in name for name in set(databases(lab)) - before):
                shutil.rmtree(saved)
                fault.append(time.monotonic())
                return

    watcher = threading.Thread(target=remove_when_the_database_is_swapped, daemon=True)
    watcher.start()
    env = dict(lab_env, ROLLBACK_WEBHOOK_URL=webhook.url + "/hook")
    try:
        run = run_playbook(env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true")
    finally:
        done.set()
        watcher.join()
    assert fault, "the fault was injected during the run"
    assert run.rc != 0
    assert "ROLLBACK FAILED in phase config" in run.output
    report = run.report
    assert report["outcome"] == "failed" and report["failure"]["phase"] == "config"
    assert {"demo-postgres: database", "demo-rds: database", "demo-kubernetes: traffic_stop",
            "demo-compose: traffic_stop", "demo-server: traffic_stop", "demo-swarm: traffic_stop"} <= set(
        report["changed"])
    for host in report["hosts"]:
        statuses = dict((p["phase"], p["status"]) for p in host["phases"])
        if host["host"].startswith("demo-") and "app" in statuses:
            assert statuses["app"] == statuses["verify"] == "not run"
            # Issue 21 point 5: the databases were restored, so the traffic this run stopped is resumed.
            assert statuses["traffic_resume"] == "changed", host
    current = versions(lab_env)
    assert (current["kubernetes"], current["compose"]) == ("1.0.1", "1.0.1"), "the application phase did not run"
    assert os.readlink(os.path.join(lab["LAB_SERVER_RELEASES_DIR"], "current")).endswith("v1.0.1")
    assert current["server"] == "1.0.1" and current["kubernetes_replicas"] == 2, "traffic resumed after the failure"
    assert report["traffic_left_stopped"] == [] and "TRAFFIC IS STILL STOPPED" not in run.text
    assert not os.path.exists(lock_path(lab)), "the lock is released after a failure"
    assert "ROLLBACK FAILED" in webhook.messages[-1]["body"]["blocks"][0]["text"]["text"]
    assert "Escalate" in webhook.messages[-1]["body"]["text"]

    os.makedirs(saved)
    kept = databases(lab)
    rerun = run_playbook(lab_env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true")
    assert rerun.rc == 0, rerun.output[-4000:]
    statuses = dict((h["host"], dict((p["phase"], p["status"]) for p in h["phases"])) for h in rerun.report["hosts"])
    assert statuses["demo-postgres"]["database"] == "unchanged", "the database is not restored twice"
    assert statuses["demo-rds"]["database"] == "unchanged"
    assert statuses["demo-kubernetes"]["traffic_stop"] == "changed", "stopped again around the rest of the level"
    assert databases(lab) == kept
    assert targets(versions(lab_env)) == GOOD and versions(lab_env)["kubernetes_replicas"] == 2


BAD_REQUESTS = [
    (["-e", "level=4"], "level must be 1 (application), 2 (+ configuration) or 3"),
    (["-e", "level=one"], "level must be 1 (application), 2 (+ configuration) or 3"),
    ([], "level must be 1 (application), 2 (+ configuration) or 3"),
    (["-e", "level=1", "-e", "services=demo-compose,nope"], "service(s) nope not in the inventory"),
    (["-e", "level=3"], "level 3 restores the database from its last backup"),
    (["-e", "level=3", "-e", "confirm_data_loss=true", "-e", "databases=nope"], "database(s) nope not in"),
    (["-e", "level=3", "-e", "confirm_data_loss=maybe"], "confirm_data_loss"),
    # The database role has no check of its own: preflight refuses it for every database host of the run.
    (["-e", "level=3", "-e", "confirm_data_loss=true", "-e", "rollback_database_type=mysql"],
     "demo-postgres: rollback_database_type must be postgres or rds, got mysql; demo-rds: rollback_database_type"),
]


@pytest.fixture(scope="module")
def bad_state(lab, lab_env):
    """The bad release with its restore points, for the runs below, which all must change nothing (they share one
    deploy, so they stay together at the end of the file: a module fixture is made at its first use)."""
    deploy_bad(lab_env)
    return state(lab, lab_env)


@pytest.mark.parametrize("args,message", BAD_REQUESTS, ids=[" ".join(case[0]) or "no level" for case in BAD_REQUESTS])
def test_a_bad_request_is_refused_before_any_change(lab, lab_env, bad_state, args, message):
    run = run_playbook(lab_env, "rollback.yml", *args)
    assert run.rc != 0
    assert message in run.output
    assert state(lab, lab_env) == bad_state


def test_production_requires_confirmation(lab, lab_env, bad_state):
    run = run_playbook(lab_env, "production.yml", "-e", "level=1")
    assert run.rc != 0
    assert "requires confirmation: re-run with -e confirm=true" in run.output
    assert state(lab, lab_env) == bad_state


def test_check_mode_changes_nothing(lab, lab_env, bad_state):
    written = reports(lab)
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true", "--check", "--diff")
    assert run.rc == 0, run.output[-4000:]
    assert "CHECKED" in run.output
    assert state(lab, lab_env) == bad_state
    assert reports(lab) == written, "no report is written in check mode"
