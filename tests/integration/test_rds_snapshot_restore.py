"""rds_snapshot_restore through Ansible against the lab's moto server (every status is 'available' at once)."""

import uuid

import boto3
import pytest


@pytest.fixture
def rds(lab):
    return boto3.client("rds", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name=lab["LAB_AWS_REGION"],
                        aws_access_key_id=lab["LAB_AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=lab["LAB_AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def source(rds):
    name = "app-%s" % uuid.uuid4().hex[:8]
    rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.medium", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="app-secret-1", AllocatedStorage=20,
                           MultiAZ=True, BackupRetentionPeriod=7)
    rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier=name + "-old")
    rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier=name + "-new")
    yield name
    for instance in rds.describe_db_instances()["DBInstances"]:
        if instance["DBInstanceIdentifier"].startswith(name):
            rds.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"], SkipFinalSnapshot=True)


def instances(rds, prefix):
    return sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]
                  if i["DBInstanceIdentifier"].startswith(prefix))


def args(lab, **extra):
    base = dict(region=lab["LAB_AWS_REGION"], endpoint_url=lab["LAB_AWS_ENDPOINT"],
                access_key=lab["LAB_AWS_ACCESS_KEY_ID"], secret_key=lab["LAB_AWS_SECRET_ACCESS_KEY"], wait_sleep=0.2)
    base.update(extra)
    return base


def test_latest_snapshot_swap_keeps_the_old_instance_and_the_endpoint_name(ansible_module, lab, rds, source):
    run = ansible_module("rds_snapshot_restore", args(lab, db_instance_identifier=source, latest=True, swap=True),
                         verbosity=3)
    assert not run.failed, run.stdout
    result = run.result
    assert result["changed"] is True
    assert result["snapshot"]["id"] == source + "-new"
    assert result["db_instance"]["id"] == source and result["db_instance"]["status"] == "available"
    previous = result["previous_db_instance_identifier"]
    assert previous.startswith(source + "-pre-rollback-")
    assert instances(rds, source) == sorted([source, previous])
    restored = rds.describe_db_instances(DBInstanceIdentifier=source)["DBInstances"][0]
    assert restored["DBInstanceClass"] == "db.t3.medium" and restored["MultiAZ"] is True
    assert result["data_loss_window"]["seconds"] >= 0
    assert "BackupRetentionPeriod=7" in run.stdout + run.stderr
    assert lab["LAB_AWS_SECRET_ACCESS_KEY"] + "x" not in run.stdout

    rerun = ansible_module("rds_snapshot_restore", args(lab, db_instance_identifier=source, latest=True, swap=True))
    assert rerun.result["changed"] is False
    assert instances(rds, source) == sorted([source, previous])


def test_named_snapshot_to_a_named_target_without_swap(ansible_module, lab, rds, source):
    target = source + "-inspect"
    run = ansible_module("rds_snapshot_restore", args(lab, db_instance_identifier=source,
                                                      db_snapshot_identifier=source + "-old",
                                                      target_db_instance_identifier=target,
                                                      db_instance_class="db.t3.small"))
    assert not run.failed, run.stdout
    assert run.result["db_instance"]["id"] == target and run.result["previous_db_instance_identifier"] is None
    assert rds.describe_db_instances(DBInstanceIdentifier=target)["DBInstances"][0]["DBInstanceClass"] == "db.t3.small"
    rerun = ansible_module("rds_snapshot_restore", args(lab, db_instance_identifier=source,
                                                        db_snapshot_identifier=source + "-old",
                                                        target_db_instance_identifier=target))
    assert rerun.result["changed"] is False


def test_check_mode_reports_the_plan_only(ansible_module, lab, rds, source):
    run = ansible_module("rds_snapshot_restore", args(lab, db_instance_identifier=source, latest=True, swap=True),
                         check=True)
    assert not run.failed and run.result["changed"] is True
    assert run.result["restore_arguments"]["DBSnapshotIdentifier"] == source + "-new"
    assert instances(rds, source) == [source]


@pytest.mark.parametrize("extra,message", [
    (dict(db_snapshot_identifier="nope-snap"), "snapshot nope-snap not found"),
    (dict(latest=True, snapshot_type="automated", db_instance_identifier="missing-db"),
     "source instance missing-db not found"),
    (dict(latest=True, restore_options=dict(NotAnOption=1)),
     "restore_options not accepted by RestoreDBInstanceFromDBSnapshot: NotAnOption"),
    (dict(db_snapshot_identifier="x", latest=True), "mutually exclusive"),
    (dict(), "choose the snapshot: db_snapshot_identifier, or latest: true"),
])
def test_bad_input_changes_nothing(ansible_module, lab, rds, source, extra, message):
    run = ansible_module("rds_snapshot_restore", args(lab, **dict(dict(db_instance_identifier=source), **extra)))
    assert run.failed and message in run.result["msg"], run.result
    assert instances(rds, source) == [source]


def test_taken_target_is_refused(ansible_module, lab, rds, source):
    rds.create_db_instance(DBInstanceIdentifier=source + "-taken", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="app-secret-1", AllocatedStorage=20)
    run = ansible_module("rds_snapshot_restore", args(lab, db_instance_identifier=source, latest=True,
                                                      target_db_instance_identifier=source + "-taken"))
    assert run.failed and run.result["msg"] == "target instance %s-taken already exists" % source
