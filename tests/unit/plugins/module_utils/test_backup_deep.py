"""backup_deep: the deep verify of a dump (restore into a scratch database, run the verify SQL, drop the scratch
whatever happens), with the server, the tools and the checks replaced by fakes: what is created, how the dump is
restored (``--no-owner --no-privileges``: the roles need not exist on a verify server) and that the scratch is
always dropped."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils import postgres, postgres_dump, postgres_side
from ansible_collections.rollback.core.plugins.module_utils.backup_deep import deep_verify
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from support.pg_sql import render

PARAMS = dict(login_host="db", login_port=5432, login_user="verify", login_password="x", pg_bin_dir=None, jobs=2,
              verify=[dict(name="orders", sql="SELECT count(*) FROM orders", as_role="app")])


class Server:
    def __init__(self, params, executed):
        self.params, self.executed = params, executed
        events.append(("server", params["maintenance_db"]))

    def execute(self, statement):
        events.append(("execute", render(statement)))

    def in_database(self, database, func):
        events.append(("in", database))
        return func("connection to %s" % database)


class Tools:
    fail = None

    def __init__(self, bin_dir, login, executed):
        pass

    def restore(self, path, fmt, database, jobs, no_owner):
        events.append(("restore", path, fmt, database, jobs, no_owner))
        if Tools.fail:
            raise RollbackError(Tools.fail)


events = []


@pytest.fixture
def fakes(monkeypatch):
    del events[:]
    Tools.fail = None
    monkeypatch.setattr(postgres, "Server", Server)
    monkeypatch.setattr(postgres_dump, "Tools", Tools)
    monkeypatch.setattr(postgres_dump, "find_bin_dir", lambda requested: "/usr/bin")
    monkeypatch.setattr(postgres_dump, "detect_format", lambda path: "custom")
    monkeypatch.setattr(postgres_side, "drop", lambda server, name: events.append(("drop", name)))
    monkeypatch.setattr(postgres_side, "run_check", lambda connection, check: dict(check, ran_on=connection))


def test_the_dump_is_restored_into_a_scratch_checked_and_dropped(fakes):
    results = deep_verify(PARAMS, dict(path="/b/app.dump"), [])
    scratch = events[1][1].split('"')[1]
    assert scratch.startswith("rollback_verify_") and len(scratch) == len("rollback_verify_") + 12
    assert events == [("server", "postgres"),
                      ("execute", 'CREATE DATABASE "%s" WITH TEMPLATE template0' % scratch),
                      ("restore", "/b/app.dump", "custom", scratch, 2, True), ("in", scratch), ("drop", scratch)]
    assert results == [dict(PARAMS["verify"][0], as_role=None, ran_on="connection to %s" % scratch)]


def test_a_failed_restore_names_the_dump_and_still_drops_the_scratch(fakes):
    Tools.fail = "pg_restore failed: could not execute query: relation exists"
    with pytest.raises(RollbackError, match="^deep verify of /b/app.dump: pg_restore failed: could not execute"):
        deep_verify(dict(PARAMS, maintenance_db="maint"), dict(path="/b/app.dump"), [])
    assert events[0] == ("server", "maint") and events[-1][0] == "drop"


def test_two_runs_use_two_scratch_names(fakes):
    deep_verify(PARAMS, dict(path="/b/app.dump"), [])
    deep_verify(PARAMS, dict(path="/b/app.dump"), [])
    drops = [event[1] for event in events if event[0] == "drop"]
    assert len(set(drops)) == 2
