"""postgres_restore pitr: a point in time restore through the lab's pgBackRest repository (WAL archived by the lab's
PostgreSQL 15, lab/labkit/pgbackrest.py), taken into the database through the side restore + identity + swap path."""

import datetime
import json
import os
import subprocess
import shutil
import tempfile
import time
import uuid

import pytest
import test_postgres_restore as restore_tests
from playbook_runs import db_items, deploy_bad, extra_inventory, run_playbook

pg, query, databases = restore_tests.pg, restore_tests.query, restore_tests.databases  # the fixture and helpers


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def scratch():
    """A directory the postgres user can reach (pytest's tmp_path is root's 0700), removed afterwards."""
    path = tempfile.mkdtemp(prefix="pitr-scratch-", dir="/var/tmp")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def two_writes(pg):
    """A database with row A written before the moment T and row B after it: ``(name, T)``."""
    name = "rbp_%s" % uuid.uuid4().hex[:8]
    query(pg, "postgres", "CREATE DATABASE %s" % name)
    query(pg, name, "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'A')")
    time.sleep(1.5)
    moment = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.5)
    query(pg, name, "INSERT INTO orders VALUES (2, 'B')")
    yield name, moment
    for database in databases(pg, name):
        query(pg, "postgres", "DROP DATABASE %s WITH (FORCE)" % database)


def args(lab, db, target, scratch_dir, tmp_path, **pitr):
    return dict(login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                login_password=lab["LAB_PG_PASSWORD"], db=db, emergency_backup_dir=str(tmp_path / "emergency"),
                pg_bin_dir=lab["LAB_PG_BIN"],
                pitr=dict(dict(stanza=lab["LAB_PGBACKREST_STANZA"], config=lab["LAB_PGBACKREST_CONFIG"],
                               target_time=target, scratch_dir=scratch_dir), **pitr))


