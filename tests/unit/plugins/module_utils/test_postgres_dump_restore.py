"""postgres_dump_restore: the postgres_restore flow's own decisions (refusals before anything runs, the marker that
makes a re-run change nothing, check mode, jobs, the emergency dump), with the server, the tools and the side
database steps (postgres_side, tested in its own file and the integration tests) replaced by fakes. pg_restore
restores plain and tar archives with one job only (pg_restore docs, ``--jobs``: "Only the custom and directory
archive formats are supported with this option")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.rollback.core.plugins.module_utils import postgres_dump_restore as flow
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

PARAMS = dict(db="app", dump=None, emergency_backup=False, emergency_backup_dir=None, emergency_backup_compression=6,
              drain_timeout=30, pg_bin_dir=None, no_owner=False, swap=True, force=False, verify=[],
              compare_privileges=True, replication="refuse", keep_failed_side=False, free_space_check="auto", jobs=4,
              login_host="db.example", login_port=5432, login_user="rollback", login_password="x",
              maintenance_db="postgres")


class Module:
    def __init__(self, check_mode=False, **params):
        self.params = dict(PARAMS, **params)
        self.check_mode = check_mode
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


class Tools:
    def __init__(self, bin_dir, login, executed):
        self.calls = []
        Tools.last = self

    def table_of_contents(self, path):
        self.calls.append(("toc", path))
        return ["1; 2615 2200 SCHEMA - public", "2; 1259 16385 TABLE public t app"]

    def restore(self, dump, fmt, side, jobs, no_owner):
        self.calls.append(("restore", dump, fmt, side, jobs, no_owner))

    def dump_custom(self, db, path, compression):
        self.calls.append(("dump", db, os.path.basename(path), compression))
        with open(path, "wb") as handle:
            handle.write(b"PGDMP")


class Server:
    def __init__(self, params, executed):
        self.executed = executed
        self.main = "main connection"

    def execute(self, statement):
        self.executed.append(statement)


@pytest.fixture
def fakes(monkeypatch):
    state = dict(plan=dict(live=dict(allow_connections=True), warnings=[], not_carried=["slot s1"], done=None,
                           side="app_rb", previous="app_pre_rollback", leftovers=[], replication=dict(slots=[])),
                 replaced=[], allow_connections=True)
    monkeypatch.setattr(flow, "Tools", Tools)
    Tools.last = None
    monkeypatch.setattr(flow, "find_bin_dir", lambda requested: "/usr/lib/postgresql/16/bin")
    monkeypatch.setattr(flow, "Server", Server)
    monkeypatch.setattr(flow.postgres_side, "prepare", lambda server, options: dict(state["plan"], options=options))
    monkeypatch.setattr(flow.postgres_identity, "facts", lambda live: "facts")
    monkeypatch.setattr(flow.postgres_identity, "read", lambda connection, name: dict(
        allow_connections=state["allow_connections"]))

    def replace(server, plan, options, fill, result):
        state["replaced"].append(options)
        fill(plan["side"])
    monkeypatch.setattr(flow.postgres_side, "replace", replace)
    return state


@pytest.fixture
def custom_dump(tmp_path):
    path = tmp_path / "app.dump"
    path.write_bytes(b"PGDMP" + b"\x00" * 100)
    os.utime(str(path), (1700000000, 1700000000))
    return str(path)


def test_marker_names_the_file_its_size_and_time(custom_dump):
    assert flow.restored_marker(custom_dump) == "%s size=105 mtime=1700000000" % os.path.abspath(custom_dump)
    marker = flow.restored_marker(custom_dump, "s3://bucket/app.dump")
    assert marker == "s3://bucket/app.dump size=105 mtime=1700000000"


@pytest.mark.parametrize("params,message", [
    (dict(emergency_backup=True), "^emergency_backup_dir is required while emergency_backup is true$"),
    (dict(drain_timeout=-1), "^drain_timeout must be 0 or more seconds, not -1$"),
])
def test_bad_options_are_refused_before_anything_runs(fakes, custom_dump, params, message):
    with pytest.raises(RollbackError, match=message):
        flow.restore(Module(dump=custom_dump, **params))
    assert Tools.last is None and fakes["replaced"] == []  # not even the tools were looked for


def test_a_dump_that_is_not_one_is_refused_before_the_server_is_touched(fakes, tmp_path, monkeypatch):
    monkeypatch.setattr(flow, "Server", lambda params, executed: pytest.fail("server contacted"))
    readme = tmp_path / "README"
    readme.write_text("not a dump\n")
    with pytest.raises(RollbackError, match="no SQL statement"):
        flow.restore(Module(dump=str(readme)))


def test_a_plain_dump_is_scanned_and_restored_with_one_job(fakes, tmp_path):
    dump = tmp_path / "app.sql"
    dump.write_text("SET statement_timeout = 0;\nCREATE TABLE t (id int);\n")
    module = Module(dump=str(dump))
    result = flow.restore(module)
    assert (result["format"], result["toc_entries"], result["changed"]) == ("plain", None, True)
    assert Tools.last.calls == [("restore", str(dump), "plain", "app_rb", 1, False)]
    assert module.warnings == ["jobs=4 ignored: pg_restore restores plain dumps with one job",
                               "not carried over: slot s1"]


def test_a_custom_dump_is_read_then_restored_in_parallel(fakes, custom_dump):
    module = Module(dump=custom_dump, no_owner=True)
    result = flow.restore(module)
    assert Tools.last.calls == [("toc", custom_dump), ("restore", custom_dump, "custom", "app_rb", 4, True)]
    assert (result["toc_entries"], result["side_db"], result["previous_db"], result["emergency_backup"]) == (
        2, "app_rb", "app_pre_rollback", None)
    options = fakes["replaced"][0]
    assert options["source"] == flow.restored_marker(custom_dump) and options["emergency_dir"] is None


def test_check_mode_reports_the_plan_and_changes_nothing(fakes, custom_dump, tmp_path):
    fakes["plan"]["leftovers"] = [dict(name="app_rb_old", state="failed"), dict(name="app_rb_ok", state="complete")]
    result = flow.restore(Module(check_mode=True, dump=custom_dump, emergency_backup=True,
                                 emergency_backup_dir=str(tmp_path / "emergency")))
    assert result["changed"] is True and result["dropped_leftovers"] == ["app_rb_old"]
    assert fakes["replaced"] == [] and not (tmp_path / "emergency").exists()
    assert ("restore", custom_dump, "custom", "app_rb", 4, False) not in Tools.last.calls


def test_the_emergency_dump_is_private_and_read_back(fakes, custom_dump, tmp_path):
    directory = tmp_path / "emergency"
    result = flow.restore(Module(dump=custom_dump, emergency_backup=True, emergency_backup_dir=str(directory)))
    path = result["emergency_backup"]
    assert os.path.dirname(path) == str(directory) and os.path.basename(path).startswith("app-emergency-")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    dumped = [call for call in Tools.last.calls if call[0] == "dump"][0]
    assert dumped[1] == "app" and dumped[3] == 6 and ("toc", path) in Tools.last.calls
    assert fakes["replaced"][0]["emergency_dir"] == str(directory)


def test_a_rerun_with_the_same_dump_changes_nothing(fakes, custom_dump):
    fakes["plan"]["done"] = "app_pre_rollback_20251112"
    result = flow.restore(Module(dump=custom_dump))
    assert result["changed"] is False and result["previous_db"] == "app_pre_rollback_20251112"
    assert "already restored from this dump by an earlier run" in result["msg"] and fakes["replaced"] == []
    assert result["executed_commands"] == []


def test_a_rerun_after_an_interrupted_swap_allows_connections_to_the_old_database_again(fakes, custom_dump):
    fakes["plan"]["done"] = "app_pre_rollback_20251112"
    fakes["allow_connections"] = False
    assert flow.restore(Module(dump=custom_dump, check_mode=True))["changed"] is False
    result = flow.restore(Module(dump=custom_dump))
    assert result["changed"] is True and len(result["executed_commands"]) == 1


def test_a_rerun_without_swap_names_the_side_database(fakes, custom_dump):
    fakes["plan"]["done"] = "app_rb_20251112"
    result = flow.restore(Module(dump=custom_dump, swap=False))
    assert (result["restored_db"], result["side_db"], result["changed"]) == ("app_rb_20251112", "app_rb_20251112",
                                                                             False)
    assert result["msg"] == "app_rb_20251112 already holds this dump, restored by an earlier run (force=true " \
                            "restores it again)"
