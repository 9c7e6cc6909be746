"""The waiting and throttling paths, which moto cannot show (every status is 'available' at once)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds import RdsRestore
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

CREATED = datetime.datetime(2025, 11, 12, 10, 0, tzinfo=datetime.timezone.utc)


class FakeModule:
    def __init__(self, **params):
        self.params = dict(db_instance_identifier="app", db_snapshot_identifier="app-snap", latest=False,
                           snapshot_type="manual", target_db_instance_identifier=None, swap=False,
                           db_instance_class=None, db_subnet_group_name=None, vpc_security_group_ids=None,
                           db_parameter_group_name=None, multi_az=None, restore_options=None,
                           wait=True, wait_timeout=5, wait_sleep=0.0)
        self.params.update(params)
        self.check_mode = False
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def stubbed():
    client = boto3.client("rds", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    rds = AwsClient.__new__(AwsClient)
    rds.client, rds.tries, rds.sleeper = client, 4, lambda seconds: None
    return rds, Stubber(client)


def instance(identifier, status="available", **extra):
    return dict(dict(DBInstanceIdentifier=identifier, DBInstanceStatus=status, DBInstanceClass="db.t3.micro",
                     Endpoint=dict(Address=identifier + ".rds", Port=5432), TagList=[]), **extra)


def not_found(stub, identifier):
    stub.add_client_error("describe_db_instances", "DBInstanceNotFound", "not found",
                          expected_params=dict(DBInstanceIdentifier=identifier))


def test_waits_through_creating_until_available_and_retries_throttling():
    rds, stub = stubbed()
    stub.add_response("describe_db_instances", dict(DBInstances=[instance("app", BackupRetentionPeriod=7)]))
    stub.add_client_error("describe_db_snapshots", "Throttling", "slow down")
    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(
        DBSnapshotIdentifier="app-snap", Status="available", SnapshotCreateTime=CREATED, SnapshotType="manual")]))
    not_found(stub, "app-rb")
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance("app-rb", "creating")))
    for status in ("creating", "backing-up", "available"):
        stub.add_response("describe_db_instances", dict(DBInstances=[instance("app-rb", status)]))
    stub.add_response("describe_db_instances", dict(DBInstances=[instance("app-rb")]))
    module = FakeModule(target_db_instance_identifier="app-rb")
    with stub:
        result = RdsRestore(module, rds).run()
    stub.assert_no_pending_responses()
    assert result["db_instance"] == dict(id="app-rb", address="app-rb.rds", port=5432, status="available",
                                         instance_class="db.t3.micro")
    assert result["data_loss_window"]["start"] == CREATED.isoformat()
    assert any("BackupRetentionPeriod=7" in warning for warning in module.warnings)


def test_wait_timeout_names_the_last_status():
    rds, stub = stubbed()
    stub.add_response("describe_db_instances", dict(DBInstances=[instance("app")]))
    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(
        DBSnapshotIdentifier="app-snap", Status="available", SnapshotCreateTime=CREATED)]))
    not_found(stub, "app-rb")
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance("app-rb", "creating")))
    for _poll in range(50):
        stub.add_response("describe_db_instances", dict(DBInstances=[instance("app-rb", "creating")]))
    module = FakeModule(target_db_instance_identifier="app-rb", wait_timeout=0)
    with stub, pytest.raises(WaitTimeout) as raised:
        RdsRestore(module, rds).run()
    assert raised.value.msg == "timed out after 0s waiting for RDS instance app-rb to be available: status creating"


def test_snapshot_not_available_is_refused_before_any_change():
    rds, stub = stubbed()
    stub.add_response("describe_db_instances", dict(DBInstances=[instance("app")]))
    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(
        DBSnapshotIdentifier="app-snap", Status="creating", SnapshotCreateTime=CREATED)]))
    with stub, pytest.raises(RollbackError, match="snapshot app-snap is creating, not available"):
        RdsRestore(FakeModule(), rds).run()
    stub.assert_no_pending_responses()


def test_throttling_gives_up_after_its_tries_with_the_aws_error():
    rds, stub = stubbed()
    for _try in range(4):
        stub.add_client_error("describe_db_instances", "Throttling", "Rate exceeded")
    with stub, pytest.raises(RollbackError, match="describe_db_instances failed: Throttling: Rate exceeded"):
        RdsRestore(FakeModule(), rds).run()
