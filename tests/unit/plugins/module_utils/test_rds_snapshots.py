"""rds_snapshots: which snapshot a restore starts from. The AWS side is botocore's Stubber, whose responses are
validated against botocore's service model (botocore/data/rds/2014-10-31/service-2.json): DescribeDBSnapshots
pages with ``Marker`` (MaxRecords at most 100), answers an unknown identifier with DBSnapshotNotFoundFault
(error code ``DBSnapshotNotFound``), and DescribeDBClusterSnapshots with DBClusterSnapshotNotFoundFault."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_snapshots import (
    EPOCH, SnapshotSource, iso, parse_time, taken_at)

UTC = datetime.timezone.utc


def at(hour, minute=0):
    return datetime.datetime(2025, 11, 12, hour, minute, tzinfo=UTC)


def snap(name, created, status="available", kind="manual", **extra):
    return dict(dict(DBSnapshotIdentifier=name, DBInstanceIdentifier="app", Status=status, SnapshotType=kind,
                     SnapshotCreateTime=created), **extra)


@pytest.fixture
def rds():
    with stubbed("rds") as pair:
        yield pair


@pytest.mark.parametrize("text,expected", [
    ("2025-11-12T09:59:59Z", datetime.datetime(2025, 11, 12, 9, 59, 59, tzinfo=UTC)),
    ("2025-11-12 09:59Z", datetime.datetime(2025, 11, 12, 9, 59, tzinfo=UTC)),
    ("2025-11-12T11:59:59.250+02:00", datetime.datetime(2025, 11, 12, 9, 59, 59, tzinfo=UTC)),
    (" 2025-11-12T04:59:59-0500 ", datetime.datetime(2025, 11, 12, 9, 59, 59, tzinfo=UTC)),
])
def test_parse_time_normalises_to_an_aware_moment(text, expected):
    parsed = parse_time(text, "created_before")
    assert parsed == expected and parsed.utcoffset() is not None


@pytest.mark.parametrize("text", ["2025-11-12T09:59:59", "yesterday", "", None, "2025-11-12"])
def test_parse_time_refuses_a_time_without_offset(text):
    with pytest.raises(RollbackError, match="created_before must be an ISO 8601 time with its UTC offset"):
        parse_time(text, "created_before")


def test_parse_time_refuses_an_impossible_date():
    with pytest.raises(RollbackError, match="restore_time is not a valid time"):
        parse_time("2025-02-30T10:00:00Z", "restore_time")


def test_taken_at_prefers_the_database_time_then_the_original_creation():
    snapshot = dict(SnapshotCreateTime=at(12), OriginalSnapshotCreateTime=at(11), SnapshotDatabaseTime=at(10))
    assert taken_at(snapshot) == at(10)
    del snapshot["SnapshotDatabaseTime"]
    assert taken_at(snapshot) == at(11)  # a copy's SnapshotCreateTime is when it was copied
    del snapshot["OriginalSnapshotCreateTime"]
    assert taken_at(snapshot) == at(12)
    assert taken_at({}) == EPOCH
    assert iso(at(10, 5).astimezone(datetime.timezone(datetime.timedelta(hours=2)))) == "2025-11-12T10:05:00Z"


def test_named_snapshot_must_exist_be_available_and_older(rds):
    client, stubber = rds
    source = SnapshotSource(client, cluster=False)
    stubber.add_client_error("describe_db_snapshots", "DBSnapshotNotFound", http_status_code=404,
                             expected_params=dict(DBSnapshotIdentifier="gone"))
    with pytest.raises(RollbackError, match="^snapshot gone not found$"):
        source.named("gone")
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("s1", at(9), status="creating")]),
                         dict(DBSnapshotIdentifier="s1"))
    with pytest.raises(RollbackError, match="^snapshot s1 is creating, not available$"):
        source.named("s1")
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("s1", at(10))]),
                         dict(DBSnapshotIdentifier="s1"))
    with pytest.raises(RollbackError, match="holds data from 2025-11-12T10:00:00Z, not before created_before "
                                            "2025-11-12T10:00:00Z"):
        source.named("s1", created_before=at(10))
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("s1", at(9))]),
                         dict(DBSnapshotIdentifier="s1"))
    assert source.named("s1", created_before=at(10))["DBSnapshotIdentifier"] == "s1"


def test_other_errors_are_not_taken_for_not_found(rds):
    client, stubber = rds
    stubber.add_client_error("describe_db_snapshots", "AccessDenied", http_status_code=403)
    with pytest.raises(RollbackError) as error:
        SnapshotSource(client, cluster=False).named("s1")
    assert error.value.details["aws_error_code"] == "AccessDenied"


def test_newest_reads_every_page_and_skips_unusable_snapshots(rds):
    client, stubber = rds
    first = [snap("old", at(8)), snap("busy", at(11), status="creating")]
    second = [snap("newest", at(9)), snap("at-the-limit", at(10)), snap("after", at(10, 30))]
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=first, Marker="page2"),
                         dict(DBInstanceIdentifier="app", SnapshotType="manual"))
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=second),
                         dict(DBInstanceIdentifier="app", SnapshotType="manual", Marker="page2"))
    chosen = SnapshotSource(client, cluster=False).newest("app", "manual", created_before=at(10))
    assert chosen["DBSnapshotIdentifier"] == "newest"


def test_newest_any_also_asks_for_awsbackup_snapshots(rds):
    client, stubber = rds
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("auto", at(8), kind="automated")]),
                         dict(DBInstanceIdentifier="app"))
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("vault", at(9), kind="awsbackup")]),
                         dict(DBInstanceIdentifier="app", SnapshotType="awsbackup"))
    source = SnapshotSource(client, cluster=False)
    chosen = source.newest("app", "any")
    assert source.describe(chosen) == dict(id="vault", create_time="2025-11-12T09:00:00Z", type="awsbackup",
                                           source="app")


def test_newest_without_a_usable_snapshot_lists_what_was_found(rds):
    client, stubber = rds
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[snap("late", at(11))]),
                         dict(DBInstanceIdentifier="app", SnapshotType="automated"))
    with pytest.raises(RollbackError, match=r"^no available automated snapshot of app taken before "
                                            r"2025-11-12T10:00:00Z \(found: late \(available, "
                                            r"2025-11-12T11:00:00Z\)\)$"):
        SnapshotSource(client, cluster=False).newest("app", "automated", created_before=at(10))
    stubber.add_response("describe_db_snapshots", dict(DBSnapshots=[]),
                         dict(DBInstanceIdentifier="app", SnapshotType="manual"))
    with pytest.raises(RollbackError, match=r"\(found: none\)$"):
        SnapshotSource(client, cluster=False).newest("app", "manual")


def test_clusters_have_no_awsbackup_snapshots(rds):
    client, stubber = rds
    source = SnapshotSource(client, cluster=True)
    with pytest.raises(RollbackError, match="DescribeDBClusterSnapshots has no awsbackup type"):
        source.newest("db", "awsbackup")
    stubber.add_response("describe_db_cluster_snapshots", dict(DBClusterSnapshots=[dict(
        DBClusterSnapshotIdentifier="c1", DBClusterIdentifier="db", Status="available", SnapshotCreateTime=at(9))]),
        dict(DBClusterIdentifier="db"))
    assert source.newest("db", "any")["DBClusterSnapshotIdentifier"] == "c1"
    stubber.add_client_error("describe_db_cluster_snapshots", "DBClusterSnapshotNotFoundFault", http_status_code=404)
    assert source.find("missing") is None
