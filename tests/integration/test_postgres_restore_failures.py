"""postgres_restore refuses, or fails cleanly, on what a production database really has (issue 15).

In each failure the live database is unchanged (its row count and every catalog fact of postgres_production.py)
and no side database is left. Where the behaviour comes from:

- ``ALTER DATABASE ... RENAME`` fails while other sessions or prepared transactions use the database
  (src/backend/commands/dbcommands.c ``RenameDatabase`` -> procarray.c ``CountOtherDBBackends``, after ~5 s);
  ``pg_prepared_xacts.database`` names the database of a prepared transaction.
- ``pg_terminate_backend`` cannot end a superuser's session unless the caller is a superuser
  (src/backend/storage/ipc/signalfuncs.c ``pg_signal_backend``); ``pg_stat_activity`` shows datname, pid and
  usesysid of every session to every role (pgstatfuncs.c ``pg_stat_get_activity``).
- psql runs ``\\connect`` wherever it appears (src/bin/psql/psqlscan.l), and ``pg_dump --create`` writes
  ``CREATE DATABASE`` and ``\\connect`` (pg_dump documentation, --create).
- A logical slot belongs to the database's OID (``pg_replication_slots.database``), a subscription too
  (``pg_subscription.subdbid``); dropdb refuses a database with subscriptions (dbcommands.c ``dropdb``).
"""

import os
import subprocess
import threading
import time

import psycopg2
import pytest
from postgres_production import cluster_fixture, run_module


cluster = cluster_fixture()


def unchanged(cluster, live, before):
    assert cluster.databases(live) == [live], "no side database is left"
    assert cluster.facts(live) == before
    assert cluster.orders(live) == 1001


def test_a_prepared_transaction_is_refused_before_any_change(lab, cluster, tmp_path):
    live = cluster.live()
    before = cluster.facts(live)
    gid = "rbt_xa_%s" % cluster.suffix
    cluster.sql(live, "BEGIN; INSERT INTO app.orders (item) VALUES ('in doubt'); PREPARE TRANSACTION '%s'" % gid)
    try:
        result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"],
                                                emergency_backup_dir=str(tmp_path / "emergency"),
                                                emergency_backup=True))
        assert result.get("failed")
        assert "database %s has 1 prepared transaction(s) (%s by postgres)" % (live, gid) in result["msg"]
        assert result["msg"].endswith("nothing was changed")
        assert not (tmp_path / "emergency").exists(), "no work at all: not even the emergency dump"
        unchanged(cluster, live, before)
    finally:
        cluster.sql(live, "ROLLBACK PREPARED '%s'" % gid)


def test_a_superuser_session_is_refused_when_the_login_is_not_a_superuser(lab, cluster, tmp_path):
    live = cluster.live()
    before = cluster.facts(live)
    session = cluster.connect(live)
    try:
        pid = session.get_backend_pid()
        result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"], no_owner=True),
                            login=(cluster.login, cluster.password))
        assert result.get("failed")
        assert ("superuser session(s) that %s, not being a superuser, cannot end: pid %d (postgres"
                % (cluster.login, pid)) in result["msg"], result["msg"]
        unchanged(cluster, live, before)
    finally:
        session.close()


@pytest.mark.parametrize("kind", ["pg_dump --create", "starts with connect"])
def test_a_plain_dump_that_leaves_the_side_database_is_refused(lab, cluster, tmp_path, kind):
    live = cluster.live()
    before = cluster.facts(live)
    dump = cluster.dumps["plain_create"]
    if kind == "starts with connect":
        dump = str(tmp_path / "connect.sql")
        with open(dump, "w") as handle:
            handle.write("\\connect %s\n" % live)
            handle.write("DELETE FROM app.orders WHERE id > 10;\n")
    result = run_module(lab, tmp_path, dict(db=live, dump=dump, swap=False))
    assert result.get("failed")
    if kind == "starts with connect":
        assert result["msg"].startswith("plain dump %s, line 1: \\connect %s switches to another database" % (
            dump, live)), result["msg"]
    else:
        assert "CREATE DATABASE %s" % cluster.source in result["msg"] and "changes the whole cluster" in result["msg"]
    assert result["msg"].endswith("nothing was changed")
    unchanged(cluster, live, before)


