"""rds_clusters: the writer and readers of a restored Aurora cluster, through botocore's Stubber (CreateDBInstance
and DescribeDBInstances as botocore/data/rds/2014-10-31/service-2.json defines them; identifiers are at most 63
characters, the CreateDBInstance DBInstanceIdentifier constraints). A Multi-AZ DB cluster has DBClusterInstanceClass
set and gets its instances from the restore itself (RDS User Guide, "Restoring a Multi-AZ DB cluster")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils.rds_clusters import (
    MAX_IDENTIFIER, Members, derived_name, is_aurora, source_members)
from ansible_collections.rollback.core.plugins.module_utils.rds_resources import ClusterKind


class Module:
    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.params = dict(wait=True, wait_timeout=5, wait_sleep=0.0)


@pytest.fixture
def rds():
    with stubbed("rds") as pair:
        yield pair


CLUSTER = dict(DBClusterIdentifier="db", Engine="aurora-postgresql", DBClusterMembers=[
    dict(DBInstanceIdentifier="db-reader-2", IsClusterWriter=False, PromotionTier=2),
    dict(DBInstanceIdentifier="db-reader-1", IsClusterWriter=False, PromotionTier=1),
    dict(DBInstanceIdentifier="db-writer", IsClusterWriter=True, PromotionTier=1)])


def instance(name, **extra):
    return dict(dict(DBInstanceIdentifier=name, DBInstanceStatus="available", DBInstanceClass="db.r6g.large"),
                **extra)


def describe(stubber, name, found):
    if found is None:
        stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", http_status_code=404,
                                 expected_params=dict(DBInstanceIdentifier=name))
    else:
        stubber.add_response("describe_db_instances", dict(DBInstances=[found]), dict(DBInstanceIdentifier=name))


def test_derived_names_keep_the_suffix_within_63_characters():
    assert derived_name("db-writer", "rb-20251112103000") == "db-writer-rb-20251112103000"
    long = derived_name("a" * 50 + "-" + "b" * 20, "rb-20251112103000")
    assert len(long) == MAX_IDENTIFIER and long.endswith("-rb-20251112103000")
    assert derived_name("a" * 44 + "-" + "b" * 20, "rb-20251112103000") == "a" * 44 + "-rb-20251112103000"


def test_multi_az_clusters_are_not_aurora():
    assert is_aurora(CLUSTER) and not is_aurora(dict(CLUSTER, DBClusterInstanceClass="db.m6gd.large"))


def test_the_writer_comes_first_then_the_readers_by_promotion_tier(rds):
    client, stubber = rds
    describe(stubber, "db-writer", instance("db-writer"))
    describe(stubber, "db-reader-1", None)  # gone since: its name is kept
    describe(stubber, "db-reader-2", instance("db-reader-2"))
    members = source_members(ClusterKind(client, Module()), CLUSTER)
    assert [m["DBInstanceIdentifier"] for m in members] == ["db-writer", "db-reader-1", "db-reader-2"]


def test_plan_carries_each_members_settings_and_tags(rds):
    client, stubber = rds
    describe(stubber, "db-writer", instance("db-writer", PromotionTier=1, TagList=[
        dict(Key="team", Value="payments"), dict(Key="aws:cloudformation:stack-name", Value="s")]))
    cluster = dict(CLUSTER, DBClusterMembers=CLUSTER["DBClusterMembers"][2:])
    members = Members(ClusterKind(client, Module()), Module(), [])
    planned = members.plan(cluster, "db-rb", "20251112103000", {"rollback.core/rollback-of": "db"})
    assert planned == [dict(DBInstanceIdentifier="db-writer-rb-20251112103000", DBClusterIdentifier="db-rb",
                            Engine="aurora-postgresql", DBInstanceClass="db.r6g.large", PromotionTier=1,
                            Tags=[dict(Key="rollback.core/rollback-of", Value="db"),
                                  dict(Key="team", Value="payments")])]
    describe(stubber, "db-writer", instance("db-writer"))
    members = Members(ClusterKind(client, Module()), Module(), [])
    planned = members.plan(cluster, "db-rb", "1", {}, instance_class="db.t4g.medium")
    assert planned[0]["DBInstanceClass"] == "db.t4g.medium"
    assert Members(ClusterKind(client, Module()), Module(), []).plan(
        dict(CLUSTER, DBClusterInstanceClass="db.m6gd.large"), "db-rb", "1", {}) == []


def test_create_makes_only_the_missing_members_and_waits_for_all(rds):
    client, stubber = rds
    planned = [dict(DBInstanceIdentifier="w-rb", DBClusterIdentifier="db-rb", Engine="aurora-postgresql",
                    DBInstanceClass="db.r6g.large"),
               dict(DBInstanceIdentifier="r-rb", DBClusterIdentifier="db-rb", Engine="aurora-postgresql",
                    DBInstanceClass="db.r6g.large")]
    changes = []
    describe(stubber, "w-rb", instance("w-rb"))  # made by an earlier run
    describe(stubber, "r-rb", None)
    stubber.add_client_error("create_db_instance", "InvalidDBClusterStateFault", http_status_code=400)
    stubber.add_response("create_db_instance", dict(DBInstance=dict(DBInstanceIdentifier="r-rb")), planned[1])
    describe(stubber, "w-rb", instance("w-rb"))
    describe(stubber, "r-rb", instance("r-rb", DBInstanceStatus="creating"))
    describe(stubber, "r-rb", instance("r-rb"))
    assert Members(ClusterKind(client, Module()), Module(), changes).create(planned) == ["w-rb", "r-rb"]
    assert changes == ["created cluster member r-rb (db.r6g.large)"]


def test_create_in_check_mode_only_reports(rds):
    client, stubber = rds
    changes = []
    describe(stubber, "r-rb", None)
    Members(ClusterKind(client, Module()), Module(check_mode=True), changes).create([dict(
        DBInstanceIdentifier="r-rb", DBInstanceClass="db.r6g.large")])
    assert changes == ["would create cluster member r-rb (db.r6g.large)"]
