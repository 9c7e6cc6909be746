"""postgres_restore through Ansible against the lab's real PostgreSQL 15."""

import os
import subprocess
import uuid

import psycopg2
import pytest


def connector(lab):
    def connect(database="postgres"):
        connection = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                                      password=lab["LAB_PG_PASSWORD"], dbname=database)
        connection.autocommit = True
        return connection

    return connect


@pytest.fixture
def pg(lab):
    return connector(lab)


def query(connect, database, statement):
    connection = connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def databases(connect, prefix):
    rows = query(connect, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE '%s%%'" % prefix)
    return sorted(row[0] for row in rows)


@pytest.fixture
def app_db(lab, pg, tmp_path):
    """A live database with 3 orders, its dumps in every format, then 1 order written after the dump."""
    name = "rbt_%s" % uuid.uuid4().hex[:8]
    query(pg, "postgres", "CREATE DATABASE %s" % name)
    query(pg, name, "CREATE TABLE orders (id int PRIMARY KEY, item text); "
                    "INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    env = dict(os.environ, PGPASSWORD=lab["LAB_PG_PASSWORD"])
    dumps = {}
    for fmt, flag, suffix in (("custom", "c", ".dump"), ("directory", "d", ".dir"), ("tar", "t", ".tar"),
                              ("plain", "p", ".sql")):
        path = str(tmp_path / (name + suffix))
        subprocess.run([os.path.join(lab["LAB_PG_BIN"], "pg_dump"), "-h", lab["LAB_PG_HOST"], "-p",
                        str(lab["LAB_PG_PORT"]), "-U", lab["LAB_PG_USER"], "-F", flag, "-f", path, name],
                       env=env, check=True)
        dumps[fmt] = path
    query(pg, name, "INSERT INTO orders VALUES (4, 'written after the dump')")
    yield name, dumps
    for database in databases(pg, name):
        query(pg, "postgres", "DROP DATABASE %s WITH (FORCE)" % database)


def args(lab, db, dump, tmp_path, **extra):
    base = dict(login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                login_password=lab["LAB_PG_PASSWORD"], db=db, dump=dump, pg_bin_dir=lab["LAB_PG_BIN"],
                emergency_backup_dir=str(tmp_path / "emergency"),
                verify=[dict(name="orders restored", sql="SELECT count(*) FROM orders", expect=3)])
    base.update(extra)
    return base


@pytest.mark.parametrize("fmt", ["custom", "directory", "tar", "plain"])
def test_restore_swaps_and_keeps_data_written_after_the_dump(ansible_module, lab, pg, app_db, tmp_path, fmt):
    name, dumps = app_db
    run = ansible_module("postgres_restore", args(lab, name, dumps[fmt], tmp_path, jobs=2), verbosity=3)
    assert not run.failed, run.stdout
    result = run.result
    assert (result["format"], result["restored_db"], result["changed"]) == (fmt, name, True)
    assert query(pg, name, "SELECT id FROM orders ORDER BY id") == [(1,), (2,), (3,)]
    assert query(pg, result["previous_db"], "SELECT item FROM orders WHERE id = 4") == [("written after the dump",)]
    assert databases(pg, name) == sorted([name, result["previous_db"]])
    assert os.path.getsize(result["emergency_backup"]) > 0
    assert result["verify"] == [dict(name="orders restored", as_role=None, rows=1, value="3")]
    assert lab["LAB_PG_PASSWORD"] not in run.stdout + run.stderr
    if fmt in ("tar", "plain"):
        assert "jobs=2 ignored" in run.stdout + run.stderr


def test_check_mode_reads_the_toc_and_changes_nothing(ansible_module, lab, pg, app_db, tmp_path):
    name, dumps = app_db
    run = ansible_module("postgres_restore", args(lab, name, dumps["custom"], tmp_path), check=True)
    assert not run.failed and run.result["changed"] is True
    assert run.result["toc_entries"] > 0
    assert databases(pg, name) == [name]
    assert not (tmp_path / "emergency").exists()
    assert query(pg, name, "SELECT count(*) FROM orders") == [(4,)]


def test_truncated_dump_fails_before_any_change(ansible_module, lab, pg, app_db, tmp_path):
    name, dumps = app_db
    truncated = tmp_path / "truncated.dump"
    data = open(dumps["custom"], "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    run = ansible_module("postgres_restore", args(lab, name, str(truncated), tmp_path))
    assert run.failed
    assert "failed" in run.result["msg"] and "truncated.dump" in run.result["msg"]
    assert databases(pg, name) == [name]
    assert query(pg, name, "SELECT count(*) FROM orders") == [(4,)]


def test_dump_from_a_newer_pg_dump_is_refused_before_any_change(ansible_module, lab, pg, app_db, tmp_path):
    name, dumps = app_db
    data = bytearray(open(dumps["custom"], "rb").read())
    data[5:8] = bytes([9, 99, 0])  # archive format version 9.99.0: newer than this pg_restore reads
    newer = tmp_path / "newer.dump"
    newer.write_bytes(bytes(data))
    run = ansible_module("postgres_restore", args(lab, name, str(newer), tmp_path))
    assert run.failed
    assert "unsupported version (9.99) in file header" in run.result["msg"]
    assert databases(pg, name) == [name]
    assert not (tmp_path / "emergency").exists()


def test_failing_sql_in_a_plain_dump_removes_the_side_database(ansible_module, lab, pg, app_db, tmp_path):
    name, dumps = app_db
    broken = tmp_path / "broken.sql"
    broken.write_text(open(dumps["plain"]).read() + "\nINSERT INTO no_such_table VALUES (1);\n")
    run = ansible_module("postgres_restore", args(lab, name, str(broken), tmp_path))
    assert run.failed
    assert 'relation "no_such_table" does not exist' in run.result["msg"]
    assert "the live database %s is untouched" % name in run.result["msg"]
    assert databases(pg, name) == [name]
    assert os.path.exists(run.result["emergency_backup"]), "the emergency backup is data: kept"


def test_failing_verify_removes_the_side_database(ansible_module, lab, pg, app_db, tmp_path):
    name, dumps = app_db
    run = ansible_module("postgres_restore", args(lab, name, dumps["custom"], tmp_path, verify=[
        dict(name="expects the post-dump order", sql="SELECT count(*) FROM orders", expect=4)]))
    assert run.failed
    assert run.result["msg"].startswith("verify expects the post-dump order failed: got 3, expected 4")
    assert databases(pg, name) == [name]
    assert query(pg, name, "SELECT count(*) FROM orders") == [(4,)]


def test_no_swap_leaves_live_alone(ansible_module, lab, pg, app_db, tmp_path):
    name, dumps = app_db
    run = ansible_module("postgres_restore", args(lab, name, dumps["custom"], tmp_path, swap=False,
                                                  emergency_backup=False))
    assert not run.failed, run.stdout
    side = run.result["restored_db"]
    assert side.startswith(name + "_rb_") and run.result["previous_db"] is None
    assert query(pg, name, "SELECT count(*) FROM orders") == [(4,)]
    assert query(pg, side, "SELECT count(*) FROM orders") == [(3,)]


@pytest.mark.parametrize("change,message", [
    (dict(db="rbt_missing_db"), "database rbt_missing_db does not exist"),
    (dict(login_password="wrong-password"), "password authentication failed"),
    (dict(dump="/nonexistent/x.dump"), "cannot read dump /nonexistent/x.dump"),
    (dict(emergency_backup_dir=""), "emergency_backup_dir is required while emergency_backup is true"),
])
def test_bad_input_is_refused_before_any_change(ansible_module, lab, pg, app_db, tmp_path, change, message):
    name, dumps = app_db
    run = ansible_module("postgres_restore", dict(args(lab, name, dumps["custom"], tmp_path), **change))
    assert run.failed and message in run.result["msg"], run.result
    assert databases(pg, name) == [name]
    assert "wrong-password" not in run.result["msg"]


def test_lost_connection_during_restore_removes_the_side_database(ansible_module, lab, pg, tmp_path):
    """The restore's own server session is killed mid-restore (as a server restart would)."""
    import threading
    import time

    name = "rbt_%s" % uuid.uuid4().hex[:8]
    query(pg, "postgres", "CREATE DATABASE %s" % name)
    try:
        query(pg, name, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g")
        dump = str(tmp_path / "big.dump")
        subprocess.run([os.path.join(lab["LAB_PG_BIN"], "pg_dump"), "-h", lab["LAB_PG_HOST"], "-p",
                        str(lab["LAB_PG_PORT"]), "-U", lab["LAB_PG_USER"], "-Fc", "-f", dump, name],
                       env=dict(os.environ, PGPASSWORD=lab["LAB_PG_PASSWORD"]), check=True)
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(run=ansible_module(
            "postgres_restore", args(lab, name, dump, tmp_path, emergency_backup=False, verify=[]))))
        worker.start()
        killed = []
        deadline = time.monotonic() + 60
        while worker.is_alive() and not killed and time.monotonic() < deadline:
            killed = query(pg, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname "
                                           "LIKE '%s\\_rb\\_%%' AND application_name = 'pg_restore'" % name)
            time.sleep(0.01)
        worker.join()
        run = outcome["run"]
        assert killed, "the restore finished before its session could be killed"
        assert run.failed
        assert "terminating connection" in run.result["msg"] or "connection" in run.result["msg"]
        assert "the live database %s is untouched" % name in run.result["msg"]
        assert databases(pg, name) == [name]
        assert query(pg, name, "SELECT count(*) FROM big") == [(1500000,)]
    finally:
        for database in databases(pg, name):
            query(pg, "postgres", "DROP DATABASE %s WITH (FORCE)" % database)
