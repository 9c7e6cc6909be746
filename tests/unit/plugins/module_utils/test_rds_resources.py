"""rds_resources: the two kinds of RDS resource and the wait on them, against botocore's Stubber (responses
validated by botocore's service model, botocore/data/rds/2014-10-31/service-2.json). The statuses that fail a
wait at once are the failure acceptors of botocore's DBInstanceAvailable waiter (waiters-2.json: deleted, deleting,
failed, incompatible-restore, incompatible-parameters); ModifyDBInstance answers InvalidDBInstanceState while an
instance is busy (service model), which amazon.aws's rds module_utils retries (get_rds_method_attribute)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_resources import (
    TERMINAL, ClusterKind, InstanceKind, tags_of)
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

ARN = "arn:aws:rds:us-east-1:123456789012:db:app"


class Module:
    def __init__(self, check_mode=False, wait=True, wait_timeout=5):
        self.check_mode = check_mode
        self.params = dict(wait=wait, wait_timeout=wait_timeout, wait_sleep=0.0)


@pytest.fixture
def rds():
    with stubbed("rds", tries=2) as pair:
        yield pair


def instance(status="available", **extra):
    return dict(dict(DBInstanceIdentifier="app", DBInstanceStatus=status, DBInstanceArn=ARN), **extra)


def described(stubber, *answers):
    for answer in answers:
        if answer is None:
            stubber.add_client_error("describe_db_instances", "DBInstanceNotFound", http_status_code=404)
        else:
            stubber.add_response("describe_db_instances", dict(DBInstances=[answer]),
                                 dict(DBInstanceIdentifier="app"))


def test_the_waiters_failure_statuses_are_terminal():
    assert set(["deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters"]) <= TERMINAL
    assert not set(["available", "creating", "renaming", "rebooting", "modifying", "backing-up"]) & TERMINAL


def test_a_wait_goes_through_not_found_and_intermediate_statuses(rds):
    client, stubber = rds
    described(stubber, None, instance("renaming"), instance("rebooting"), instance("available"))
    assert InstanceKind(client, Module()).wait_available("app")["DBInstanceStatus"] == "available"


def test_a_terminal_status_fails_the_wait_at_once_with_aws_words(rds):
    client, stubber = rds
    described(stubber, instance("incompatible-parameters", StatusInfos=[dict(
        StatusType="read replication", Status="error", Normal=False, Message="parameter group mismatch")]))
    with pytest.raises(RollbackError) as error:
        InstanceKind(client, Module()).wait_available("app")
    assert error.value.msg == ("RDS instance app is incompatible-parameters, a status AWS does not leave by itself "
                               "(read replication error: parameter group mismatch); it is kept for inspection: "
                               "delete it before restoring again")
    assert error.value.details == dict(aws_status="incompatible-parameters")


def test_until_holds_the_wait_until_pending_changes_are_applied(rds):
    client, stubber = rds
    pending = instance(PendingModifiedValues=dict(DBInstanceClass="db.r6g.large"))
    described(stubber, pending, instance())

    def until(resource):
        return ", ".join(sorted(resource.get("PendingModifiedValues") or {})) or None
    assert InstanceKind(client, Module()).wait_available("app", until=until) == instance()


def test_a_wait_that_times_out_says_what_it_saw(rds):
    client, stubber = rds
    described(stubber, instance("creating", PercentProgress="40"))
    with pytest.raises(WaitTimeout, match=r"RDS instance app to be available: instance status creating \(40%\)"):
        InstanceKind(client, Module(wait_timeout=0)).wait_available("app")
    described(stubber, None)
    with pytest.raises(WaitTimeout, match="not found yet"):
        InstanceKind(client, Module(wait_timeout=0)).wait_available("app")


def test_no_wait_in_check_mode_or_with_wait_false(rds):
    client, _stubber = rds
    assert InstanceKind(client, Module(check_mode=True)).wait_available("app") is None
    assert InstanceKind(client, Module(wait=False)).wait_available("app") is None


def test_modify_applies_immediately_and_retries_a_busy_instance(rds):
    client, stubber = rds
    expected = dict(DBInstanceIdentifier="app", NewDBInstanceIdentifier="app-old", ApplyImmediately=True)
    stubber.add_client_error("modify_db_instance", "InvalidDBInstanceState", http_status_code=400,
                             expected_params=expected)
    stubber.add_response("modify_db_instance", dict(DBInstance=instance("renaming")), expected)
    InstanceKind(client, Module()).rename("app", "app-old")
    stubber.add_client_error("modify_db_instance", "InvalidParameterCombination", http_status_code=400)
    with pytest.raises(RollbackError, match="^modify_db_instance failed: InvalidParameterCombination"):
        InstanceKind(client, Module()).modify("app", VpcSecurityGroupIds=["sg-1"])


def test_stop_tags_and_listing(rds):
    client, stubber = rds
    kind = InstanceKind(client, Module())
    stubber.add_response("stop_db_instance", dict(DBInstance=instance("stopping")), dict(DBInstanceIdentifier="app"))
    kind.stop("app")
    stubber.add_response("add_tags_to_resource", {}, dict(ResourceName=ARN, Tags=[
        dict(Key="a", Value="1"), dict(Key="b", Value="2")]))
    kind.add_tags(instance(), dict(b="2", a="1"))
    stubber.add_response("describe_db_instances", dict(DBInstances=[instance()], Marker="m"), {})
    stubber.add_response("describe_db_instances", dict(DBInstances=[instance(DBInstanceIdentifier="b")]),
                         dict(Marker="m"))
    assert [r["DBInstanceIdentifier"] for r in kind.all()] == ["app", "b"]


def test_cluster_kind_uses_the_cluster_api(rds):
    client, stubber = rds
    kind = ClusterKind(client, Module())
    stubber.add_client_error("describe_db_clusters", "DBClusterNotFoundFault", http_status_code=404,
                             expected_params=dict(DBClusterIdentifier="db"))
    assert kind.get("db") is None
    stubber.add_response("modify_db_cluster", dict(DBCluster=dict(DBClusterIdentifier="db")), dict(
        DBClusterIdentifier="db", NewDBClusterIdentifier="db-old", ApplyImmediately=True))
    kind.rename("db", "db-old")
    cluster = dict(Status="available", Endpoint="db.cluster-x.us-east-1.rds.amazonaws.com",
                   ReadReplicaIdentifiers=["arn:replica"])
    assert (kind.status(cluster), kind.endpoint(cluster), kind.replicas(cluster)) == (
        "available", "db.cluster-x.us-east-1.rds.amazonaws.com", ["arn:replica"])


def test_instance_facts_replicas_endpoint_and_security_groups():
    resource = dict(ReadReplicaDBInstanceIdentifiers=["r1"], ReadReplicaDBClusterIdentifiers=["c1"],
                    Endpoint=dict(Address="app.x.rds.amazonaws.com", Port=5432),
                    VpcSecurityGroups=[dict(VpcSecurityGroupId="sg-b", Status="active"),
                                       dict(VpcSecurityGroupId="sg-a", Status="adding"),
                                       dict(VpcSecurityGroupId="sg-old", Status="removing"),
                                       dict(VpcSecurityGroupId="sg-gone", Status="inactive")])
    assert InstanceKind.replicas(resource) == ["r1", "c1"]
    assert InstanceKind.endpoint(resource) == "app.x.rds.amazonaws.com" and InstanceKind.endpoint({}) is None
    assert InstanceKind.security_groups(resource) == ["sg-a", "sg-b"] == ClusterKind.security_groups(resource)
    assert InstanceKind(None, None).status(None) is None


def test_tags_of_reads_the_tag_list():
    assert tags_of(dict(TagList=[dict(Key="k", Value="v")])) == dict(k="v")
    assert tags_of(None) == {} and tags_of(dict(TagList=None)) == {}
