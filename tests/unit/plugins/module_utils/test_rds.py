"""Replays of real RDS sequences moto cannot show (it makes every status ``available`` at once), with botocore's
Stubber: the responses are shaped by botocore's service model (botocore/data/rds/2014-10-31/service-2.json),
which the Stubber validates, and the sequences follow what AWS documents:

- a rename (ModifyDBInstance NewDBInstanceIdentifier, ApplyImmediately): "the old DNS name ... is immediately
  deleted", "the new DNS name ... becomes effective in about 10 minutes. The renamed DB instance is not available
  until the new name becomes effective", and the instance reboots (RDS User Guide, "Renaming a DB instance"): so
  the new name answers DBInstanceNotFound, then ``renaming``, then ``rebooting``, then ``available``;
- the terminal statuses are the failure acceptors of botocore's DBInstanceAvailable waiter (waiters-2.json);
- InvalidDBInstanceState is the ModifyDBInstance error (service model) amazon.aws retries
  (rds module_utils get_rds_method_attribute).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.rollback.core.plugins.module_utils import rds_cutover
from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds import RdsRestore
from ansible_collections.rollback.core.plugins.module_utils.rds_resume import (
    TAG_CUTOVER, TAG_OF, TAG_REPLACED, TAG_SNAPSHOT, TAG_STAMP)
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

CREATED = datetime.datetime(2025, 11, 12, 10, 0, tzinfo=datetime.timezone.utc)
STAMP = "20251112103000"
R, P = "app-rb-" + STAMP, "app-pre-rollback-" + STAMP
DEFAULTS = dict(db_instance_identifier="app", db_cluster_identifier=None, db_snapshot_identifier="app-snap",
                latest=False, snapshot_type="manual", created_before=None, restore_time=None,
                use_latest_restorable_time=False, target_db_instance_identifier=None, target_db_cluster_identifier=None,
                swap=False, read_replicas="refuse", old_instance="keep", isolation_security_group_ids=None,
                verify_dns=False, db_instance_class=None, db_subnet_group_name=None, vpc_security_group_ids=None,
                db_parameter_group_name=None, multi_az=None, restore_options=None, wait=True, wait_timeout=5,
                wait_sleep=0.0)


class FakeModule:
    def __init__(self, **params):
        self.params = dict(DEFAULTS, **params)
        self.check_mode = False
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def stubbed():
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return AwsClient.around(client, tries=4, sleeper=lambda seconds: None), Stubber(client)


def restorer(module, rds):
    restore = RdsRestore(module, rds)
    restore.stamp = STAMP
    return restore


def instance(identifier, status="available", tags=None, **extra):
    return dict(dict(DBInstanceIdentifier=identifier, DBInstanceStatus=status, DBInstanceClass="db.t3.micro",
                     DBInstanceArn="arn:aws:rds:us-east-1:123456789012:db:" + identifier,
                     Endpoint=dict(Address=identifier + ".c1.us-east-1.rds.amazonaws.com", Port=5432),
                     TagList=[dict(Key=k, Value=v) for k, v in sorted((tags or {}).items())]), **extra)


def restored_tags(stamp=STAMP):
    return {TAG_OF: "app", TAG_STAMP: stamp, TAG_CUTOVER: "swap", TAG_SNAPSHOT: "app-snap"}


def listing(stub, *items):
    stub.add_response("describe_db_instances", dict(DBInstances=list(items)), expected_params={})


def seen(stub, identifier, *statuses, **extra):
    """DescribeDBInstances of ``identifier`` answering each status in turn (None: DBInstanceNotFound)."""
    for status in statuses:
        if status is None:
            stub.add_client_error("describe_db_instances", "DBInstanceNotFound",
                                  "DBInstance %s not found." % identifier, 404,
                                  expected_params=dict(DBInstanceIdentifier=identifier))
        else:
            stub.add_response("describe_db_instances", dict(DBInstances=[instance(identifier, status, **extra)]),
                              expected_params=dict(DBInstanceIdentifier=identifier))


def named_snapshot(stub, status="available"):
    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(
        DBSnapshotIdentifier="app-snap", DBInstanceIdentifier="app", Status=status, SnapshotCreateTime=CREATED,
        SnapshotType="manual", Engine="postgres", EngineVersion="15.4")]),
        expected_params=dict(DBSnapshotIdentifier="app-snap"))


def an_earlier_restore_not_yet_renamed(stub):
    listing(stub, instance("app"), instance(R, tags=restored_tags()))
    named_snapshot(stub)
    seen(stub, R, "available", tags=restored_tags())
    stub.add_response("add_tags_to_resource", {})  # the old one tagged before its rename


def rename(stub, old, new):
    stub.add_response("modify_db_instance", dict(DBInstance=instance(old, "available")), expected_params=dict(
        DBInstanceIdentifier=old, NewDBInstanceIdentifier=new, ApplyImmediately=True))


def test_replay_swap_waits_each_rename_through_not_found_renaming_rebooting_then_checks_dns(monkeypatch):
    rds, stub = stubbed()
    source = instance("app")
    listing(stub, source)
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")),
                      expected_params=dict(DBInstanceIdentifier=R, DBSnapshotIdentifier="app-snap",
                                           DBInstanceClass="db.t3.micro", Port=5432, Tags=ANY))
    seen(stub, R, None, "creating", "backing-up", "available", tags=restored_tags())
    stub.add_response("add_tags_to_resource", {}, expected_params=dict(
        ResourceName=source["DBInstanceArn"], Tags=[dict(Key=TAG_REPLACED, Value="app@" + STAMP)]))
    rename(stub, "app", P)
    seen(stub, P, None, "renaming", "rebooting", "available")
    rename(stub, R, "app")
    seen(stub, "app", None, "renaming", "rebooting", "available", tags=restored_tags())
    seen(stub, P, "available")
    addresses = {R + ".c1.us-east-1.rds.amazonaws.com": [["10.0.0.9"]],
                 "app.c1.us-east-1.rds.amazonaws.com": [["10.0.0.5"], ["10.0.0.5"], ["10.0.0.9"]],
                 P + ".c1.us-east-1.rds.amazonaws.com": [["10.0.0.5"]]}
    monkeypatch.setattr(rds_cutover, "resolve", lambda host: addresses[host].pop(0))
    monkeypatch.setattr("ansible_collections.rollback.core.plugins.module_utils.rds.resolve",
                        lambda host: addresses[host].pop(0))
    module = FakeModule(swap=True, verify_dns=True)
    with stub:
        result = restorer(module, rds).run()
    stub.assert_no_pending_responses()
    assert result["steps"] == ["restored instance %s from snapshot app-snap" % R,
                               "renamed instance app to %s" % P, "renamed instance %s to app" % R]
    assert result["db_instance"]["id"] == "app" and result["previous_db_instance_identifier"] == P
    assert result["dns"] == dict(verified=True, address="app.c1.us-east-1.rds.amazonaws.com", addresses=["10.0.0.9"],
                                 basis="the restored instance's own addresses")
    assert result["old_instance"]["writable"] is True and result["old_instance"]["id"] == P


def test_replay_a_failure_between_the_renames_and_the_rerun_that_completes_it():
    rds, stub = stubbed()
    source = instance("app")
    listing(stub, source)
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")))
    seen(stub, R, "available", tags=restored_tags())
    stub.add_response("add_tags_to_resource", {})
    rename(stub, "app", P)
    seen(stub, P, "renaming", "available")
    stub.add_client_error("modify_db_instance", "InvalidParameterCombination", "the second rename failed", 400)
    with stub, pytest.raises(RollbackError, match="InvalidParameterCombination: the second rename failed"):
        restorer(FakeModule(swap=True), rds).run()
    stub.assert_no_pending_responses()

    # The re-run (another stamp) finds both by their tags: the old one under its new name, the restored one.
    rds, stub = stubbed()
    listing(stub, instance(P, tags={TAG_REPLACED: "app@" + STAMP}), instance(R, tags=restored_tags()))
    named_snapshot(stub)
    seen(stub, R, "available", tags=restored_tags())
    seen(stub, P, "available")
    rename(stub, R, "app")
    seen(stub, "app", None, "renaming", "available", tags=restored_tags())
    seen(stub, P, "available")
    rerun = RdsRestore(FakeModule(swap=True), rds)
    rerun.stamp = "20251112110000"
    with stub:
        result = rerun.run()
    stub.assert_no_pending_responses()
    assert result["resumed"] is True and result["steps"] == ["renamed instance %s to app" % R]
    assert result["previous_db_instance_identifier"] == P and result["db_instance"]["id"] == "app"
    # The settings are planned from the old one, renamed but still the source (not from nothing).
    assert dict((row["setting"], row["value"]) for row in result["settings"])["DBInstanceClass"] == "db.t3.micro"


def test_replay_the_rerun_after_a_failed_first_rename_does_not_restore_twice():
    """The restore happened, the first rename failed: the re-run renames both (no second restore)."""
    rds, stub = stubbed()
    an_earlier_restore_not_yet_renamed(stub)
    rename(stub, "app", P)
    seen(stub, P, "available")
    rename(stub, R, "app")
    seen(stub, "app", "available", tags=restored_tags())
    seen(stub, P, "available")
    rerun = RdsRestore(FakeModule(swap=True), rds)
    rerun.stamp = "20251112110000"
    with stub:
        result = rerun.run()
    stub.assert_no_pending_responses()
    assert result["steps"] == ["renamed instance app to %s" % P, "renamed instance %s to app" % R]


def test_replay_a_rerun_during_the_second_rename_waits_for_it_instead_of_failing_on_a_missing_source():
    """Neither the source's name nor the restored one's answers while the rename takes effect: the old one, found
    by its tag, says which rollback it is; the re-run waits for the source's name and changes nothing."""
    rds, stub = stubbed()
    listing(stub, instance(P, tags={TAG_REPLACED: "app@" + STAMP}))
    seen(stub, "app", None, "renaming", "rebooting", "available", tags=restored_tags())
    named_snapshot(stub)
    seen(stub, "app", "available", tags=restored_tags())
    seen(stub, P, "available")
    rerun = RdsRestore(FakeModule(swap=True), rds)
    rerun.stamp = "20251112110000"
    with stub:
        result = rerun.run()
    stub.assert_no_pending_responses()
    assert result["changed"] is False and result["resumed"] is True
    assert result["previous_db_instance_identifier"] == P and result["db_instance"]["id"] == "app"


