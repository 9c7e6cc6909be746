"""Restore point manifests: names the restore modules pick, retention that never drops the newest of a kind."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils import backups
from ansible_collections.rollback.core.plugins.module_utils import restore_points as points
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def manifest(name, day, *kinds):
    taken = "2026-11-%02dT10:00:00Z" % day
    return dict(restore_point=name, owner="api", started=taken, finished=taken, manifest="/m/%s.json" % name,
                items=[dict(kind=kind, location="%s-%s" % (name, kind)) for kind in kinds])


def test_the_name_is_what_the_restore_takes_as_newest(tmp_path):
    for stamp in ("20261201-090000-000000", "20261203-101500-000001"):
        (tmp_path / points.file_name("demo-*.dump", stamp)).write_text("x")
    (tmp_path / "demo-20261202-000000.dump.pre-rollback-20261203T000000Z").write_text("x")
    assert backups.newest_backup(str(tmp_path), "demo-*.dump") == os.path.join(
        str(tmp_path), "demo-20261203-101500-000001.dump")


@pytest.mark.parametrize("pattern", ["demo.dump", "demo-*-*.dump", "demo-?.dump", "db/demo-*.dump"])
def test_a_pattern_without_exactly_one_star_is_refused(pattern):
    with pytest.raises(RollbackError, match="exactly one"):
        points.file_name(pattern, "20261203-101500")


def test_retention_keeps_the_newest_and_the_newest_of_each_kind():
    found = [manifest("a", 1, "postgres", "etcd"), manifest("b", 2, "etcd"), manifest("c", 3, "rds"),
             manifest("d", 4, "etcd"), manifest("e", 5, "etcd")]
    assert [m["restore_point"] for m in points.expired(found, 1, None, NOW)] == ["b", "d"]
    assert [m["restore_point"] for m in points.expired(found, 3, None, NOW)] == ["b"]
    assert points.expired(found, 10, None, NOW) == []


def test_retention_by_days_never_removes_the_only_restore_point():
    found = [manifest("a", 1, "etcd")]
    assert points.expired(found, None, 1, NOW) == []
    found.append(manifest("b", 2, "etcd"))
    assert [m["restore_point"] for m in points.expired(found, None, 1, NOW)] == ["a"]


def test_table_lists_age_size_kinds_and_deploy():
    row = points.row(dict(manifest("a", 1, "postgres"), deploy_id="release-7"), NOW)
    row["size"] = 3 << 20
    header, line = points.table([row])
    assert header.split() == ["OWNER", "RESTORE", "POINT", "TAKEN", "AGE", "SIZE", "KINDS", "DEPLOY"]
    assert line.split() == ["api", "a", "2026-11-01T10:00:00Z", "32d", "3.0M", "postgres", "release-7"]


def test_a_manifest_of_another_owner_is_not_extended(tmp_path):
    points.add_item(str(tmp_path), "rp", "api", None, dict(kind="marker", location="deploy marker"), [])
    with pytest.raises(RollbackError, match="belongs to api"):
        points.add_item(str(tmp_path), "rp", "web", None, dict(kind="marker", location="deploy marker"), [])
    with pytest.raises(RollbackError, match="plain name"):
        points.manifest_path(str(tmp_path), "../rp")
