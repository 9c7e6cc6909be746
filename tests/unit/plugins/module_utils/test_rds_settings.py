"""The settings table (rds_settings.py) against botocore's service model and the module's documentation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

import boto3
import pytest
import yaml

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_settings import (
    CLUSTER_SETTINGS, INSTANCE_SETTINGS, MEMBER_SETTINGS, Plan, carried_tags, classify, modify_arguments)
from ansible_collections.rollback.core.plugins.module_utils.rds_snapshots import parse_time
from ansible_collections.rollback.core.plugins.modules import rds_snapshot_restore

CLIENT = boto3.client("rds", region_name="us-east-1")


def members(method):
    return set(CLIENT.meta.service_model.operation_model(CLIENT.meta.method_to_api_mapping[method]).input_shape.members)


def documented(prefix):
    """The setting names of the documentation line that starts with ``prefix``."""
    description = yaml.safe_load(rds_snapshot_restore.DOCUMENTATION)["description"]
    line = next(item for item in description if item.startswith(prefix))
    return line


def names(text):
    return set(re.findall(r"\b([A-Z][A-Za-z0-9]+)\b", text))


@pytest.mark.parametrize("settings,snapshot,time,modify,prefix", [
    (INSTANCE_SETTINGS, "restore_db_instance_from_db_snapshot", "restore_db_instance_to_point_in_time",
     "modify_db_instance", "Instance settings"),
    (CLUSTER_SETTINGS, "restore_db_cluster_from_snapshot", "restore_db_cluster_to_point_in_time",
     "modify_db_cluster", "Cluster settings"),
])
def test_the_documented_table_is_what_the_code_does_with_this_botocore(settings, snapshot, time, modify, prefix):
    by_snapshot = dict(classify(settings, members(snapshot), members(modify)))
    by_time = dict(classify(settings, members(time), members(modify)))
    assert "not accepted" not in by_snapshot.values() and "not accepted" not in by_time.values()
    at_restore = documented(prefix + " sent with the restore call")
    after = documented(prefix + " applied after")
    for name in by_snapshot:
        both = by_snapshot[name] == by_time[name]
        where = at_restore if by_snapshot[name] == "at restore" else after
        assert name in names(where.split(";")[0] if both else where), (name, by_snapshot[name])
        if not both:
            assert "MaxAllocatedStorage with a snapshot restore" in after + at_restore
    assert names(at_restore) | names(after) >= set(by_snapshot)


def test_member_settings_are_accepted_by_create_db_instance():
    assert set(name for name, _read in MEMBER_SETTINGS) <= members("create_db_instance")


def test_a_small_gp3_volume_keeps_its_baseline_and_io1_keeps_its_iops():
    small = dict(StorageType="gp3", AllocatedStorage=100, Iops=3000, StorageThroughput=125)
    provisioned = dict(StorageType="gp3", AllocatedStorage=500, Iops=16000, StorageThroughput=1000)
    io1 = dict(StorageType="io1", AllocatedStorage=100, Iops=5000)
    reads = dict(INSTANCE_SETTINGS)
    assert (reads["Iops"](small), reads["StorageThroughput"](small)) == (None, None)
    assert (reads["Iops"](provisioned), reads["StorageThroughput"](provisioned)) == (16000, 1000)
    assert reads["Iops"](io1) == 5000
    assert reads["AllocatedStorage"](dict(Engine="sqlserver-se", AllocatedStorage=100)) is None


def test_tags_keep_the_sources_own_and_replace_aws_and_earlier_rollbacks():
    source = dict(TagList=[dict(Key="team", Value="a"), dict(Key="aws:cloudformation:stack-name", Value="s"),
                           dict(Key="rollback.core/rollback-stamp", Value="old")])
    assert carried_tags(source, {"rollback.core/rollback-stamp": "new"}) == [
        dict(Key="rollback.core/rollback-stamp", Value="new"), dict(Key="team", Value="a")]


def test_modify_arguments_only_change_what_differs_and_log_exports_as_a_diff():
    after = dict(PreferredMaintenanceWindow="Sun:04:00-Sun:04:30", MonitoringInterval=60,
                 EnableCloudwatchLogsExports=["postgresql"])
    current = dict(PreferredMaintenanceWindow="sun:04:00-sun:04:30", MonitoringInterval=0,
                   EnabledCloudwatchLogsExports=["upgrade"])
    assert modify_arguments(after, current, INSTANCE_SETTINGS) == dict(
        MonitoringInterval=60, CloudwatchLogsExportConfiguration=dict(EnableLogTypes=["postgresql"],
                                                                      DisableLogTypes=["upgrade"]))


def test_plan_refuses_unknown_and_reserved_options_before_any_call():
    restore_members, modify_members = members("restore_db_instance_from_db_snapshot"), members("modify_db_instance")
    operations = ("RestoreDBInstanceFromDBSnapshot", "ModifyDBInstance")
    with pytest.raises(RollbackError, match="not accepted by RestoreDBInstanceFromDBSnapshot nor by ModifyDBInstance: "
                                            "Bogus"):
        Plan(INSTANCE_SETTINGS, {}, (restore_members, modify_members), dict(Bogus=1), operations, {"Tags"})
    with pytest.raises(RollbackError, match="cannot set DBSnapshotIdentifier"):
        Plan(INSTANCE_SETTINGS, {}, (restore_members, modify_members), dict(DBSnapshotIdentifier="x"), operations,
             {"DBSnapshotIdentifier"})
    plan = Plan(INSTANCE_SETTINGS, dict(DeletionProtection=True, MaxAllocatedStorage=200),
                (restore_members, modify_members), dict(DeletionProtection=False), operations, set())
    assert plan.restore == dict(DeletionProtection=False) and plan.after == dict(MaxAllocatedStorage=200)


@pytest.mark.parametrize("text,expected", [
    ("2025-11-12T09:59:59Z", datetime.datetime(2025, 11, 12, 9, 59, 59, tzinfo=datetime.timezone.utc)),
    ("2025-11-12T10:59:59+01:00", datetime.datetime(2025, 11, 12, 9, 59, 59, tzinfo=datetime.timezone.utc)),
    ("2025-11-12T09:59:59.123456Z", datetime.datetime(2025, 11, 12, 9, 59, 59, tzinfo=datetime.timezone.utc)),
    ("2025-11-12 09:59Z", datetime.datetime(2025, 11, 12, 9, 59, tzinfo=datetime.timezone.utc)),
])
def test_times_need_their_utc_offset(text, expected):
    assert parse_time(text, "restore_time") == expected


@pytest.mark.parametrize("text", ["2025-11-12T09:59:59", "yesterday", "2025-13-40T00:00:00Z", ""])
def test_bad_times_are_one_line_errors(text):
    with pytest.raises(RollbackError, match="restore_time"):
        parse_time(text, "restore_time")