def test_replay_paginated_describe_db_snapshots_follows_the_marker_and_takes_the_newest_before_created_before():
    rds, stub = stubbed()
    listing(stub, instance("app"))

    def snap(name, minutes, **extra):
        return dict(dict(DBSnapshotIdentifier=name, DBInstanceIdentifier="app", Status="available",
                         SnapshotType="manual", SnapshotCreateTime=CREATED + datetime.timedelta(minutes=minutes)),
                    **extra)

    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("first-page", 0)], Marker="page-2"),
                      expected_params=dict(DBInstanceIdentifier="app", SnapshotType="manual"))
    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[
        snap("predeploy", 20),
        # copied after the deploy, but its data is from before: OriginalSnapshotCreateTime decides.
        snap("copy-of-predeploy", 50, OriginalSnapshotCreateTime=CREATED + datetime.timedelta(minutes=25)),
        snap("during-the-incident", 45)]),
        expected_params=dict(DBInstanceIdentifier="app", SnapshotType="manual", Marker="page-2"))
    module = FakeModule(db_snapshot_identifier=None, latest=True, created_before="2025-11-12T10:30:00Z")
    module.check_mode = True
    with stub:
        result = restorer(module, rds).run()
    stub.assert_no_pending_responses()
    assert result["snapshot"]["id"] == "copy-of-predeploy"
    assert result["snapshot"]["create_time"] == "2025-11-12T10:25:00Z"
    assert result["steps"] == ["would restore instance app-rb-%s from snapshot copy-of-predeploy" % STAMP]


