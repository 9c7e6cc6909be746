"""backup_take: taking one restore point item, on local files (env_file, marker, a fake pg_dump), with the RDS
snapshot through botocore's Stubber (CreateDBSnapshot, DescribeDBSnapshots: botocore/data/rds/2014-10-31/
service-2.json; ``failed`` and ``deleted`` are failure acceptors of the DBSnapshotAvailable waiter in
waiters-2.json)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils import aws
from ansible_collections.rollback.core.plugins.module_utils import restore_points as points
from ansible_collections.rollback.core.plugins.module_utils.backup_take import (
    Postgres, Rds, _portable, need_library, take, target_path)
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import read_marker

DEFAULTS = dict(owner="app", manifest_dir=None, restore_point=None, deploy_id=None, kind="env_file", storage=None,
                sse="AES256", sse_kms_key_id=None, encrypt=None, path=None, backup_dir=None, backup_pattern=None,
                db="app", dump_dir=None, dump_pattern=None, dump_format="custom", jobs=1, pg_bin_dir=None,
                marker_dir=None, revision=None, image=None, release=None, version=None, services=None,
                db_instance_identifier="app", wait=True, wait_timeout=5, wait_sleep=0.0)


class Module:
    def __init__(self, check_mode=False, diff=False, **params):
        self.params = dict(DEFAULTS, **params)
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


@pytest.fixture
def env(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("DATABASE_URL=postgres://db/app\nRELEASE=1.0.0\n")
    return dict(path=str(path), manifest_dir=str(tmp_path / "points"))


def test_target_path_is_fresh_and_stamped_to_the_microsecond(tmp_path):
    moment = 1762941600.25  # 2025-11-12T10:00:00.25Z
    first = target_path(str(tmp_path), "app-*.dump", moment)
    assert os.path.basename(first) == "app-%s-250000.dump" % points.name_stamp(moment)
    open(first, "w").close()
    assert os.path.basename(target_path(str(tmp_path), "app-*.dump", moment)) == \
        "app-%s-250001.dump" % points.name_stamp(moment)
    with pytest.raises(RollbackError, match="must hold exactly one"):
        target_path(str(tmp_path), "app.dump")


def test_a_missing_library_is_named():
    need_library("boto3", None)
    with pytest.raises(RollbackError, match=r"boto3.*\(pip install boto3\)$"):
        need_library("boto3", "Traceback: ImportError")


def test_portable_kubernetes_objects_keep_contents_not_server_fields():
    live = dict(metadata=dict(name="cfg", namespace="app", labels=dict(a="b"), annotations={}, uid="u",
                              resourceVersion="42", creationTimestamp="2025-11-12T10:00:00Z", managedFields=[]),
                data=dict(k="v"), binaryData=None, immutable=False, type=None)
    assert _portable("ConfigMap", live) == dict(apiVersion="v1", kind="ConfigMap", data=dict(k="v"), immutable=False,
                                                metadata=dict(name="cfg", namespace="app", labels=dict(a="b")))


@pytest.mark.parametrize("params,message", [
    (dict(owner=None), "^kind take needs owner$"),
    (dict(restore_point="../etc"), "must be a plain name"),
    (dict(kind="rds", encrypt=["age1x"]), "^encrypt applies to file backups .* not kind rds"),
    (dict(kind="postgres", dump_format="directory", encrypt=["age1x"]), "^encrypt takes files"),
    (dict(storage="/var/backups"), "is not an s3://bucket/prefix URL"),
    (dict(kind="marker", storage="s3://b/p", revision="abc"), "^storage applies to file backups"),
    (dict(kind="postgres", dump_format="directory", storage="s3://b/p"), "^storage takes files"),
    (dict(storage="s3://b/p", sse_kms_key_id="alias/k"), "^sse_kms_key_id needs sse aws:kms$"),
    (dict(path=None), "^kind env_file needs path$"),
    (dict(kind="marker"), "^kind marker needs the revision, image or release"),
])
def test_bad_input_is_refused_before_any_change(env, params, message):
    with pytest.raises(RollbackError, match=message):
        take(Module(**dict(env, **params)))
    assert not os.path.exists(env["manifest_dir"])


def test_check_mode_plans_and_writes_nothing(env, tmp_path):
    result = take(Module(check_mode=True, diff=True, restore_point="rp1", backup_dir=str(tmp_path / "b"), **env))
    assert result["changed"] is True and result["item"]["source"] == env["path"]
    assert result["diff"] == dict(before="", after="rp1: %s\n" % result["item"]["location"])
    assert not os.path.exists(str(tmp_path / "b")) and not os.path.exists(env["manifest_dir"])


def test_an_env_file_is_copied_beside_it_and_recorded(env):
    module = Module(restore_point="rp1", deploy_id="release-42", **env)
    result = take(module)
    item = result["item"]
    assert os.path.dirname(item["path"]) == os.path.dirname(env["path"])
    assert os.path.basename(item["path"]).startswith("app.env.backup-")
    with open(item["path"]) as handle:
        assert handle.read() == "DATABASE_URL=postgres://db/app\nRELEASE=1.0.0\n"
    assert stat.S_IMODE(os.stat(item["path"]).st_mode) == 0o600
    assert (item["size"], item["sha256"]) == points.digest(item["path"])
    [manifest] = points.manifests(env["manifest_dir"])
    assert manifest["deploy_id"] == "release-42" and manifest["items"] == [item]
    assert result["items"] == [item] and result["restore_point"] == "rp1"


def test_the_restore_point_is_named_after_the_owner_and_belongs_to_it(env):
    result = take(Module(**env))
    assert result["restore_point"].startswith("app-")
    with pytest.raises(RollbackError, match="^restore point %s belongs to app, not other$" % result["restore_point"]):
        take(Module(owner="other", restore_point=result["restore_point"], **env))


class Tools:
    def __init__(self, fail=False):
        self.fail = fail

    def dump(self, db, path, fmt, jobs):
        with open(path, "wb") as handle:
            handle.write(b"PGDMP partial")
        if self.fail:
            raise RollbackError("pg_dump failed: connection lost")


def test_a_dump_appears_under_its_name_only_when_complete(tmp_path):
    module = Module(kind="postgres", dump_dir=str(tmp_path))
    item = Postgres(module, [])
    item.tools = Tools(fail=True)
    plan = item.file_plan(str(tmp_path), "app-*.dump")
    with pytest.raises(RollbackError, match="connection lost"):
        item.take(plan)
    assert os.listdir(str(tmp_path)) == []  # neither the name nor the partial file
    item.tools = Tools()
    item.take(plan)
    assert os.listdir(str(tmp_path)) == [os.path.basename(plan["path"])]
    assert stat.S_IMODE(os.stat(plan["path"]).st_mode) == 0o600


def test_the_marker_kind_writes_the_deploy_marker(env, tmp_path):
    marker_dir = str(tmp_path / "markers")
    take(Module(kind="marker", marker_dir=marker_dir, restore_point="rp1", version="1.0.0", revision="r0", **env))
    first = read_marker(marker_dir, "app")
    assert (first.status, first.deploy_id, first.document["previous_version"], first.services) == (
        "in_progress", "rp1", "r0", ["app"])
    result = take(Module(kind="marker", marker_dir=marker_dir, restore_point="rp2", version="1.0.1", **env))
    second = read_marker(marker_dir, "app")
    assert second.document["previous_version"] == "1.0.0"  # what the last deploy installed
    assert result["item"]["marker_file"] == os.path.join(marker_dir, "app.json")
    with open(os.path.join(marker_dir, "app.json"), "w") as handle:
        handle.write("{not json")
    module = Module(kind="marker", marker_dir=marker_dir, restore_point="rp3", version="1.0.2", **env)
    take(module)
    assert module.warnings and module.warnings[0].startswith("previous deploy marker: ")


def test_a_marker_without_a_marker_dir_is_only_in_the_manifest(env):
    result = take(Module(kind="marker", image="registry/app:1.0.0", **env))
    assert result["item"]["deploy"]["image"] == "registry/app:1.0.0" and "marker_file" not in result["item"]


@pytest.fixture
def rds():
    with stubbed("rds") as pair:
        yield pair


def snapshot(status):
    return dict(DBSnapshots=[dict(DBSnapshotIdentifier="app-predeploy-x", Status=status)])


def test_an_rds_snapshot_is_tagged_and_waited_for(rds):
    client, stubber = rds
    item = Rds(Module(kind="rds", restore_point="rp1", deploy_id=None), [])
    item.rds = client
    tags = [dict(Key="rollback:restore-point", Value="rp1"), dict(Key="rollback:deploy-id", Value="rp1"),
            dict(Key="rollback:owner", Value="app")]
    stubber.add_response("create_db_snapshot", dict(DBSnapshot=dict(DBSnapshotIdentifier="app-predeploy-x")), dict(
        DBSnapshotIdentifier="app-predeploy-x", DBInstanceIdentifier="app", Tags=tags))
    stubber.add_response("describe_db_snapshots", snapshot("creating"), dict(DBSnapshotIdentifier="app-predeploy-x"))
    stubber.add_response("describe_db_snapshots", snapshot("available"), dict(DBSnapshotIdentifier="app-predeploy-x"))
    plan = item.take(dict(snapshot="app-predeploy-x", instance="app"))
    assert plan["status"] == "available" and plan["tags"]["rollback:deploy-id"] == "rp1"


def test_a_failed_rds_snapshot_fails_the_item(rds):
    client, stubber = rds
    item = Rds(Module(kind="rds", restore_point="rp1"), [])
    item.rds = client
    stubber.add_response("create_db_snapshot", dict(DBSnapshot=dict(DBSnapshotIdentifier="app-predeploy-x")))
    stubber.add_response("describe_db_snapshots", snapshot("failed"))
    with pytest.raises(RollbackError, match="^snapshot app-predeploy-x is failed$"):
        item.take(dict(snapshot="app-predeploy-x", instance="app"))


def test_an_rds_item_of_a_missing_instance_is_refused(rds, monkeypatch):
    client, stubber = rds
    monkeypatch.setattr(aws, "AwsClient", lambda params, service: client)
    stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", http_status_code=404)
    with pytest.raises(RollbackError, match="^RDS instance app does not exist: nothing was backed up$"):
        Rds(Module(kind="rds"), []).plan()
    stubber.add_response("describe_db_instances", dict(DBInstances=[dict(DBInstanceIdentifier="app")]))
    plan = Rds(Module(kind="rds"), []).plan()
    assert plan["snapshot"].startswith("app-predeploy-") and plan["location"] == "rds snapshot " + plan["snapshot"]


def test_manifest_json_is_what_the_result_says(env):
    result = take(Module(restore_point="rp1", **env))
    with open(result["manifest"]) as handle:
        assert json.load(handle)["items"] == [result["item"]]
