"""rds_origin: what a restore starts from and the restore call that takes it. The operation table is checked against
botocore's own service model (botocore/data/rds/2014-10-31/service-2.json, through the client's
``meta.service_model``), and restore calls go through botocore's Stubber, which validates their parameters
against the same model."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils import rds_origin
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_origin import OPERATIONS, Origin
from ansible_collections.rollback.core.plugins.module_utils.rds_resources import ClusterKind, InstanceKind
from ansible_collections.rollback.core.plugins.module_utils.rds_resume import LATEST, TAG_SNAPSHOT, TAG_TIME

UTC = datetime.timezone.utc
NOW = datetime.datetime(2025, 11, 12, 12, 0, tzinfo=UTC)


def at(hour, minute=0, day=12):
    return datetime.datetime(2025, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr(rds_origin, "now", lambda: NOW)


@pytest.fixture
def rds():
    with stubbed("rds") as pair:
        yield pair


def origin(rds, cluster=False, **params):
    kind = ClusterKind if cluster else InstanceKind
    return Origin(rds[0], kind(rds[0], None), dict(dict(snapshot_type="manual"), **params))


def test_the_operation_table_matches_botocores_service_model(rds):
    client = rds[0]
    for (cluster, _by_time), (method, api, modify, identity, _codes) in OPERATIONS.items():
        assert client.client.meta.method_to_api_mapping[method] == api
        assert set(identity) <= client.input_members(method)
        assert modify == ("modify_db_cluster" if cluster else "modify_db_instance")


@pytest.mark.parametrize("params,message", [
    (dict(), "^choose what to restore: db_snapshot_identifier, latest: true, restore_time or "
             "use_latest_restorable_time: true$"),
    (dict(latest=True, db_snapshot_identifier="s"), "^parameters are mutually exclusive: db_snapshot_identifier, "
                                                    r"latest \(choose one\)$"),
    (dict(restore_time="2025-11-12T10:00:00Z", created_before="2025-11-12T10:00:00Z"),
     "^created_before applies to snapshots"),
    (dict(db_snapshot_identifier="s", snapshot_type="automated"), "^snapshot_type applies with latest: true$"),
    (dict(restore_time="2025-11-12T13:00:00+00:00"), "^restore_time 2025-11-12T13:00:00Z is in the future$"),
    (dict(latest=True, created_before="yesterday"), "^created_before must be an ISO 8601 time"),
])
def test_validate_refuses_bad_requests(rds, params, message):
    with pytest.raises(RollbackError, match=message):
        origin(rds, **params).validate()


def test_validate_accepts_and_normalises(rds):
    chosen = origin(rds, restore_time="2025-11-12T11:00:00+01:00")
    chosen.validate()
    assert chosen.restore_time == at(10) and chosen.by_time and chosen.method == "restore_db_instance_to_point_in_time"
    snapshot = origin(rds, latest=True, snapshot_type="automated", created_before="2025-11-12T10:00:00Z")
    snapshot.validate()
    assert snapshot.created_before == at(10) and not snapshot.by_time


def test_point_in_time_needs_backups_and_a_time_inside_the_window(rds):
    source = dict(DBInstanceIdentifier="app", BackupRetentionPeriod=0)
    chosen = origin(rds, use_latest_restorable_time=True)
    with pytest.raises(RollbackError, match="BackupRetentionPeriod of app is 0 .*PointInTimeRestoreNotEnabled"):
        chosen.choose(source)
    source = dict(DBInstanceIdentifier="app", BackupRetentionPeriod=1, LatestRestorableTime=at(11, 55),
                  InstanceCreateTime=at(9, day=1))
    late = origin(rds, restore_time="2025-11-12T11:58:00Z")
    late.validate()
    with pytest.raises(RollbackError, match="^restore_time 2025-11-12T11:58:00Z is after the latest restorable time "
                                            "of app, 2025-11-12T11:55:00Z$"):
        late.choose(source)
    early = origin(rds, restore_time="2025-11-11T11:59:00Z")
    early.validate()
    with pytest.raises(RollbackError, match="is before the earliest restorable time of app, 2025-11-11T12:00:00Z$"):
        early.choose(source)  # one day of retention back from now
    fresh = dict(source, InstanceCreateTime=at(6))
    early = origin(rds, restore_time="2025-11-12T05:00:00Z")
    early.validate()
    with pytest.raises(RollbackError, match="earliest restorable time of app, 2025-11-12T06:00:00Z$"):
        early.choose(fresh)  # not before the instance existed
    good = origin(rds, restore_time="2025-11-12T11:00:00Z")
    good.validate()
    good.choose(source)
    assert good.tags == {TAG_TIME: "2025-11-12T11:00:00Z"} and good.describe() == "the point in time " \
                                                                                  "2025-11-12T11:00:00Z"


def test_latest_restorable_time_and_its_data_loss_window(rds):
    chosen = origin(rds, use_latest_restorable_time=True)
    chosen.choose(dict(DBInstanceIdentifier="app", BackupRetentionPeriod=7, LatestRestorableTime=at(11, 55)))
    assert chosen.tags == {TAG_TIME: LATEST} and chosen.describe() == "the latest restorable time"
    assert chosen.result() == dict(snapshot=None, restore_time=dict(time=None, latest=True), data_loss_window=dict(
        start="2025-11-12T11:55:00Z", end="2025-11-12T12:00:00Z", seconds=300))
    assert chosen.arguments(dict(DBInstanceIdentifier="app"), "app-rb") == dict(
        TargetDBInstanceIdentifier="app-rb", SourceDBInstanceIdentifier="app", UseLatestRestorableTime=True)


def test_cluster_point_in_time_arguments_are_valid_for_the_api(rds):
    chosen = origin(rds, cluster=True, restore_time="2025-11-12T11:00:00Z")
    chosen.validate()
    chosen.choose(dict(DBClusterIdentifier="db", EarliestRestorableTime=at(1), LatestRestorableTime=at(11, 59)))
    arguments = chosen.arguments(dict(DBClusterIdentifier="db"), "db-rb")
    assert arguments == dict(DBClusterIdentifier="db-rb", SourceDBClusterIdentifier="db", RestoreToTime=at(11))
    rds[1].add_response("restore_db_cluster_to_point_in_time", dict(DBCluster=dict(DBClusterIdentifier="db-rb")),
                        arguments)
    chosen.restore(arguments)
    assert chosen.operation_names() == ("RestoreDBClusterToPointInTime", "ModifyDBCluster")


def test_a_cluster_snapshot_restore_keeps_the_snapshots_engine_version(rds):
    client, stubber = rds
    snapshot = dict(DBClusterSnapshotIdentifier="c-snap", DBClusterIdentifier="db", Status="available",
                    SnapshotCreateTime=at(9), EngineVersion="15.4")
    stubber.add_response("describe_db_cluster_snapshots", dict(DBClusterSnapshots=[snapshot]),
                         dict(DBClusterSnapshotIdentifier="c-snap"))
    chosen = origin(rds, cluster=True, db_snapshot_identifier="c-snap")
    chosen.validate()
    chosen.choose(dict(DBClusterIdentifier="db"))
    arguments = chosen.arguments(dict(DBClusterIdentifier="db", Engine="aurora-postgresql"), "db-rb")
    assert arguments == dict(DBClusterIdentifier="db-rb", SnapshotIdentifier="c-snap", Engine="aurora-postgresql",
                             EngineVersion="15.4")
    stubber.add_response("restore_db_cluster_from_snapshot", dict(DBCluster=dict(DBClusterIdentifier="db-rb")),
                         arguments)
    chosen.restore(arguments)
    assert chosen.tags == {TAG_SNAPSHOT: "c-snap"} and chosen.result()["data_loss_window"]["seconds"] == 3 * 3600


def test_a_busy_snapshot_is_retried(rds):
    client, stubber = rds
    chosen = origin(rds, db_snapshot_identifier="snap")
    chosen.snapshot = dict(DBSnapshotIdentifier="snap")
    arguments = chosen.arguments(dict(DBInstanceIdentifier="app"), "app-rb")
    assert arguments == dict(DBInstanceIdentifier="app-rb", DBSnapshotIdentifier="snap")
    stubber.add_client_error("restore_db_instance_from_db_snapshot", "InvalidDBSnapshotState", http_status_code=400)
    stubber.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=dict(DBInstanceIdentifier="app-rb")),
                         arguments)
    chosen.restore(arguments)
    assert "Tags" in chosen.reserved() and "DBSnapshotIdentifier" in chosen.reserved()


@pytest.mark.parametrize("params,recorded,expected", [
    (dict(db_snapshot_identifier="s1"), {TAG_SNAPSHOT: "s1"}, True),
    (dict(db_snapshot_identifier="s1"), {TAG_SNAPSHOT: "s2"}, False),
    (dict(latest=True), {TAG_SNAPSHOT: "older"}, True),  # the earlier run's choice stands
    (dict(latest=True), {TAG_TIME: LATEST}, False),
    (dict(use_latest_restorable_time=True), {TAG_TIME: LATEST}, True),
    (dict(use_latest_restorable_time=True), {TAG_TIME: "2025-11-12T10:00:00Z"}, False),
    (dict(restore_time="2025-11-12T11:00:00+01:00"), {TAG_TIME: "2025-11-12T10:00:00Z"}, True),
    (dict(restore_time="2025-11-12T11:00:00Z"), {TAG_TIME: "2025-11-12T10:00:00Z"}, False),
])
def test_which_earlier_run_a_request_may_finish(rds, params, recorded, expected):
    chosen = origin(rds, **params)
    chosen.validate()
    assert chosen.resumable(recorded) is expected


def test_resume_takes_the_recorded_origin(rds):
    client, stubber = rds
    chosen = origin(rds, use_latest_restorable_time=True)
    chosen.resume({TAG_TIME: "2025-11-12T10:00:00Z"})
    assert chosen.time == at(10) and chosen.data_time == at(10) and chosen.same_as({TAG_TIME: "2025-11-12T10:00:00Z"})
    stubber.add_client_error("describe_db_snapshots", "DBSnapshotNotFound", http_status_code=404)
    chosen = origin(rds, latest=True)
    chosen.resume({TAG_SNAPSHOT: "deleted-since"})
    assert chosen.describe() == "snapshot deleted-since" and chosen.data_time is None
