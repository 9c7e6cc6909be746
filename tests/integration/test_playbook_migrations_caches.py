"""Level gates and level 3 extras wired into playbooks/rollback.yml: Alembic migrations and Redis caches."""

import json
import os

import pytest
import redis
from playbook_runs import REPO, db_items, deploy_bad, pg, run_playbook, versions

ALEMBIC = os.path.join(REPO, "tests", "integration", "files", "alembic")
CACHE_DB = 9


def migrations(stamp=False):
    return {"rollback_database_migrations": {"script_location": os.path.join(ALEMBIC, "1.0.0"),
                                             "current_script_location": os.path.join(ALEMBIC, "1.0.1"),
                                             "stamp_after_restore": stamp}}


def version_table(lab):
    with pg(lab) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT version_num FROM alembic_version ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def migrated(lab, lab_env):
    """The bad release deployed, and its migration b2 recorded in the demo database's version table. One deploy for
    both tests: the first changes nothing (it asserts so), the second rolls back."""
    deploy_bad(lab_env)
    with pg(lab) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY)")
        cursor.execute("DELETE FROM alembic_version; INSERT INTO alembic_version VALUES ('b2')")
    yield
    with pg(lab) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture
def cache(lab):
    client = redis.Redis(host=lab["LAB_REDIS_HOST"], port=lab["LAB_REDIS_PORT"], password=lab["LAB_REDIS_PASSWORD"],
                         db=CACHE_DB)
    client.flushdb()
    client.mset({"page:home": "built from 1.0.1 data", "page:items": "stale", "session:1": "x"})
    yield client
    client.flushdb()


def test_level1_is_refused_when_the_undone_release_ran_migrations(lab, lab_env, migrated):
    before = dict(versions=versions(lab_env), items=db_items(lab), table=version_table(lab))
    run = run_playbook(lab_env, "rollback.yml", "-e", "level=1", "-e", json.dumps(migrations()))
    assert run.rc != 0
    assert "demo-postgres: the release being undone ran migration(s) b2." in run.output
    assert "Re-run with -e level=3 -e confirm_data_loss=true" in run.output
    assert dict(versions=versions(lab_env), items=db_items(lab), table=version_table(lab)) == before

    accepted = run_playbook(lab_env, "rollback.yml", "--check", "-e", "level=1", "-e", "accept_newer_schema=true",
                            "-e", json.dumps(migrations()))
    assert accepted.rc == 0, accepted.output[-3000:]
    assert dict(versions=versions(lab_env), items=db_items(lab), table=version_table(lab)) == before


def test_level3_restores_stamps_the_version_table_and_invalidates_the_cache(lab, lab_env, migrated, cache, tmp_path):
    # The cache belongs to demo-postgres only (extra vars would give it to demo-rds too): a second inventory source.
    caches = [{"name": "page cache", "host": lab["LAB_REDIS_HOST"], "port": lab["LAB_REDIS_PORT"],
               "password": lab["LAB_REDIS_PASSWORD"], "db": CACHE_DB, "mode": "patterns", "patterns": ["page:*"]}]
    inventory = tmp_path / "caches.yml"
    inventory.write_text(json.dumps({"all": {"children": {"rollback_databases": {"hosts": {
        "demo-postgres": {"rollback_database_caches": caches}}}}}}))
    written = db_items(lab).count("written-by-1.0.1")
    run = run_playbook(lab_env, "rollback.yml", "-i", str(inventory), "-e", "level=3", "-e", "confirm_data_loss=true",
                       "-e", json.dumps(migrations(stamp=True)))
    assert run.rc == 0, run.output[-4000:]
    assert version_table(lab) == ["a1"], "the restored database is stamped with the 1.0.0 head"
    assert db_items(lab).count("written-by-1.0.1") == written - 1, "the row the migration wrote after the dump"
    assert sorted(cache.keys()) == [b"session:1"], "only the page cache is invalidated"
    restored = dict((d["host"], d) for d in run.report["databases_restored"])
    assert restored["demo-rds"]["caches_invalidated"] is None
    postgres = restored["demo-postgres"]
    assert postgres["migrations_stamped"] == ["a1"]
    assert postgres["caches_invalidated"] == [dict(cache="page cache", mode="patterns", db=CACHE_DB, keys_before=3,
                                                   keys_deleted=2, keys_after=1, status="changed")]
    with open(os.path.join(run.report_dir, "report.md")) as handle:
        markdown = handle.read()
    assert "Cache page cache (patterns, db 9): 2 of 3 keys deleted, changed." in markdown
    assert "Alembic version table stamped: a1." in markdown
    assert lab["LAB_REDIS_PASSWORD"] not in run.output
