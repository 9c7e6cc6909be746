"""rds_snapshot_restore run in-process against a moto server whose restores behave as AWS documents them
(tests/support/rds_moto.py). The runs through Ansible are in tests/integration/test_rds_snapshot_restore.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import time

import pytest

from ansible_collections.rollback.core.plugins.modules.rds_snapshot_restore import main
from support.rds_moto import SHOWN, describe, instances, module_args, moto_rds


@pytest.fixture(scope="module")
def aws():
    with moto_rds() as moto:
        yield moto


@pytest.fixture
def rds(aws):
    return aws.rds


@pytest.fixture
def ec2(aws):
    return aws.ec2


@pytest.fixture
def source(aws):
    with aws.instance(snapshot_suffix="s1") as name:
        yield name


@pytest.fixture
def restore(run_module, aws):
    def run(check_mode=False, **options):
        return run_module(main, module_args(aws.endpoint, **options), check_mode=check_mode)
    return run


def test_the_stand_in_restores_with_aws_defaults_not_the_source_settings(rds, source):
    """Without the module's carry-over a restore loses the settings, as on AWS: the control of the other tests."""
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=source + "-plain",
                                             DBSnapshotIdentifier=source + "-s1", Tags=[dict(Key="only", Value="this")])
    restored, original = describe(rds, source + "-plain"), describe(rds, source)
    lost = sorted(name for name, read in SHOWN.items() if read(restored) != read(original))
    assert {"DeletionProtection", "Tags", "EnableIAMDatabaseAuthentication", "EnableCloudwatchLogsExports",
            "MaxAllocatedStorage", "MonitoringInterval", "DBParameterGroupName", "VpcSecurityGroupIds",
            "PreferredMaintenanceWindow", "MultiAZ", "PubliclyAccessible", "CACertificateIdentifier"} <= set(lost)


def test_given_values_override_the_source_and_a_rerun_resumes_without_change(restore, rds, source):
    target = source + "-inspect"
    options = dict(db_instance_identifier=source, latest=True, target_db_instance_identifier=target,
                   db_instance_class="db.t3.small", multi_az=False,
                   restore_options=dict(DeletionProtection=False, BackupRetentionPeriod=3, PubliclyAccessible=False,
                                        MaxAllocatedStorage=800, PreferredMaintenanceWindow="mon:05:00-mon:05:30"))
    failed, result = restore(**options)
    assert not failed, result
    restored = describe(rds, target)
    assert (restored["DBInstanceClass"], restored["MultiAZ"], restored["DeletionProtection"]) == (
        "db.t3.small", False, False)
    assert (restored["BackupRetentionPeriod"], restored.get("PubliclyAccessible")) == (3, False)
    assert (restored["MaxAllocatedStorage"], restored["PreferredMaintenanceWindow"]) == (800, "mon:05:00-mon:05:30")
    assert restored["IAMDatabaseAuthenticationEnabled"] is True, "the source's value where none is given"
    origins = dict((row["setting"], row["origin"]) for row in result["settings"])
    assert origins["DBInstanceClass"] == origins["MaxAllocatedStorage"] == "given"
    assert origins["EnableIAMDatabaseAuthentication"] == "source"
    failed, again = restore(**options)
    assert not failed and again["changed"] is False and again["resumed"] is True
    assert instances(rds, source) == sorted([source, target])


@pytest.mark.parametrize("action", ["stop", "isolate"])
def test_the_old_instance_is_fenced(restore, rds, ec2, source, action):
    extra = {}
    if action == "isolate":
        group = ec2.create_security_group(GroupName=source + "-isolated", Description="no ingress")["GroupId"]
        extra = dict(isolation_security_group_ids=[group])
    failed, result = restore(db_instance_identifier=source, latest=True, swap=True, old_instance=action, **extra)
    assert not failed, result
    old = describe(rds, result["previous_db_instance_identifier"])
    assert result["old_instance"]["writable"] is False and result["old_instance"]["action"] == action
    if action == "stop":
        assert old["DBInstanceStatus"] == "stopped"
    else:
        assert [g["VpcSecurityGroupId"] for g in old["VpcSecurityGroups"]] == extra["isolation_security_group_ids"]
    assert describe(rds, source)["DBInstanceStatus"] == "available"


def test_isolation_into_a_group_with_ingress_is_refused_before_any_change(restore, rds, ec2, source):
    group = ec2.create_security_group(GroupName=source + "-open", Description="open")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[dict(
        IpProtocol="tcp", FromPort=5432, ToPort=5432, IpRanges=[dict(CidrIp="10.0.0.0/8")])])
    failed, result = restore(db_instance_identifier=source, latest=True, swap=True, old_instance="isolate",
                             isolation_security_group_ids=[group])
    assert failed
    assert result["msg"] == "isolation_security_group_ids must allow no ingress: %s (1 ingress rules)" % group
    assert instances(rds, source) == [source]


def test_a_source_with_read_replicas_is_refused_unless_left(restore, rds, source):
    rds.create_db_instance_read_replica(DBInstanceIdentifier=source + "-replica", SourceDBInstanceIdentifier=source)
    before = instances(rds, source)
    failed, result = restore(db_instance_identifier=source, latest=True, swap=True)
    assert failed and result["msg"].startswith("%s has read replicas (%s-replica)" % (source, source))
    assert instances(rds, source) == before
    failed, result = restore(db_instance_identifier=source, latest=True, swap=True, old_instance="stop",
                             read_replicas="leave")
    assert failed and "AWS cannot stop it" in result["msg"] and instances(rds, source) == before
    failed, result = restore(db_instance_identifier=source, latest=True, swap=True, read_replicas="leave")
    assert not failed, result
    assert result["read_replicas_left"] == [source + "-replica"]


