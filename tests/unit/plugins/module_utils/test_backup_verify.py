"""backup_verify: list, verify and retain restore points, on real local files: the real ``pg_restore`` reads a
"dump" (it refuses a file that is no archive: "input file does not appear to be a valid archive", PostgreSQL's
src/bin/pg_dump/pg_backup_archiver.c), the real ``age`` decrypts an encrypted item (age(1)), and RDS snapshots
come from botocore's Stubber (DescribeDBSnapshots answers DBSnapshotNotFound for a deleted snapshot:
botocore/data/rds/2014-10-31/service-2.json)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import tempfile

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils import restore_points as points
from ansible_collections.rollback.core.plugins.module_utils.backup_verify import Checker, list_points, retain, verify
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

DEFAULTS = dict(manifest_dir=None, owner=None, restore_point=None, decrypt_identity=None, pg_bin_dir=None,
                deep=False, keep=None, keep_days=None)


class Module:
    def __init__(self, check_mode=False, diff=False, **params):
        self.params = dict(DEFAULTS, **params)
        self.check_mode = check_mode
        self._diff = diff


def env_item(directory, name="app.env.backup-1", text="RELEASE=1.0.0\n"):
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        handle.write(text)
    size, sha = points.digest(path)
    return dict(kind="env_file", path=path, size=size, sha256=sha, location=path)


def add(manifest_dir, restore_point, item, owner="app"):
    return points.add_item(str(manifest_dir), restore_point, owner, None, item, [])


def test_a_sound_item_passes_and_list_shows_it(tmp_path):
    add(tmp_path / "m", "rp1", env_item(tmp_path))
    assert verify(Module(manifest_dir=str(tmp_path / "m")))["verified"][0]["problems"] == []
    listed = list_points(Module(manifest_dir=str(tmp_path / "m")))
    assert [row["restore_point"] for row in listed["restore_points"]] == ["rp1"] and listed["changed"] is False


def test_missing_truncated_and_changed_files_are_named(tmp_path):
    checker = Checker(DEFAULTS)
    item = env_item(tmp_path)
    with open(item["path"], "w") as handle:
        handle.write("RELEASE=")
    with pytest.raises(RollbackError, match=r"^env_file backup .* is truncated: 8 of 14 bytes$"):
        checker.check(item)
    with open(item["path"], "w") as handle:
        handle.write("RELEASE=6.6.6\n")
    with pytest.raises(RollbackError, match="^env_file backup .* changed since it was taken: sha256 "):
        checker.check(item)
    os.unlink(item["path"])
    with pytest.raises(RollbackError, match="^env_file backup .* is missing$"):
        checker.check(item)
    assert checker.check(dict(kind="marker")) is None


def test_contents_are_read_by_the_restores_own_readers(tmp_path):
    checker = Checker(DEFAULTS)
    with pytest.raises(RollbackError, match="holds no KEY=VALUE lines"):
        checker.check(env_item(tmp_path, text="# only a comment\n"))
    with pytest.raises(RollbackError):
        checker.check(dict(env_item(tmp_path, name="etcd.json", text="{not json"), kind="etcd"))


@pytest.mark.skipif(shutil.which("pg_restore") is None, reason="pg_restore is not installed")
def test_a_dump_is_read_by_pg_restore(tmp_path):
    item = dict(env_item(tmp_path, name="app.dump", text="no archive at all\n"), kind="postgres")
    with pytest.raises(RollbackError, match=r"^reading the dump's table of contents \(.*app.dump\) failed: "
                                            "pg_restore: error: input file does not appear to be a valid archive"):
        Checker(DEFAULTS).check(item)


class Tools:
    def __init__(self):
        self.calls = []

    def table_of_contents(self, path):
        self.calls.append("toc")

    def run(self, tool, args, what):
        self.calls.append((tool, args))


def test_a_dump_is_read_whole_not_only_its_table_of_contents(tmp_path):
    checker = Checker(DEFAULTS)
    checker._tools = Tools()
    item = dict(env_item(tmp_path, name="app.dump"), kind="postgres")
    checker.check(item)
    assert checker._tools.calls == ["toc", ("pg_restore", ["--file=/dev/null", item["path"]])]


@pytest.mark.skipif(shutil.which("age") is None, reason="age is not installed")
def test_an_encrypted_item_is_checked_by_its_ciphertext_then_decrypted(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the decrypted copy goes
    identity = str(tmp_path / "id.txt")
    subprocess.run(["age-keygen", "-o", identity], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", identity], check=True, capture_output=True, text=True).stdout
    plain = tmp_path / "plain.env"
    plain.write_text("# nothing\n")
    target = str(tmp_path / "app.env.backup-1.age")
    subprocess.run(["age", "-r", public.strip(), "-o", target, str(plain)], check=True)
    size, sha = points.digest(target)
    item = dict(kind="env_file", path=target, size=size, sha256=sha, encrypted="age")
    Checker(DEFAULTS).check(item)  # without the identity: the ciphertext's sha256 only
    with pytest.raises(RollbackError, match="holds no KEY=VALUE lines"):
        Checker(dict(DEFAULTS, decrypt_identity=identity)).check(item)
    assert sorted(os.listdir(str(tmp_path))) == ["app.env.backup-1.age", "id.txt", "plain.env"]  # no plaintext left


def test_rds_snapshots_must_exist_and_be_available():
    checker = Checker(DEFAULTS)
    with stubbed("rds") as (checker._rds, stubber):
        stubber.add_client_error("describe_db_snapshots", "DBSnapshotNotFound", http_status_code=404)
        with pytest.raises(RollbackError, match=r"^RDS snapshot s1 does not exist \(deleted\?\)$"):
            checker.check(dict(kind="rds", snapshot="s1"))
        stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(Status="creating")]),
                             dict(DBSnapshotIdentifier="s1"))
        with pytest.raises(RollbackError, match="^RDS snapshot s1 is creating, not available$"):
            checker.check(dict(kind="rds", snapshot="s1"))
        stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(Status="available")]))
        checker.check(dict(kind="rds", snapshot="s1"))


def test_verify_checks_the_newest_point_of_each_owner_and_fails_with_every_problem(tmp_path):
    manifests = tmp_path / "m"
    add(manifests, "app-1", env_item(tmp_path, name="a1"))
    broken = env_item(tmp_path, name="a2")
    add(manifests, "app-2", broken)
    add(manifests, "web-1", env_item(tmp_path, name="w1"), owner="web")
    os.unlink(broken["path"])
    with pytest.raises(RollbackError) as error:
        verify(Module(manifest_dir=str(manifests)))
    assert error.value.msg == "restore point app-2: env_file backup %s is missing" % broken["path"]
    assert [entry["restore_point"] for entry in error.value.details["verified"]] == ["app-2", "web-1"]
    assert verify(Module(manifest_dir=str(manifests), restore_point="app-1"))["problems"] == []
    with pytest.raises(RollbackError, match="^restore point app-9 not found in "):
        verify(Module(manifest_dir=str(manifests), restore_point="app-9"))


def test_deep_runs_only_on_points_that_passed_and_not_in_check_mode(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr("ansible_collections.rollback.core.plugins.module_utils.backup_deep.deep_verify",
                        lambda params, item, executed: ran.append(item["path"]) or ["select 1: ok"])
    manifests = tmp_path / "m"
    dump = dict(env_item(tmp_path, name="app.dump"), kind="postgres")
    add(manifests, "app-1", dump)
    monkeypatch.setattr(Checker, "content", lambda self, kind, path: None)
    result = verify(Module(manifest_dir=str(manifests), deep=True))
    assert ran == [dump["path"]] and result["verified"][0]["deep_checks"] == ["select 1: ok"]
    result = verify(Module(check_mode=True, manifest_dir=str(manifests), deep=True))
    assert len(ran) == 1 and result["verified"][0]["deep"].startswith("skipped in check mode")
    os.unlink(dump["path"])
    with pytest.raises(RollbackError, match="is missing"):
        verify(Module(manifest_dir=str(manifests), deep=True))
    assert len(ran) == 1  # a point that failed its checks is not restored


@pytest.mark.parametrize("params,message", [
    (dict(), "^action retain needs keep or keep_days$"),
    (dict(keep=0), "^keep must be at least 1: the newest restore point is never removed$"),
])
def test_retain_refuses_what_would_remove_everything(tmp_path, params, message):
    with pytest.raises(RollbackError, match=message):
        retain(Module(manifest_dir=str(tmp_path), **params))


def test_retain_keeps_the_newest_per_owner_and_removes_the_files(tmp_path):
    manifests = tmp_path / "m"
    old = env_item(tmp_path, name="a1")
    for name, owner, item in (("app-1", "app", old), ("app-2", "app", env_item(tmp_path, name="a2")),
                              ("web-1", "web", env_item(tmp_path, name="w1"))):
        add(manifests, name, item, owner=owner)
    planned = retain(Module(check_mode=True, diff=True, manifest_dir=str(manifests), keep=1))
    assert (planned["changed"], planned["removed"], planned["removed_files"]) == (True, ["app-1"], [])
    assert planned["diff"]["before"] == "app-1\napp-2\nweb-1\n" and planned["diff"]["after"] == "app-2\nweb-1\n"
    assert os.path.exists(old["path"])
    result = retain(Module(manifest_dir=str(manifests), keep=1))
    assert result["removed_files"] == [old["path"], str(manifests / "app-1.json")] and not os.path.exists(old["path"])
    assert retain(Module(manifest_dir=str(manifests), keep=1))["changed"] is False