def test_no_room_on_the_tablespace_is_refused_with_the_numbers(lab, cluster, tmp_path):
    mount = os.path.join(lab["LAB_DIR"], "rbt-tmpfs-%s" % cluster.suffix)
    tablespace, live = "tiny_%s" % cluster.suffix, "live_%s_tiny" % cluster.suffix
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700,uid=%d,gid=%d" % (
        _uid("postgres"), _gid("postgres")), "tmpfs", mount], check=True)
    try:
        cluster.sql("postgres", "CREATE TABLESPACE %s LOCATION '%s'" % (tablespace, mount))
        cluster.sql("postgres", "CREATE DATABASE %s TABLESPACE %s" % (live, tablespace))
        cluster.sql(live, "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 60000) g")
        dump = str(tmp_path / "tiny.dump")
        cluster.tool("pg_dump", "-Fc", "-f", dump, live)
        before = cluster.facts(live, inside=False)
        result = run_module(lab, tmp_path, dict(db=live, dump=dump))
        assert result.get("failed")
        assert "not enough space for the side database in tablespace %s (%s/PG_" % (tablespace, mount) in \
            result["msg"], result["msg"]
        space = result["space"]
        assert space["free"] < space["needed"] and space["needed"] == int(space["live_size"] * 1.1)
        assert "%.1f MB free" % (space["free"] / 1048576.0) in result["msg"], result["msg"]
        assert cluster.databases(live) == [live] and cluster.facts(live, inside=False) == before
        assert cluster.sql(live, "SELECT count(*) FROM t") == [(60000,)]
    finally:
        cluster.drop_databases(live)
        cluster.sql("postgres", "DROP TABLESPACE IF EXISTS %s" % tablespace)
        subprocess.run(["umount", mount], check=True)
        os.rmdir(mount)


def _uid(name):
    import pwd

    return pwd.getpwnam(name).pw_uid


def _gid(name):
    import pwd

    return pwd.getpwnam(name).pw_gid


def test_verify_as_a_role_that_may_not_read_fails_before_the_swap(lab, cluster, tmp_path):
    live = cluster.live()
    before = cluster.facts(live)
    result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["directory"], verify=[
        dict(name="orders", sql="SELECT count(*) FROM app.orders", as_role=cluster.out)]))
    assert result.get("failed")
    assert result["msg"].startswith("verify orders as %s failed: permission denied for schema app" % cluster.out)
    assert "the live database %s is untouched and the side database %s_rb_" % (live, live) in result["msg"]
    unchanged(cluster, live, before)


def test_sessions_get_drain_timeout_to_end_then_the_rest_are_ended(lab, cluster, tmp_path):
    live = cluster.live()
    leaving, staying = cluster.connect(live), cluster.connect(live)
    leaving_pid, staying_pid = leaving.get_backend_pid(), staying.get_backend_pid()

    def leave_when_connections_are_refused():
        watcher = cluster.connect()
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with watcher.cursor() as cursor:
                    cursor.execute("SELECT datallowconn FROM pg_database WHERE datname = %s", (live,))
                    row = cursor.fetchone()
                if row and not row[0]:
                    break
                time.sleep(0.02)
        finally:
            leaving.close()
            watcher.close()

    thread = threading.Thread(target=leave_when_connections_are_refused)
    thread.start()
    try:
        result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"], drain_timeout=3))
    finally:
        thread.join()
    assert not result.get("failed"), result.get("msg")
    assert result["sessions"]["ended_by_themselves"] == ["pid %d (postgres)" % leaving_pid]
    assert result["sessions"]["terminated"] == ["pid %d (postgres)" % staying_pid]
    assert "SELECT pg_terminate_backend(%d)" % staying_pid in result["executed_commands"]
    with pytest.raises(psycopg2.OperationalError, match="terminating connection|server closed the connection"):
        with staying.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert cluster.orders(live) == 1000