def test_restores_to_a_time_between_two_writes(ansible_module, lab, pg, two_writes, scratch, tmp_path):
    name, moment = two_writes
    run = ansible_module("postgres_restore", args(lab, name, iso(moment), scratch, tmp_path))
    assert not run.failed, run.stdout
    result = run.result
    assert query(pg, name, "SELECT id, item FROM orders ORDER BY id") == [(1, "A")]
    # The old database kept restorable under the name the dump path gives it, row B in it.
    assert result["previous_db"].startswith(name + "_pre_rollback_")
    assert query(pg, result["previous_db"], "SELECT item FROM orders ORDER BY id") == [("A",), ("B",)]
    window = result["data_loss_window"]
    assert window["start"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 2 <= window["seconds"] < 600
    assert result["pitr"]["backup_set"] in [b["label"] for b in pgbackrest_info(lab)["backup"]]
    assert result["pitr"]["scratch_removed"] is True and os.listdir(scratch) == []
    assert result["backup_used"].startswith("pgbackrest stanza lab backup set ")
    assert any(" restore --set=" in line and "--type=time" in line for line in result["executed_commands"])
    assert lab["LAB_PG_PASSWORD"] not in run.stdout + run.stderr
    # A re-run with the same target changes nothing (the old database is labelled with the source).
    again = ansible_module("postgres_restore", args(lab, name, iso(moment), scratch, tmp_path))
    assert not again.failed and again.result["changed"] is False, again.stdout


def pgbackrest_info(lab):
    out = subprocess.run(["runuser", "-u", "postgres", "--", "pgbackrest", "--config=" + lab["LAB_PGBACKREST_CONFIG"],
                          "--stanza=" + lab["LAB_PGBACKREST_STANZA"], "info", "--output=json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]


def test_check_mode_plans_and_changes_nothing(ansible_module, lab, pg, two_writes, scratch, tmp_path):
    """Check mode, with the target taken from the last deploy's marker (what rollback.core.backup writes)."""
    name, moment = two_writes
    markers = tmp_path / "markers"
    markers.mkdir()
    (markers / "api.json").write_text(json.dumps(dict(service="api", deploy_id="d-1", status="done",
                                                      started_at=iso(moment))))
    before = databases(pg, name)
    run = ansible_module("postgres_restore", args(lab, name, None, scratch, tmp_path, marker_dir=str(markers),
                                                  services=["api", "other"]), check=True)
    assert not run.failed, run.stdout
    plan = run.result["pitr"]
    assert plan["backup_set"] and plan["target_time"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert plan["target_from"] == "the deploy marker in %s" % markers
    assert plan["scratch_removed"] is None and run.result["data_loss_window"]["seconds"] >= 2
    assert databases(pg, name) == before and os.listdir(scratch) == []
    assert query(pg, name, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]
    assert not os.path.exists(str(tmp_path / "emergency"))


BAD_INPUT = [
    (dict(target_time="2000-01-01T00:00:00Z"), "is before the end of the oldest backup of stanza lab"),
    (dict(target_time="2999-01-01T00:00:00Z"), "is in the future"),
    (dict(target_time="yesterday"), "is not an ISO 8601 time"),
    (dict(stanza="nosuchstanza"), "pgBackRest stanza nosuchstanza does not exist in the repository"),
    (dict(os_user="nosuchuser"), "os_user nosuchuser: no such user"),
    (dict(target_time=None, marker_dir="/nonexistent", services=["api"]), "pitr: no deploy marker of api in "),
]


def pitr_state(lab, name, scratch):
    """The databases named after ``name``, the scratch directory's entries and the orders: what a PITR changes."""
    connect = restore_tests.connector(lab)
    return dict(databases=databases(connect, name), scratch=sorted(os.listdir(scratch)),
                orders=[row[0] for row in query(connect, name, "SELECT id FROM orders ORDER BY id")])


def test_bad_input_refused_before_any_change(module_batch, lab, two_writes, scratch, tmp_path):
    name, moment = two_writes
    before = pitr_state(lab, name, scratch)
    assert before["scratch"] == [] and before["orders"] == [1, 2]
    runs = module_batch([("postgres_restore", args(lab, name, iso(moment), scratch, tmp_path, **change))
                         for change, _message in BAD_INPUT],  # one playbook, a task per case (module_batch.py)
                        state=(pitr_state, dict(name=name, scratch=scratch)))
    for (change, message), run in zip(BAD_INPUT, runs):
        assert run.failed and message in run.result.get("msg", ""), (change, run.stdout)
        assert "nothing was changed" in run.result["msg"]
        assert run.state == before, change


def test_a_tablespace_created_after_the_backup_is_refused_before_any_change(ansible_module, lab, pg, two_writes,
                                                                            scratch, tmp_path):
    """Replaying its creation would link the scratch cluster to the live tablespace directory (PostgreSQL's
    create_tablespace_directories accepts a directory in use when InRecovery): refused in the plan."""
    name, moment = two_writes
    location = tempfile.mkdtemp(prefix="pitr-ts-", dir="/var/tmp")
    shutil.chown(location, "postgres", "postgres")
    tablespace = "rbp_ts_%s" % uuid.uuid4().hex[:8]
    query(pg, "postgres", "CREATE TABLESPACE %s LOCATION '%s'" % (tablespace, location))
    try:
        before = databases(pg, name)
        run = ansible_module("postgres_restore", args(lab, name, iso(moment), scratch, tmp_path))
        assert run.failed, run.stdout
        assert "pitr: tablespace %s (oid " % tablespace in run.result["msg"], run.result["msg"]
        assert "is not in backup set" in run.result["msg"] and "nothing was changed" in run.result["msg"]
        assert databases(pg, name) == before and os.listdir(scratch) == []
        assert not os.path.exists(str(tmp_path / "emergency")) or os.listdir(str(tmp_path / "emergency")) == []
        assert query(pg, name, "SELECT id FROM orders ORDER BY id") == [(1,), (2,)]
        assert os.listdir(location) == ["PG_15_%s" % query(pg, "postgres", "SELECT catalog_version_no FROM "
                                                                           "pg_control_system()")[0][0]]
    finally:
        query(pg, "postgres", "DROP TABLESPACE %s" % tablespace)
        # A later restore in this lab replays from a backup taken after the tablespace came and went (its directory
        # is removed here, and redo of its creation would stop at the missing directory).
        subprocess.run(["runuser", "-u", "postgres", "--", "pgbackrest", "--config=%s" % lab["LAB_PGBACKREST_CONFIG"],
                        "--stanza=%s" % lab["LAB_PGBACKREST_STANZA"], "backup", "--type=full"], check=True,
                       capture_output=True)
        shutil.rmtree(location, ignore_errors=True)


def test_pitr_is_exclusive_with_a_dump(ansible_module, lab, two_writes, scratch, tmp_path):
    name, moment = two_writes
    run = ansible_module("postgres_restore", dict(args(lab, name, iso(moment), scratch, tmp_path), dump="/x.dump"))
    assert run.failed and "mutually exclusive" in run.result["msg"], run.stdout


def test_failure_in_the_scratch_cluster_removes_it_and_leaves_the_live_database(
        ansible_module, lab, pg, scratch, tmp_path):
    """A database created after the target is not in the cluster restored to the target: the restore fails, the
    scratch cluster and the side database are gone, the live database untouched."""
    moment = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(1.5)
    name = "rbp_%s" % uuid.uuid4().hex[:8]
    query(pg, "postgres", "CREATE DATABASE %s" % name)
    try:
        query(pg, name, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (7)")
        run = ansible_module("postgres_restore", args(lab, name, iso(moment), scratch, tmp_path))
        assert run.failed and "did not exist at" in run.result["msg"], run.stdout
        assert "the side database %s_rb_" % name in run.result["msg"]
        assert os.listdir(scratch) == []
        assert databases(pg, name) == [name]
        assert query(pg, name, "SELECT id FROM orders") == [(7,)]
    finally:
        query(pg, "postgres", "DROP DATABASE %s WITH (FORCE)" % name)


def test_a_level_3_rollback_restores_the_database_to_the_deploy_time(lab, lab_env, pg, tmp_path, scratch):
    """The database role's pitr: demo-postgres restored through pgBackRest to the start of the bad deploy (its
    deploy marker, written by the lab's pre-deploy backup), over the lab's remote host; the rows written by the bad
    release after the deploy started are gone, the rows from before are kept, the report names the backup set."""
    deploy_bad(lab_env)
    before = db_items(lab)
    written = "written by 1.0.1 after the deploy %s" % uuid.uuid4().hex[:6]
    query(pg, "demo", "INSERT INTO items (name) VALUES ('%s')" % written)
    restore = dict(db="demo", emergency_backup_dir=os.path.join(lab["LAB_DIR"], "backups", "emergency"),
                   login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                   login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=lab["LAB_PG_BIN"],
                   verify=[dict(name="items present", sql="SELECT id FROM items", min_rows=1)],
                   pitr=dict(stanza=lab["LAB_PGBACKREST_STANZA"], config=lab["LAB_PGBACKREST_CONFIG"],
                             scratch_dir=scratch))
    inventory = extra_inventory(tmp_path, {"demo-postgres": {"rollback_database_restore": restore}},
                                group="rollback_databases")
    run = run_playbook(lab_env, "rollback.yml", "-i", inventory, "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", "services=demo-server")
    assert run.rc == 0, run.output[-3000:]
    restored = [entry for entry in run.report["databases_restored"] if entry["host"] == "demo-postgres"][0]
    assert restored["backup_used"].startswith("pgbackrest stanza lab backup set ")
    assert restored["pitr"]["target_from"].startswith("the deploy marker in ")
    assert restored["data_loss_window"]["seconds"] > 0
    # The bad release's migration (lab/labkit/deploy.py MIGRATIONS) ran after the deploy started: undone too.
    # Earlier deploys of 1.0.1 in the same lab left their rows (a level 1 keeps the data): only this deploy's, the
    # newest, is undone.
    assert "written-by-1.0.1" in before
    newest = len(before) - 1 - before[::-1].index("written-by-1.0.1")
    assert db_items(lab) == before[:newest] + before[newest + 1:]
    assert written in db_items(lab, restored["previous"])
    assert os.listdir(scratch) == []


def test_the_backup_playbook_takes_no_dump_of_a_pitr_database(lab, lab_env, tmp_path):
    """Its backup is pgBackRest's continuous archive: backup.yml names it instead of failing on a missing dump_dir
    (check mode: the plan of every item, nothing written)."""
    restore = dict(db="demo", login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]),
                   login_user=lab["LAB_PG_USER"], login_password=lab["LAB_PG_PASSWORD"],
                   pitr=dict(stanza=lab["LAB_PGBACKREST_STANZA"], config=lab["LAB_PGBACKREST_CONFIG"]))
    inventory = extra_inventory(tmp_path, {"demo-postgres": {"rollback_database_restore": restore}},
                                group="rollback_databases")
    run = run_playbook(lab_env, "backup.yml", "-i", inventory, "-e", "services=demo-server", "--check")
    assert run.rc == 0, run.output[-3000:]
    assert "demo-postgres: no dump taken - restored to a point in time from pgBackRest stanza lab" in run.text
