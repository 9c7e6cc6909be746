"""migration_status through Ansible against the lab's real PostgreSQL, with two real Alembic releases.

Release 1.0.0 has a1 (create accounts); release 1.0.1 adds b2 (accounts.email). A scratch database is upgraded
with 1.0.1 by Alembic itself (through the release's env.py), then rolled back to 1.0.0.
"""

import os
import shutil
import threading
import uuid

import psycopg2
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

RELEASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "alembic")
R100 = os.path.join(RELEASES, "1.0.0")
R101 = os.path.join(RELEASES, "1.0.1")


def connect(lab, database="postgres"):
    connection = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                                  password=lab["LAB_PG_PASSWORD"], dbname=database)
    connection.autocommit = True
    return connection


def query(lab, database, statement):
    connection = connect(lab, database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def schema(lab, database):
    """What a rollback may change: the version table and the accounts columns."""
    return dict(
        versions=sorted(row[0] for row in query(lab, database, "SELECT version_num FROM alembic_version")),
        columns=sorted(row[0] for row in query(lab, database, "SELECT column_name FROM information_schema.columns "
                                                              "WHERE table_name = 'accounts'")))


def shown_diff(run):
    """(removed, added) revisions of the --diff the run printed before its result."""
    text = run.stdout[:run.stdout.index("localhost |")]
    lines = [line for line in text.splitlines() if '"' in line and "revisions" not in line]
    return ([line.split('"')[1] for line in lines if line.startswith("-")],
            [line.split('"')[1] for line in lines if line.startswith("+")])


AT_101 = dict(versions=["b2"], columns=["email", "id", "name"])


@pytest.fixture
def scratch(lab):
    """A scratch database migrated to release 1.0.1 by Alembic's own upgrade command; dropped at the end."""
    name = "rbt_mig_%s" % uuid.uuid4().hex[:8]
    query(lab, "postgres", "CREATE DATABASE %s" % name)
    try:
        engine = create_engine("postgresql+psycopg2://", poolclass=pool.NullPool,
                               creator=lambda: connect(lab, name))
        config = Config()
        config.set_main_option("script_location", R101)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
        assert schema(lab, name) == AT_101
        yield name
    finally:
        query(lab, "postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def args(lab, db, **extra):
    base = dict(login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                login_password=lab["LAB_PG_PASSWORD"], db=db, script_location=R100)
    base.update(extra)
    return base


def test_checked_against_the_older_release_is_ahead(ansible_module, lab, scratch):
    run = ansible_module("migration_status", args(lab, scratch))
    assert not run.failed, run.stdout
    result = run.result
    assert (result["status"], result["changed"], result["recommended_level"]) == ("ahead", False, 3)
    found = (result["current_revisions"], result["target_heads"], result["unknown_revisions"])
    assert found == (["b2"], ["a1"], ["b2"])
    assert "Database migration ran | Medium | Level 3 rollback + restore" in result["recommendation"]
    assert "create a new forward migration that undoes the changes" in result["recommendation"]
    assert "undone_migrations" not in result
    assert lab["LAB_PG_PASSWORD"] not in run.stdout + run.stderr

    listed = ansible_module("migration_status", args(lab, scratch, current_script_location=R101)).result
    assert listed["undone_migrations"] == [dict(revision="b2", doc="add accounts.email")]
    assert "b2 (add accounts.email)" in listed["recommendation"]

    same = ansible_module("migration_status", args(lab, scratch, script_location=R101)).result
    assert (same["status"], same["recommended_level"], same["unknown_revisions"]) == ("in_sync", 1, [])
    assert schema(lab, scratch) == AT_101


def test_no_version_table(ansible_module, lab, scratch):
    run = ansible_module("migration_status", args(lab, scratch, version_table="no_such_version_table"))
    assert not run.failed, run.stdout
    assert (run.result["status"], run.result["current_revisions"]) == ("no_version_table", None)
    assert "no version table no_such_version_table" in run.stdout + run.stderr  # the warning


def test_stamped_after_a_restore(ansible_module, lab, scratch):
    planned = ansible_module("migration_status", args(lab, scratch, state="stamped"), check=True, diff=True)
    assert not planned.failed, planned.stdout
    assert planned.result["changed"] is True
    assert shown_diff(planned) == (["b2"], ["a1"])
    assert planned.result["steps"] == ["stamp b2 -> a1"] and planned.result["executed"] == []
    assert schema(lab, scratch) == AT_101

    run = ansible_module("migration_status", args(lab, scratch, state="stamped"), diff=True)
    assert not run.failed, run.stdout
    result = run.result
    assert (result["changed"], result["previous_revisions"], result["current_revisions"]) == (True, ["b2"], ["a1"])
    assert result["status"] == "in_sync"
    assert result["executed"] == ["DELETE FROM alembic_version", "INSERT INTO alembic_version (version_num) VALUES "
                                  "('a1') RETURNING alembic_version.version_num"], "b2 is unknown to 1.0.0: replaced"
    assert "unknown to the release" in run.stdout + run.stderr  # b2 replaced: warned
    assert schema(lab, scratch) == dict(versions=["a1"], columns=["email", "id", "name"]), "stamp runs no migration"

    again = ansible_module("migration_status", args(lab, scratch, state="stamped"))
    assert not again.failed and again.result["changed"] is False and again.result["executed"] == []
    assert schema(lab, scratch)["versions"] == ["a1"]

    back = ansible_module("migration_status", args(lab, scratch, state="stamped", script_location=R101,
                                                   revision="b2"))
    assert not back.failed and back.result["changed"] is True
    assert back.result["executed"] == ["UPDATE alembic_version SET version_num='b2' WHERE "
                                       "alembic_version.version_num = 'a1'"]
    assert schema(lab, scratch) == AT_101


def test_downgrade_is_refused_without_allow_downgrade(ansible_module, lab, scratch):
    for check in (False, True):
        run = ansible_module("migration_status", args(lab, scratch, state="downgraded",
                                                      current_script_location=R101), check=check)
        assert run.failed
        assert run.result["msg"].startswith("refusing alembic downgrade without allow_downgrade=true: runbook 002: "
                                            "'Do NOT run `alembic downgrade` in production")
        assert schema(lab, scratch) == AT_101


def test_downgraded_with_allow_downgrade(ansible_module, lab, scratch):
    downgrade = args(lab, scratch, state="downgraded", current_script_location=R101, allow_downgrade=True)
    planned = ansible_module("migration_status", downgrade, check=True, diff=True)
    assert not planned.failed, planned.stdout
    assert planned.result["changed"] is True and planned.result["executed"] == []
    assert planned.result["steps"] == ["downgrade b2 -> a1: add accounts.email"]
    assert shown_diff(planned) == (["b2"], ["a1"])
    assert schema(lab, scratch) == AT_101

    run = ansible_module("migration_status", downgrade)
    assert not run.failed, run.stdout
    result = run.result
    assert (result["changed"], result["status"], result["current_revisions"]) == (True, "in_sync", ["a1"])
    assert "ALTER TABLE accounts DROP COLUMN email" in result["executed"], result["executed"]
    assert schema(lab, scratch) == dict(versions=["a1"], columns=["id", "name"])

    again = ansible_module("migration_status", downgrade)
    assert not again.failed and again.result["changed"] is False and again.result["steps"] == []

    behind = ansible_module("migration_status", args(lab, scratch, script_location=R101)).result
    assert (behind["status"], behind["pending_revisions"], behind["recommended_level"]) == ("behind", ["b2"], 1)


def test_downgrade_behind_a_lock_fails_and_rolls_back(ansible_module, lab, scratch):
    holder = connect(lab, scratch)
    holder.autocommit = False
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts")  # ACCESS SHARE until the transaction ends
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(run=ansible_module("migration_status", args(
            lab, scratch, state="downgraded", current_script_location=R101, allow_downgrade=True, lock_timeout=1))))
        worker.start()
        worker.join(120)
    finally:
        holder.rollback()
        holder.close()
    run = outcome["run"]
    assert run.failed
    assert "alembic downgrade a1 failed and was rolled back, nothing changed" in run.result["msg"]
    assert "lock timeout" in run.result["msg"]
    assert schema(lab, scratch) == AT_101


def test_downgrade_of_an_irreversible_migration_fails_and_rolls_back(ansible_module, lab, scratch, tmp_path):
    """A release whose b2 downgrade() raises, as forward-only migrations do; a1's table is dropped first."""
    release = tmp_path / "1.0.1-irreversible"
    shutil.copytree(R101, str(release))
    script = release / "versions" / "b2_add_accounts_email.py"
    script.write_text(script.read_text().replace('    op.drop_column("accounts", "email")',
                                                 '    op.drop_table("accounts")\n'
                                                 '    raise NotImplementedError("b2 is forward-only")'))
    run = ansible_module("migration_status", args(lab, scratch, state="downgraded", allow_downgrade=True,
                                                  current_script_location=str(release)))
    assert run.failed
    assert run.result["msg"] == ("alembic downgrade a1 failed in a migration script and was rolled back, nothing "
                                 "changed: NotImplementedError: b2 is forward-only")
    assert "DROP TABLE accounts" in run.result["executed"]
    assert schema(lab, scratch) == AT_101


BAD_INPUT = [
    (dict(login_password="wrong-password"), "password authentication failed"),
    (dict(login_port=1), "cannot connect to PostgreSQL 127.0.0.1:1"),
    (dict(db="rbt_mig_missing_db"), 'database "rbt_mig_missing_db" does not exist'),
    (dict(script_location="/nonexistent/migrations"), "script_location /nonexistent/migrations is not a directory"),
    (dict(script_location=RELEASES), "is not an Alembic migrations directory (no env.py or versions)"),
    (dict(state="stamped", revision="zz"), "revision zz is not in script_location"),
    (dict(state="downgraded", allow_downgrade=True), "state=downgraded needs current_script_location"),
    (dict(state="downgraded", allow_downgrade=True, current_script_location=R101, revision="zz"),
     "revision zz is not in script_location"),
    (dict(state="downgraded", allow_downgrade=True, script_location=R101, current_script_location=R100),
     "revision b2 of script_location is not in current_script_location"),
    (dict(lock_timeout=-1), "lock_timeout must be 0 (no limit) or more seconds"),
]


def test_bad_input_changes_nothing(module_batch, lab, scratch):
    # Each case with and without check mode, as the tasks of one playbook (module_batch.py).
    cases = [(change, message, check) for change, message in BAD_INPUT for check in (False, True)]
    runs = module_batch([("migration_status", dict(args(lab, scratch, state="stamped"), **change),
                          {"check_mode": check}) for change, _message, check in cases],
                        state=(schema, dict(database=scratch)))
    for (change, message, check), run in zip(cases, runs):
        assert run.failed and message in run.result.get("msg", ""), (change, check, run.stdout)
        assert "\n" not in run.result["msg"]
        assert "wrong-password" not in run.result["msg"] and lab["LAB_PG_PASSWORD"] not in run.stdout
        assert run.state == AT_101, (change, check)
    assert lab["LAB_PG_PASSWORD"] not in runs.output