def test_point_in_time_with_the_same_settings_and_cutover(restore, rds, source):
    created = describe(rds, source)["InstanceCreateTime"]
    moment = created.replace(microsecond=0) + datetime.timedelta(seconds=1)
    while datetime.datetime.now(datetime.timezone.utc) <= moment:  # a moment after the creation, not in the future
        time.sleep(0.1)
    text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    failed, result = restore(db_instance_identifier=source, restore_time=text, swap=True)
    assert not failed, result
    assert result["snapshot"] is None and result["restore_time"] == dict(time=text, latest=False)
    assert result["restore_arguments"]["RestoreTime"] == moment
    assert result["restore_arguments"]["SourceDBInstanceIdentifier"] == source
    applied = dict((row["setting"], row["applied"]) for row in result["settings"])
    assert applied["MaxAllocatedStorage"] == "at restore", "RestoreDBInstanceToPointInTime takes it"
    restored, original = describe(rds, source), describe(rds, result["previous_db_instance_identifier"])
    for name, read in SHOWN.items():
        assert read(restored) == read(original), name
    failed, again = restore(db_instance_identifier=source, restore_time=text, swap=True)
    assert not failed and again["changed"] is False, again

    failed, latest = restore(db_instance_identifier=source, use_latest_restorable_time=True,
                             target_db_instance_identifier=source + "-latest")
    assert not failed, latest
    assert latest["restore_arguments"]["UseLatestRestorableTime"] is True
    assert describe(rds, source + "-latest")["DeletionProtection"] is True


def test_an_aurora_cluster_to_a_point_in_time(restore, rds, aws):
    with aws.aurora() as name:
        failed, result = restore(db_cluster_identifier=name, use_latest_restorable_time=True,
                                 target_db_cluster_identifier=name + "-at")
        assert not failed, result
        assert result["restore_arguments"]["SourceDBClusterIdentifier"] == name
        cluster = rds.describe_db_clusters(DBClusterIdentifier=name + "-at")["DBClusters"][0]
        assert cluster["DeletionProtection"] is True
        assert sorted(describe(rds, m["DBInstanceIdentifier"])["DBInstanceClass"]
                      for m in cluster["DBClusterMembers"]) == ["db.r6g.large", "db.r6g.xlarge"]
        failed, result = restore(db_cluster_identifier=name, latest=True, snapshot_type="awsbackup")
        assert failed and result["msg"].startswith("snapshot_type awsbackup applies to DB instances")


@pytest.mark.parametrize("extra,message", [
    (dict(db_snapshot_identifier="nope-snap"), "snapshot nope-snap not found"),
    (dict(latest=True, snapshot_type="automated", db_instance_identifier="missing-db"),
     "source instance missing-db not found"),
    (dict(latest=True, restore_options=dict(NotAnOption=1)),
     "restore_options not accepted by RestoreDBInstanceFromDBSnapshot nor by ModifyDBInstance: NotAnOption"),
    (dict(latest=True, restore_options=dict(Tags=[])), "restore_options cannot set Tags: the module sets it"),
    (dict(db_snapshot_identifier="x", latest=True), "mutually exclusive"),
    (dict(latest=True, restore_time="2025-01-01T00:00:00Z"), "mutually exclusive"),
    (dict(), "choose what to restore"),
    (dict(latest=True, created_before="yesterday"), "created_before must be an ISO 8601 time"),
    (dict(latest=True, created_before="2001-01-01T00:00:00Z"), "no available manual snapshot of"),
    (dict(restore_time="2999-01-01T00:00:00Z"), "restore_time 2999-01-01T00:00:00Z is in the future"),
    (dict(restore_time="2025-01-01T00:00:00"), "restore_time must be an ISO 8601 time with its UTC offset"),
    (dict(restore_time="2001-01-01T00:00:00Z"), "is before the earliest restorable time"),
    (dict(restore_time="2001-01-01T00:00:00Z", created_before="2001-01-01T00:00:00Z"),
     "created_before applies to snapshots"),
    (dict(latest=True, old_instance="stop"), "old_instance needs swap: true"),
    (dict(latest=True, swap=True, wait=False), "swap needs wait: true"),
    (dict(latest=True, old_instance="isolate"), "isolation_security_group_ids"),
    (dict(latest=True, swap=True, target_db_instance_identifier="x"), "mutually exclusive"),
    (dict(db_instance_identifier=None, db_cluster_identifier="nope", latest=True), "source cluster nope not found"),
])
def test_bad_input_changes_nothing(restore, rds, source, extra, message):
    options = dict(dict(db_instance_identifier=source), **extra)
    failed, result = restore(**dict((k, v) for k, v in options.items() if v is not None))
    assert failed and message in result["msg"], result
    assert instances(rds, source) == [source]


def test_taken_target_is_refused(restore, rds, source):
    rds.create_db_instance(DBInstanceIdentifier=source + "-taken", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="app-secret-1", AllocatedStorage=20)
    failed, result = restore(db_instance_identifier=source, latest=True,
                             target_db_instance_identifier=source + "-taken")
    assert failed and result["msg"] == "target instance %s-taken already exists" % source