def test_a_failed_side_database_is_kept_on_request_and_a_rerun_makes_no_second_copy(lab, cluster, tmp_path):
    live = cluster.live()
    before = cluster.facts(live)
    args = dict(db=live, dump=cluster.dumps["custom"], verify=[dict(sql="SELECT count(*) FROM app.orders",
                                                                    expect=1000)])
    failed = run_module(lab, tmp_path, dict(args, keep_failed_side=True, verify=[
        dict(name="wrong expectation", sql="SELECT count(*) FROM app.orders", expect=999)]))
    assert failed.get("failed")
    side = failed["side_db"]
    assert "the side database %s is kept (keep_failed_side=true" % side in failed["msg"]
    assert cluster.databases(live) == sorted([live, side])
    comment = cluster.sql("postgres", "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                      "WHERE datname = %s", (side,))[0][0]
    assert comment.startswith("rollback.core side database of %s [failed] restored from " % live)
    assert cluster.facts(live) == before and cluster.orders(live) == 1001

    result = run_module(lab, tmp_path, args)
    assert not result.get("failed"), result.get("msg")
    assert result["dropped_leftovers"] == [side]
    assert cluster.databases(live) == sorted([live, result["previous_db"]]), "one copy, never two"

    again = run_module(lab, tmp_path, args)
    assert not again.get("failed") and again["changed"] is False
    assert again["previous_db"] == result["previous_db"] and "already restored from this dump" in again["msg"]
    assert cluster.databases(live) == sorted([live, result["previous_db"]])


def test_a_session_that_cannot_be_ended_at_swap_time_drops_the_side_database(lab, cluster, tmp_path):
    live = cluster.live()
    before = cluster.facts(live)
    sessions = []

    def connect_as_superuser_once_the_side_database_exists():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not sessions:
            if cluster.databases("%s_rb_" % live):
                sessions.append(cluster.connect(live))
            time.sleep(0.02)

    thread = threading.Thread(target=connect_as_superuser_once_the_side_database_exists)
    cluster.sql("postgres", "ALTER ROLE %s CREATEROLE" % cluster.login)
    thread.start()
    try:
        result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"], no_owner=True, verify=[
            dict(name="time for the superuser to connect", sql="SELECT pg_sleep(1)")]),
            login=(cluster.login, cluster.password))
    finally:
        thread.join()
        cluster.sql("postgres", "ALTER ROLE %s NOCREATEROLE" % cluster.login)
        for session in sessions:
            session.close()
    assert sessions, "the superuser session did not connect"
    assert result.get("failed")
    assert "superuser session(s) that %s, not being a superuser, cannot end" % cluster.login in result["msg"]
    assert "the live database %s is untouched and the side database %s_rb_" % (live, live) in result["msg"]
    assert "was removed" in result["msg"]
    unchanged(cluster, live, before)


@pytest.mark.parametrize("mode", ["refuse", "recreate", "ignore"])
def test_a_logical_replication_slot_is_refused_recreated_or_left_as_asked(lab, cluster, tmp_path, mode):
    live = cluster.live()
    slot = "slot_%s_%s" % (mode, cluster.suffix)
    # Creating a logical slot waits for the transactions running anywhere in the cluster; no statement_timeout.
    cluster.sql(live, "SET statement_timeout = 0; SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % slot)
    before = cluster.facts(live)
    result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"], replication=mode))
    slot_database = cluster.sql("postgres", "SELECT database FROM pg_replication_slots WHERE slot_name = %s",
                                (slot,))
    if mode == "refuse":
        assert result.get("failed")
        assert "database %s has logical replication slot(s) %s" % (live, slot) in result["msg"]
        unchanged(cluster, live, before)
        assert slot_database == [(live,)]
        return
    assert not result.get("failed"), result.get("msg")
    if mode == "recreate":
        assert slot_database == [(live,)], "created again on the restored database"
        assert list(result["replication"]["recreated"]) == [slot]
        assert cluster.orders(live) == 1000
    else:
        assert slot_database == [(result["previous_db"],)], "left on the old database, as asked"
        assert result["not_carried"] == ["left on the old database (replication=ignore): logical replication "
                                         "slot(s) %s" % slot]


def test_a_subscription_is_refused(lab, cluster, tmp_path):
    live = cluster.live()
    subscription = "sub_%s" % cluster.suffix
    cluster.sql(live, "CREATE SUBSCRIPTION %s CONNECTION 'host=127.0.0.1 port=%s dbname=%s' PUBLICATION cdc_%s "
                      "WITH (connect = false)" % (subscription, lab["LAB_PG_PORT"], cluster.source, cluster.suffix))
    try:
        before = cluster.facts(live)
        result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"], replication="recreate"))
        assert result.get("failed")
        assert "database %s has subscription(s) %s" % (live, subscription) in result["msg"]
        unchanged(cluster, live, before)
    finally:
        for statement in ("ALTER SUBSCRIPTION %s DISABLE", "ALTER SUBSCRIPTION %s SET (slot_name = NONE)",
                          "DROP SUBSCRIPTION %s"):
            cluster.sql(live, statement % subscription)
