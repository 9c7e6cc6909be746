"""Naming the restore point behind a backup a rollback will use, and the warning when it predates the last deploy."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.rollback.core.plugins.module_utils import backup_locate
from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import (
    Marker, newest_deploy_start, newest_marker, read_marker, write_marker)
from ansible_collections.rollback.core.plugins.module_utils.toolkit import to_utc


def manifest(directory, restore_point, deploy_id, items):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, restore_point + ".json"), "w") as handle:
        json.dump(dict(format=1, restore_point=restore_point, owner="db1", deploy_id=deploy_id,
                       started=items[0]["taken_at"], finished=items[-1]["taken_at"], items=items), handle)


def marker(deploy_id, started_at, service="api"):
    return Marker(dict(service=service, deploy_id=deploy_id, status="done", started_at=started_at), "m.json")


def test_the_newest_restore_point_holding_a_backup_names_it(tmp_path):
    d = str(tmp_path)
    manifest(d, "db1-a", "release-1", [dict(kind="postgres", path="/b/db.dump", s3="s3://b/p/db.dump",
                                            taken_at="2025-11-10T10:00:00Z")])
    manifest(d, "db1-b", "release-2", [dict(kind="rds", snapshot="db-predeploy-2", taken_at="2025-11-11T10:00:00Z")])
    holders = backup_locate._holders(d, [])
    now = to_utc(1762941600)  # 2025-11-12T10:00:00Z
    row = backup_locate.locate_one("/b/db.dump", holders, now)
    assert row == dict(backup="/b/db.dump", restore_point="db1-a", deploy_id="release-1", kind="postgres",
                       taken="2025-11-10T10:00:00Z", age_seconds=2 * 86400)
    assert backup_locate.locate_one("db-predeploy-2", holders, now)["restore_point"] == "db1-b"
    assert backup_locate.locate_one("s3://b/p/db.dump", holders, now)["restore_point"] == "db1-a"
    assert backup_locate.locate_one("/nowhere.dump", holders, now)["restore_point"] is None


def test_a_missing_manifest_directory_is_a_problem_not_a_failure(tmp_path):
    problems = []
    assert backup_locate._holders(str(tmp_path / "none"), problems) == {}
    assert problems and "does not exist" in problems[0]


def test_stale_only_when_older_than_the_last_deploy_and_not_taken_for_it():
    row = dict(backup="/b/db.dump", restore_point="db1-a", deploy_id="release-1", taken="2025-11-10T10:00:00Z",
               age_seconds=7200)
    assert backup_locate.stale_warning(row, None, "db1") is None
    assert backup_locate.stale_warning(row, marker("release-1", "2025-11-10T10:05:00Z"), "db1") is None
    assert backup_locate.stale_warning(row, marker("release-0", "2025-11-09T10:00:00Z"), "db1") is None
    warning = backup_locate.stale_warning(row, marker("release-2", "2025-11-11T10:00:00Z"), "db1")
    assert warning.startswith("db1 will restore db1-a (restore point, taken 2025-11-10T10:00:00Z, 2h ago), older "
                              "than the last deploy release-2 of api (started 2025-11-11T10:00:00Z)")


def test_the_marker_backup_writes_is_the_one_deploy_marker_reads(tmp_path):
    d = str(tmp_path / "deploys")
    document = dict(service="api", deploy_id="release-2", status="in_progress", started_at="2025-11-11T10:00:00Z",
                    finished_at=None, version="1.4.3", previous_version="1.4.2", services=["api", "web"])
    path = write_marker(d, document)
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert read_marker(d, "api").as_dict()["previous_version"] == "1.4.2"
    write_marker(d, dict(document, service="web", deploy_id="release-3", started_at="2025-11-12T10:00:00Z"))
    problems = []
    assert newest_marker(d, ["api", "web", "none"], problems).deploy_id == "release-3" and problems == []


def test_the_newest_deploy_starts_with_its_first_marker(tmp_path):
    # One deploy of three services writes three markers as it reaches each; a migration it ran in between belongs to
    # it: the deploy started at its first marker (what a point in time restore must go back to).
    d = str(tmp_path / "deploys")
    base = dict(status="done", finished_at=None, version="1.0.1", previous_version="1.0.0")
    write_marker(d, dict(base, service="old", deploy_id="release-1", started_at="2025-11-11T09:00:00Z"))
    write_marker(d, dict(base, service="api", deploy_id="release-2", started_at="2025-11-11T10:00:05Z"))
    write_marker(d, dict(base, service="web", deploy_id="release-2", started_at="2025-11-11T10:00:20Z"))
    problems = []
    first = newest_deploy_start(d, ["old", "web", "api"], problems)
    assert (first.service, first.deploy_id) == ("api", "release-2") and problems == []
    assert newest_marker(d, ["old", "web", "api"], problems).service == "web"
    assert newest_deploy_start(d, ["none"], problems) is None