def test_replay_incompatible_restore_fails_at_once_with_the_aws_status():
    rds, stub = stubbed()
    listing(stub, instance("app"))
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")))
    seen(stub, R, "creating", "incompatible-restore", tags=restored_tags())
    with stub, pytest.raises(RollbackError) as raised:
        restorer(FakeModule(swap=True, wait_timeout=3600), rds).run()
    stub.assert_no_pending_responses()
    assert raised.value.msg.startswith("RDS instance %s is incompatible-restore, a status AWS does not leave" % R)
    assert raised.value.details["aws_status"] == "incompatible-restore"


def test_replay_invalid_db_instance_state_is_retried_with_backoff():
    rds, stub = stubbed()
    an_earlier_restore_not_yet_renamed(stub)
    for _try in range(2):
        stub.add_client_error("modify_db_instance", "InvalidDBInstanceState",
                              "Instance app is not in available state (backing-up)", 400)
    rename(stub, "app", P)
    seen(stub, P, "available")
    rename(stub, R, "app")
    seen(stub, "app", "available", tags=restored_tags())
    seen(stub, P, "available")
    slept = []
    rds.sleeper = slept.append
    with stub:
        result = RdsRestore(FakeModule(swap=True), rds).run()
    stub.assert_no_pending_responses()
    assert len(slept) == 2 and result["steps"][0] == "renamed instance app to %s" % P


