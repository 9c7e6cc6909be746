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
