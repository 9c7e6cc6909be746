"""postgres_restore pitr before any change: the target time (given, or the newest deploy marker's start), the
PostgreSQL binaries of the stanza's version, and the scratch server's readiness as postmaster.pid says it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils import postgres_pitr
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

NOW = 1796383600.0


def pitr(**changes):
    return dict(dict(target_time=None, marker_dir=None, services=[]), **changes)


def test_target_time_with_its_offset_in_utc():
    assert postgres_pitr.target_of("2026-12-04T12:25:00+01:00", NOW) == 1796383500.0
    assert postgres_pitr.target_of("2026-12-04T11:25:00.5Z", NOW) == 1796383500.5


@pytest.mark.parametrize("text, message", [
    ("2026-12-04 11:25", "is not an ISO 8601 time with an offset"),
    ("2026-12-04T11:25:00", "is not an ISO 8601 time with an offset"),
    ("2026-12-04T11:30:00Z", "2026-12-04T11:30:00Z is in the future"),
])
def test_bad_target_time_is_refused(text, message):
    with pytest.raises(RollbackError, match=message):
        postgres_pitr.target_of(text, NOW)


def test_target_from_the_newest_deploy_marker_of_the_services(tmp_path):
    def markers(*entries):
        for service, deploy, started in entries:
            (tmp_path / (service + ".json")).write_text(json.dumps(dict(service=service, deploy_id=deploy,
                                                                        status="done", started_at=started)))

    markers(("api", "d1", "2026-12-04T11:00:00Z"), ("worker", "d2", "2026-12-04T11:20:00Z"))
    assert postgres_pitr._target_time(pitr(marker_dir=str(tmp_path), services=["api", "worker", "none"])) == \
        "2026-12-04T11:20:00Z"
    # One deploy reaching api, then worker (a migration ran in between): back to the deploy's first marker.
    markers(("api", "d3", "2026-12-04T12:00:00Z"), ("worker", "d3", "2026-12-04T12:00:09Z"))
    assert postgres_pitr._target_time(pitr(marker_dir=str(tmp_path), services=["api", "worker"])) == \
        "2026-12-04T12:00:00Z"
    assert postgres_pitr._target_time(pitr(target_time="2026-12-04T10:00:00Z", marker_dir=str(tmp_path),
                                           services=["api"])) == "2026-12-04T10:00:00Z"
    with pytest.raises(RollbackError, match="pitr: no deploy marker of other in .*; give target_time"):
        postgres_pitr._target_time(pitr(marker_dir=str(tmp_path), services=["other"]))
    with pytest.raises(RollbackError, match="pitr needs target_time, or marker_dir and services"):
        postgres_pitr._target_time(pitr())


def test_binaries_of_the_stanza_version(tmp_path):
    for tool in ("pg_ctl", "pg_dump", "psql"):
        (tmp_path / tool).write_text("")
    assert postgres_pitr.bin_dir(str(tmp_path), "15") == str(tmp_path)
    os.remove(str(tmp_path / "pg_ctl"))
    with pytest.raises(RollbackError, match="no pg_ctl, pg_dump and psql of PostgreSQL 15 .*set pitr pg_bin_dir"):
        postgres_pitr.bin_dir(str(tmp_path), "15")


def test_the_scratch_server_is_ready_once_postmaster_pid_says_so(tmp_path):
    # postmaster.pid's 8th line is the status (src/include/utils/pidfile.h LOCK_FILE_LINE_PM_STATUS): "starting",
    # "stopping", "ready", "standby".
    data = tmp_path / "data"
    data.mkdir()
    lines = ["4242", str(data), "1796383500", "5432", "/run", "", "  1 1", "standby  "]
    (data / "postmaster.pid").write_text("\n".join(lines) + "\n")
    assert postgres_pitr._recovered(str(data), str(tmp_path), "recovery") == (False, "recovering (standby)")
    (data / "postmaster.pid").write_text("\n".join(lines[:7] + ["ready   "]) + "\n")
    assert postgres_pitr._recovered(str(data), str(tmp_path), "recovery")[0] is True
    os.remove(str(data / "postmaster.pid"))
    (tmp_path / "server.log").write_text("LOG: starting\nFATAL: recovery ended before configured recovery target "
                                         "was reached\n")
    with pytest.raises(RollbackError, match="recovery failed: the scratch server stopped; server log: .*FATAL: "
                                            "recovery ended before configured recovery target was reached"):
        postgres_pitr._recovered(str(data), str(tmp_path), "recovery")


SET_TABLESPACES = [dict(destination="/srv/ts", name="ts_old", oid=16384)]


def test_a_live_tablespace_the_backup_set_does_not_hold_is_refused():
    # Redo of a tablespace's creation (tablespace.c create_tablespace_directories) accepts a directory already in use
    # when InRecovery and links pg_tblspc to it: a scratch cluster would write into the live tablespace.
    assert postgres_pitr.refuse_new_tablespaces([(16384, "ts_old", "/srv/ts")], SET_TABLESPACES, "F1", "lab") == [
        "ts_old"]
    assert postgres_pitr.refuse_new_tablespaces([], [], "F1", "lab") == []
    with pytest.raises(RollbackError, match=r"pitr: tablespace ts_new \(oid 16390, /srv/ts_new\) of the live server "
                                            r"is not in backup set F1 of stanza lab: created after that backup.*"
                                            r"pgbackrest --stanza=lab backup --type=full.*nothing was changed"):
        postgres_pitr.refuse_new_tablespaces([(16384, "ts_old", "/srv/ts"), (16390, "ts_new", "/srv/ts_new")],
                                             SET_TABLESPACES, "F1", "lab")


def test_the_scratch_server_log_gives_the_fatal_line_not_the_shutdown(tmp_path):
    # What PostgreSQL 15 logged when redo met a tablespace whose directory is gone (captured on the lab).
    (tmp_path / "server.log").write_text(
        "LOG:  redo starts at 0/86000028\n"
        "FATAL:  directory \"/srv/ts_gone\" does not exist\n"
        "HINT:  Create this directory for the tablespace before restarting the server.\n"
        "CONTEXT:  WAL redo at 0/AAD47BA0 for Tablespace/CREATE: 34081 \"/srv/ts_gone\"\n"
        "LOG:  startup process (PID 30287) exited with exit code 1\n"
        "LOG:  terminating any other active server processes\n"
        "LOG:  shutting down due to startup process failure\n"
        "LOG:  database system is shut down\n")
    assert postgres_pitr._log_tail(str(tmp_path)) == (
        "; server log: FATAL:  directory \"/srv/ts_gone\" does not exist | HINT:  Create this directory for the "
        "tablespace before restarting the server. | CONTEXT:  WAL redo at 0/AAD47BA0 for Tablespace/CREATE: 34081 "
        "\"/srv/ts_gone\"")