def test_replay_settings_moto_cannot_show_are_applied_after_and_waited_for_until_they_show():
    """Performance Insights, enhanced monitoring and the maintenance window: ModifyDBInstance after the restore,
    then a wait that sees the old values first (the change is not visible at once) before the new ones."""
    rds, stub = stubbed()
    settings = dict(PerformanceInsightsEnabled=True, PerformanceInsightsKMSKeyId="arn:aws:kms:us-east-1:1:key/k",
                    PerformanceInsightsRetentionPeriod=731, MonitoringInterval=60,
                    MonitoringRoleArn="arn:aws:iam::1:role/mon", PreferredMaintenanceWindow="sun:04:00-sun:04:30",
                    MaxAllocatedStorage=1000, AllocatedStorage=200, StorageType="gp3", Iops=3000,
                    StorageThroughput=125, Engine="postgres", DeletionProtection=True,
                    EngineLifecycleSupport="open-source-rds-extended-support-disabled",
                    TagList=[dict(Key="team", Value="payments"), dict(Key="aws:backup", Value="x"),
                             dict(Key=TAG_OF, Value="older-rollback")])
    listing(stub, instance("app", **settings))
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")),
                      expected_params=dict(
                          DBInstanceIdentifier=R, DBSnapshotIdentifier="app-snap", DBInstanceClass="db.t3.micro",
                          Port=5432, AllocatedStorage=200, StorageType="gp3", DeletionProtection=True,
                          EngineLifecycleSupport="open-source-rds-extended-support-disabled",
                          Tags=[dict(Key=TAG_CUTOVER, Value="beside"), dict(Key=TAG_SNAPSHOT, Value="app-snap"),
                                dict(Key=TAG_OF, Value="app"), dict(Key=TAG_STAMP, Value=STAMP),
                                dict(Key="team", Value="payments")]))
    defaults = dict(PerformanceInsightsEnabled=False, MonitoringInterval=0,
                    PreferredMaintenanceWindow="wed:06:38-wed:07:08", tags=restored_tags())
    seen(stub, R, "available", **defaults)
    stub.add_response("modify_db_instance", dict(DBInstance=instance(R, "modifying")), expected_params=dict(
        DBInstanceIdentifier=R, ApplyImmediately=True, EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId="arn:aws:kms:us-east-1:1:key/k", PerformanceInsightsRetentionPeriod=731,
        MonitoringInterval=60, MonitoringRoleArn="arn:aws:iam::1:role/mon",
        PreferredMaintenanceWindow="sun:04:00-sun:04:30", MaxAllocatedStorage=1000))
    seen(stub, R, "available", **defaults)
    seen(stub, R, "modifying", **defaults)
    seen(stub, R, "available", **dict(settings, tags=restored_tags()))
    module = FakeModule()
    with stub:
        result = restorer(module, rds).run()
    stub.assert_no_pending_responses()
    after = sorted(row["setting"] for row in result["settings"] if row["applied"] == "after restore")
    assert after == ["EnablePerformanceInsights", "MaxAllocatedStorage", "MonitoringInterval", "MonitoringRoleArn",
                     "PerformanceInsightsKMSKeyId", "PerformanceInsightsRetentionPeriod", "PreferredMaintenanceWindow"]
    assert "Iops" not in result["restore_arguments"], "a small gp3 volume's baseline cannot be requested"


