"""Level 3's blast radius from the inventory, every writer stopped, typed options, honest verification, a remote
host over SSH, and the report/notify/unlock that always runs (issue 20, issue 21 point 5).

The lab inventory: demo-server, demo-compose and demo-swarm use demo-postgres; demo-kubernetes uses demo-rds;
demo-bluegreen uses none. demo-server and demo-postgres are on the lab's remote host (SSH, their own Python).
"""

import json
import os

import boto3
import pytest
from playbook_runs import (
    databases,
    db_items,
    bad_release_untouched,
    deploy_bad,
    extra_inventory,
    lock_path,
    reports,
    run_playbook,
    ssh_logins,
    state,
    swarm_service,
    versions,
)
from support.http_servers import webhook_receiver

SAVED = "rollback.core/replicas-before-stop"


@pytest.fixture
def webhook():
    receiver = webhook_receiver()
    yield receiver
    receiver.stop()


def rds_instances(lab):
    client = boto3.client("rds", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return sorted(i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"])


def statuses(report):
    return dict((h["host"], dict((p["phase"], p["status"]) for p in h["phases"])) for h in report["hosts"])


def test_level3_for_one_service_restores_only_its_database_and_stops_every_writer(lab, lab_env):
    deploy_bad(lab_env)  # 1.0.1 everywhere; demo's items gained a row after the pre-deploy dump
    items_at_good = db_items(lab)[:-1]
    rds_before, logins = rds_instances(lab), ssh_logins(lab)
    swarm_replicas = swarm_service(lab)["Spec"]["Mode"]["Replicated"]["Replicas"]
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", "services=demo-server")
    assert run.rc == 0, run.output[-4000:]
    assert "demo-postgres restored; used by demo-compose (not selected), demo-server, demo-swarm (not selected)" in (
        run.text), "preflight prints the blast radius before anything changes"

    report = run.report
    assert (report["services"], report["databases"]) == (["demo-server"], ["demo-postgres"])
    assert report["blast_radius"] == [
        dict(service="demo-compose", selected=False, databases=["demo-postgres"]),
        dict(service="demo-server", selected=True, databases=["demo-postgres"]),
        dict(service="demo-swarm", selected=False, databases=["demo-postgres"])]
    assert statuses(report) == {
        "demo-postgres": {"database": "changed"},
        "demo-compose": {"traffic_stop": "changed", "traffic_resume": "changed"},
        "demo-server": {"traffic_stop": "changed", "config": "changed", "app": "changed",
                        "traffic_resume": "changed", "verify": "unchanged"},
        "demo-swarm": {"traffic_stop": "changed", "traffic_resume": "changed"}}
    assert db_items(lab) == items_at_good, "demo-postgres restored from the pre-deploy dump"
    assert rds_instances(lab) == rds_before, "demo-rds, used by no selected service, not restored"
    with open(os.path.join(run.report_dir, "report.md")) as handle:
        markdown = handle.read()
    assert "## Blast radius" in markdown
    assert "| demo-swarm | no (uses a restored database) | demo-postgres |" in markdown

    swarm_stop = next(p for h in report["hosts"] if h["host"] == "demo-swarm" for p in h["phases"]
                      if p["phase"] == "traffic_stop")
    assert (swarm_stop["details"]["replicas_before"], swarm_stop["details"]["replicas_after"]) == (swarm_replicas, 0)
    service = swarm_service(lab)
    assert service["Spec"]["Mode"]["Replicated"]["Replicas"] == swarm_replicas, "swarm resumed with its count"
    assert SAVED not in (service["Spec"].get("Labels") or {})
    # What swarm kept of the spec before the resume (docker service inspect's PreviousSpec): scaled to 0, count saved.
    assert service["PreviousSpec"]["Mode"]["Replicated"].get("Replicas", 0) == 0
    assert service["PreviousSpec"]["Labels"][SAVED] == str(swarm_replicas)

    now = versions(lab_env)
    assert (now["server"], now["config"]) == ("1.0.0", "1.0.0"), "the selected service rolled back"
    assert (now["compose"], now["swarm"], now["kubernetes"]) == ("1.0.1",) * 3, "the others keep their release"
    assert now["kubernetes_replicas"] == 2, "demo-kubernetes uses no restored database: never stopped"
    assert not os.path.exists(lab["LAB_SERVER_MAINTENANCE_FILE"])
    assert ssh_logins(lab) > logins, "demo-server and demo-postgres ran over SSH on the remote host"


def postgres_restore(lab, **changes):
    """demo-postgres's rollback_database_restore (inventories/lab/hosts.yml) with ``changes``."""
    restore = dict(db="demo", dump_dir=os.path.join(lab["LAB_DIR"], "backups", "db"), dump_pattern="demo-*.dump",
                   emergency_backup_dir=os.path.join(lab["LAB_DIR"], "backups", "emergency"),
                   login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                   login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir="/usr/lib/postgresql/15/bin")
    restore.update(changes)
    return restore


def test_a_failed_database_phase_leaves_every_writer_stopped_and_says_so(lab, lab_env, webhook, tmp_path,
                                                                         ansible_module):
    deploy_bad(lab_env)
    kept = databases(lab)
    # A check on the restored data that fails only once the dump is restored (it cannot be planned in check mode).
    failing = extra_inventory(tmp_path, {"demo-postgres": {"rollback_database_restore": postgres_restore(
        lab, verify=[dict(name="impossible", sql="SELECT 1 / 0")])}}, group="rollback_databases")
    run = run_playbook(dict(lab_env, ROLLBACK_WEBHOOK_URL=webhook.url + "/hook"), "rollback.yml", "-i", failing,
                       "-e", "level=3", "-e", "confirm_data_loss=true", "-e", "services=demo-server")
    assert run.rc != 0
    report = run.report
    assert report["outcome"] == "failed" and report["failure"]["phase"] == "database"
    assert report["traffic_left_stopped"] == ["demo-compose", "demo-server", "demo-swarm"]
    loud = "TRAFFIC IS STILL STOPPED for demo-compose, demo-server, demo-swarm because the database phase failed"
    assert loud in run.text and loud in webhook.messages[-1]["body"]["text"]
    assert "ROLLBACK FAILED" in webhook.messages[-1]["body"]["blocks"][0]["text"]["text"]
    assert databases(lab) == kept, "the live database untouched, the failed side database dropped"
    assert swarm_service(lab)["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
    assert os.path.exists(lab["LAB_SERVER_MAINTENANCE_FILE"])
    assert not os.path.exists(lock_path(lab)), "the lock is released"

    # Someone checked the databases: resume by hand, as the message says.
    env = dict(DOCKER_HOST=lab["LAB_DOCKER_HOST"], DOCKER_CONFIG=lab["LAB_DOCKER_CONFIG"],
               PATH=lab["LAB_BIN"] + os.pathsep + lab_env["PATH"])
    for args in (dict(platform="swarm", name=lab["LAB_SWARM_SERVICE"]),
                 dict(platform="compose", name="demo-compose", project_src=lab["LAB_COMPOSE_DIR"], project_name="demo"),
                 dict(platform="server", name="demo-server", units=[lab["LAB_SERVER_UNIT"]],
                      maintenance_file=lab["LAB_SERVER_MAINTENANCE_FILE"])):
        resumed = ansible_module("traffic", dict(args, state="started", wait_timeout=120), env=env)
        assert not resumed.failed, resumed.stdout[-2000:]


def test_a_typo_in_an_option_dict_is_refused_before_any_change(lab, lab_env, tmp_path):
    before, written = state(lab, lab_env), reports(lab)
    typo = extra_inventory(tmp_path, {"demo-server": {"rollback_service_app": {
        "releases_dir": os.path.join(lab["LAB_DIR"], "server"), "to_verison": "v1.0.0"}}})
    run = run_playbook(lab_env, "rollback.yml", "-i", typo, "-e", "level=1",
                       "-e", json.dumps({"rollback_service_traffic": {"swapp": False}}))
    assert run.rc != 0
    assert "demo-server: rollback_service_app: unknown key to_verison (rollout_undo takes" in run.text
    assert "demo-compose: rollback_service_traffic: unknown key swapp (traffic" in run.text
    assert "Nothing was changed." in run.text
    assert state(lab, lab_env) == before and reports(lab) == written and not os.path.exists(lock_path(lab))


def test_a_plan_refused_on_one_host_halts_every_host_before_any_change(lab, lab_env, tmp_path):
    """Plan before change: the rollback play decides once for the batch (roles/level/tasks/phases.yml) that a
    refused plan halts it, and no host starts a phase."""
    deploy_bad(lab_env, backups=False)
    before = state(lab, lab_env)
    absent = extra_inventory(tmp_path, {"demo-kubernetes": {"rollback_service_app": {"to_revision": 99}}})
    run = run_playbook(lab_env, "rollback.yml", "-i", absent, "-e", "level=1")
    assert run.rc != 0
    report = run.report
    assert report["failure"]["host"] == "demo-kubernetes" and report["failure"]["phase"] == "app"
    assert report["failure"]["planned"] is True and "99" in report["failure"]["msg"], report["failure"]
    assert all(status == "not run" for host, phases in statuses(report).items() for phase, status in phases.items()
               if phase in ("app", "verify")), statuses(report)
    assert state(lab, lab_env) == before, "no host rolled back"
    assert not os.path.exists(lock_path(lab))
    bad_release_untouched(backups=False)


def test_a_service_without_checks_is_not_verified_and_fails_where_verification_is_required(lab, lab_env, tmp_path):
    deploy_bad(lab_env, backups=False)
    unchecked = extra_inventory(tmp_path, {"demo-compose": {"rollback_service_checks": []}})
    run = run_playbook(lab_env, "rollback.yml", "-i", unchecked, "-e", "level=1", "-e", "services=demo-compose",
                       "-e", "rollback_require_verification=true")
    assert run.rc != 0, "production requires verification"
    assert "NOT VERIFIED: demo-compose has no checks" in run.text
    report = run.report
    assert report["outcome"] == "not verified" and report["not_verified"] == ["demo-compose"]
    assert report["verification"][0]["verified"] is False and report["verification"][0]["passed"] is None
    assert "NOT VERIFIED (no checks): demo-compose." in report["summary"]
    with open(os.path.join(run.report_dir, "report.md")) as handle:
        assert "- demo-compose: NOT VERIFIED (NOT VERIFIED: no checks)" in handle.read()
    assert versions(lab_env)["compose"] == "1.0.0", "rolled back all the same"
    assert not os.path.exists(lock_path(lab))


def test_a_service_unhealthy_after_the_rollback_fails_the_run_and_escalates(lab, lab_env, tmp_path):
    # The front serves 1.0.0 again, but the check expects what it does not serve: the rollback did not make the
    # service healthy. Runbook 000: stop remediating and escalate; the report says why.
    deploy_bad(lab_env, backups=False)
    wrong = extra_inventory(tmp_path, {"demo-bluegreen": {"rollback_service_checks": [
        {"name": "front health", "url": "http://127.0.0.1:58180/health", "json": {"version": "9.9.9"}}]}})
    run = run_playbook(lab_env, "rollback.yml", "-i", wrong, "-e", "level=1", "-e", "services=demo-bluegreen")
    assert run.rc != 0
    assert "demo-bluegreen is not healthy after the rollback (ROLLBACK: error rate 100.00% > 5%" in run.text
    assert "front health). Runbook 000 - stop remediating and escalate to the incident commander." in run.text
    report = run.report
    assert report["outcome"] == "failed", report["summary"]
    assert statuses(report)["demo-bluegreen"] == {"app": "changed", "verify": "failed"}
    assert report["verification"][0]["verified"] is True and report["verification"][0]["passed"] is False
    assert versions(lab_env)["bluegreen"] == "1.0.0", "rolled back all the same"
    assert not os.path.exists(lock_path(lab))


def test_a_remote_host_whose_python_lacks_a_library_is_refused_naming_both(lab, lab_env, tmp_path):
    before = state(lab, lab_env)
    bare = extra_inventory(tmp_path, {"demo-postgres": {"ansible_python_interpreter": lab["LAB_BARE_PYTHON"]}},
                           group="rollback_databases")
    run = run_playbook(lab_env, "rollback.yml", "-i", bare, "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", "services=demo-server")
    assert run.rc != 0
    assert "fatal: [demo-postgres]" in run.text and "Python 3." in run.text
    assert "lacks psycopg2 (pip install psycopg2-binary) for postgres_restore" in run.text
    assert state(lab, lab_env) == before and not os.path.exists(lock_path(lab)), "refused before the lock"


def test_a_report_that_cannot_be_written_still_notifies_and_unlocks(lab, lab_env, webhook):
    deploy_bad(lab_env, backups=False)
    # /proc passes preflight's check (root may write there) but nothing can be created in it: the write fails late.
    run = run_playbook(dict(lab_env, ROLLBACK_WEBHOOK_URL=webhook.url + "/hook"), "rollback.yml", "-e", "level=1",
                       "-e", "services=demo-compose", "-e", "rollback_report_dir=/proc/rollback-reports")
    assert run.rc != 0
    assert "THE INCIDENT REPORT WAS NOT WRITTEN" in run.text
    last = webhook.messages[-1]["body"]
    assert "ROLLBACK FAILED" in last["blocks"][0]["text"]["text"], "notified as a failure"
    assert "THE INCIDENT REPORT WAS NOT WRITTEN" in last["text"] and "Rollback SUCCEEDED" in last["text"]
    assert not os.path.exists(lock_path(lab)), "the lock is released"
    assert versions(lab_env)["compose"] == "1.0.0"


# A canary run (-e rollback_canary=1): serial [1, "100%"] (rollback.core.run_context): the first host is rolled back
# and verified alone, then the rest. Each batch records its own phases, in one task for the batch
# (roles/phase/tasks/record_batch.yml, run once over ansible_play_batch).
CANARY = ("-e", "level=1", "-e", "services=demo-compose,demo-bluegreen", "-e", "rollback_canary=1")


def test_a_canary_batch_is_rolled_back_and_verified_before_the_rest(lab, lab_env):
    deploy_bad(lab_env, backups=False)
    run = run_playbook(lab_env, "rollback.yml", *CANARY)
    assert run.rc == 0, run.output[-4000:]
    assert run.report["outcome"] == "succeeded", run.report["summary"]
    assert statuses(run.report) == {"demo-compose": {"app": "changed", "verify": "unchanged"},
                                    "demo-bluegreen": {"app": "changed", "verify": "unchanged"}}
    # Ansible prints the play's header again for each batch.
    rollback = run.output.split("PLAY [Rollback]", 1)[1].split("PLAY [Resume")[0]
    assert rollback.count("PLAY [Rollback]") == 1, "two batches"
    undo = "TASK [rollback.core.app : Roll the service back on its target]"
    assert rollback.count(undo) == 2, "one batch, then the other"
    assert rollback.index("TASK [rollback.core.verify") < rollback.rindex(undo), "the canary is verified first"
    assert (versions(lab_env)["compose"], versions(lab_env)["bluegreen"]) == ("1.0.0", "1.0.0")


def test_a_canary_batch_that_fails_its_verification_halts_the_rest(lab, lab_env, tmp_path):
    deploy_bad(lab_env, backups=False)
    # Both services would fail their check (the front serves 1.0.0, the check expects 9.9.9): the canary fails.
    failing = [{"name": "front health", "url": "http://127.0.0.1:58180/health", "json": {"version": "9.9.9"}}]
    extra = extra_inventory(tmp_path, dict((host, {"rollback_service_checks": failing})
                                           for host in ("demo-compose", "demo-bluegreen")))
    run = run_playbook(lab_env, "rollback.yml", "-i", extra, *CANARY)
    assert run.rc != 0
    report = run.report
    assert report["outcome"] == "failed", report["summary"]
    by_host = statuses(report)
    [canary] = [host for host, phases in by_host.items() if phases["app"] == "changed"]
    [rest] = [host for host in by_host if host != canary]
    assert by_host[canary] == {"app": "changed", "verify": "failed"}
    assert by_host[rest] == {"app": "not run", "verify": "not run"}, "halted before the second batch changed"
    target = {"demo-compose": "compose", "demo-bluegreen": "bluegreen"}
    assert versions(lab_env)[target[rest]] == "1.0.1", "the rest keeps its release"
    assert not os.path.exists(lock_path(lab))