def test_replay_a_multi_az_db_cluster_gets_its_instances_from_the_restore():
    """moto has no Multi-AZ DB clusters (DBClusterInstanceClass): RDS creates their instances with the cluster."""
    rds, stub = stubbed()
    cluster = dict(DBClusterIdentifier="maz", Engine="postgres", EngineVersion="16.3", Status="available",
                   DBClusterArn="arn:aws:rds:us-east-1:1:cluster:maz", DBClusterInstanceClass="db.m6gd.large",
                   StorageType="io1", Iops=3000, AllocatedStorage=100, PubliclyAccessible=False, Port=5432,
                   DeletionProtection=True, TagList=[], DBClusterMembers=[
                       dict(DBInstanceIdentifier="maz-instance-1", IsClusterWriter=True)])
    stub.add_response("describe_db_clusters", dict(DBClusters=[cluster]), expected_params={})
    stub.add_response("describe_db_cluster_snapshots", dict(DBClusterSnapshots=[dict(
        DBClusterSnapshotIdentifier="maz-snap", DBClusterIdentifier="maz", Status="available",
        SnapshotCreateTime=CREATED, EngineVersion="16.3", SnapshotType="manual")]),
        expected_params=dict(DBClusterSnapshotIdentifier="maz-snap"))
    stub.add_response("restore_db_cluster_from_snapshot", dict(DBCluster=dict(cluster, DBClusterIdentifier="maz-x")),
                      expected_params=dict(
                          DBClusterIdentifier="maz-x", SnapshotIdentifier="maz-snap", Engine="postgres",
                          EngineVersion="16.3", Port=5432, DeletionProtection=True, StorageType="io1", Iops=3000,
                          DBClusterInstanceClass="db.m6gd.large", PubliclyAccessible=False, Tags=ANY))
    stub.add_response("describe_db_clusters", dict(DBClusters=[dict(
        cluster, DBClusterIdentifier="maz-x", TagList=[dict(Key=TAG_STAMP, Value=STAMP)])]),
        expected_params=dict(DBClusterIdentifier="maz-x"))
    module = FakeModule(db_instance_identifier=None, db_cluster_identifier="maz", db_snapshot_identifier="maz-snap",
                        target_db_cluster_identifier="maz-x")
    with stub:
        result = restorer(module, rds).run()
    stub.assert_no_pending_responses()
    assert result["members"] == [] and result["db_cluster"]["id"] == "maz-x"


def test_wait_timeout_names_the_status_the_time_waited_and_the_timeout():
    rds, stub = stubbed()
    listing(stub, instance("app"))
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")))
    seen(stub, R, "creating", PercentProgress="40")
    with stub, pytest.raises(WaitTimeout) as raised:
        restorer(FakeModule(wait_timeout=0), rds).run()
    assert raised.value.msg == ("timed out after 0s waiting for RDS instance %s to be available: instance status "
                                "creating (40%%), 0s of 0s" % R)


def test_snapshot_not_available_is_refused_before_any_change():
    rds, stub = stubbed()
    listing(stub, instance("app"))
    named_snapshot(stub, status="creating")
    with stub, pytest.raises(RollbackError, match="snapshot app-snap is creating, not available"):
        restorer(FakeModule(), rds).run()
    stub.assert_no_pending_responses()


def test_throttling_gives_up_after_its_tries_with_the_aws_error():
    rds, stub = stubbed()
    for _try in range(4):
        stub.add_client_error("describe_db_instances", "Throttling", "Rate exceeded")
    with stub, pytest.raises(RollbackError, match="describe_db_instances failed: Throttling: Rate exceeded"):
        restorer(FakeModule(), rds).run()
