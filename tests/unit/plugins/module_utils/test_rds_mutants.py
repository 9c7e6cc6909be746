"""plugins/module_utils/rds.py: the refusals of RdsRestore.validate, check mode's result, the warning when not
waiting, and describe_instance/describe_cluster, with botocore's Stubber as in test_rds.py (whose helpers these
reuse). Each kills a mutant ./dev mutate found surviving the replays. Response shapes: botocore's RDS service model
(botocore/data/rds/2014-10-31/service-2.json: DBInstance.Endpoint {Address, Port}, DBCluster.Endpoint a string,
DBClusterMembers [{DBInstanceIdentifier, IsClusterWriter}])."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import boto3
import pytest
from botocore.stub import Stubber
from test_rds import (
    CREATED, STAMP, P, R, FakeModule, instance, listing, named_snapshot, rename, restored_tags, restorer, seen, stubbed)

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds import RdsRestore, describe_cluster, describe_instance
from ansible_collections.rollback.core.plugins.module_utils.rds_resume import TAG_REPLACED


LATER = "20251112110000"


def rerun_of(module, rds):
    """A re-run, a while after the first run (another stamp)."""
    restore = restorer(module, rds)
    restore.stamp = LATER
    return restore


def checking(**params):
    """The module of a check-mode run."""
    module = FakeModule(**params)
    module.check_mode = True
    return module


def ran(stub, restore):
    """The result of ``restore``'s run, every stubbed response used."""
    with stub:
        result = restore.run()
    stub.assert_no_pending_responses()
    return result


def after_a_finished_swap_newest(stub, snapshot):
    """A finished swap from app-snap (the old one kept as P); ``snapshot`` is now app's newest."""
    listing(stub, instance("app", tags=restored_tags()), instance(P, tags={TAG_REPLACED: "app@" + STAMP}))
    stub.add_response("describe_db_snapshots", dict(DBSnapshots=[dict(
        DBSnapshotIdentifier=snapshot, DBInstanceIdentifier="app", Status="available", SnapshotType="manual",
        SnapshotCreateTime=CREATED)]), expected_params=dict(DBInstanceIdentifier="app", SnapshotType="manual"))


@pytest.mark.parametrize("params,message", [
    (dict(old_instance="stop"), "old_instance needs swap: true (without a swap the source stays live)"),
    (dict(old_instance="isolate", isolation_security_group_ids=["sg-1"]), "old_instance needs swap: true"),
    (dict(verify_dns=True), "verify_dns needs swap: true (without a swap the source stays live)"),
    (dict(swap=True, wait=False), "swap needs wait: true: each rename waits for the restored instance"),
    (dict(swap=True, isolation_security_group_ids=["sg-1"]),
     "isolation_security_group_ids applies with old_instance: isolate"),
    (dict(swap=True, old_instance="stop", isolation_security_group_ids=["sg-1"]),
     "isolation_security_group_ids applies with old_instance: isolate"),
    (dict(db_instance_identifier=None, db_cluster_identifier="c", multi_az=False),
     "multi_az applies to DB instances; a restored cluster keeps the source's layout"),
    (dict(db_instance_identifier=None, db_cluster_identifier="c", multi_az=True), "multi_az applies to DB instances"),
])
def test_bad_combinations_are_refused_before_any_call(params, message):
    rds, stub = stubbed()
    with stub, pytest.raises(RollbackError) as raised:
        restorer(FakeModule(**params), rds).run()
    assert raised.value.msg.startswith(message)
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("params", [
    dict(swap=True, old_instance="stop"),
    dict(swap=True, verify_dns=True),
    dict(swap=True, old_instance="isolate", isolation_security_group_ids=["sg-1"]),
    dict(multi_az=False),
    dict(wait=False),
])
def test_good_combinations_pass_validation(params):
    rds, stub = stubbed()
    restorer(FakeModule(**params), rds).validate()


def test_the_defaults_given_as_parameters_pass_validation():
    rds, stub = stubbed()
    restorer(FakeModule(old_instance=runtime("keep")), rds).validate()


def test_check_mode_beside_names_the_target_it_would_restore():
    rds, stub = stubbed()
    listing(stub, instance("analytics", DBInstanceClass="db.r6g.large"), instance("app"))
    named_snapshot(stub)
    module = checking()
    result = ran(stub, restorer(module, rds))
    assert result["changed"] is True
    assert result["steps"] == ["would restore instance %s from snapshot app-snap" % R]
    assert result["db_instance"] == dict(id=R, address=None, port=None, status="would be restored",
                                         instance_class=None)
    assert result["previous_db_instance_identifier"] is None
    assert "DBInstanceClass" in [row["setting"] for row in result["settings"]]
    assert "settings_not_sent" not in result
    assert result["restore_arguments"]["DBInstanceClass"] == "db.t3.micro", "the source's, not another's"
    assert result["resumed"] is False
    assert result["read_replicas_left"] == []


def test_check_mode_swap_names_the_source_and_the_name_the_old_one_would_get():
    rds, stub = stubbed()
    listing(stub, instance("app"))
    named_snapshot(stub)
    module = checking(swap=True)
    result = ran(stub, restorer(module, rds))
    assert result["db_instance"]["id"] == "app"
    assert result["db_instance"]["status"] == "would be restored"
    assert result["previous_db_instance_identifier"] == P


SETTINGS_AFTER = dict(MonitoringInterval=60, MonitoringRoleArn="arn:aws:iam::1:role/mon")


def test_without_wait_the_settings_left_for_later_are_named_in_a_warning():
    rds, stub = stubbed()
    listing(stub, instance("app", **SETTINGS_AFTER))
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")))
    seen(stub, R, "creating")
    module = FakeModule(wait=False)
    result = ran(stub, restorer(module, rds))
    assert module.warnings == ["settings MonitoringInterval, MonitoringRoleArn of %s are applied once it is "
                               "available: re-run with wait: true" % R]
    assert result["db_instance"]["status"] == "creating"
    assert result["steps"] == ["restored instance %s from snapshot app-snap" % R]


def test_in_check_mode_nothing_is_left_for_later_so_no_warning():
    rds, stub = stubbed()
    listing(stub, instance("app", **SETTINGS_AFTER))
    named_snapshot(stub)
    module = checking(wait=False)
    with stub:
        restorer(module, rds).run()
    assert module.warnings == []


def test_describe_instance():
    assert describe_instance(instance("app")) == dict(
        id="app", address="app.c1.us-east-1.rds.amazonaws.com", port=5432, status="available",
        instance_class="db.t3.micro")
    # A creating instance has no Endpoint yet (the service model does not require it).
    assert describe_instance(dict(DBInstanceIdentifier="new", DBInstanceStatus="creating")) == dict(
        id="new", address=None, port=None, status="creating", instance_class=None)


def test_describe_cluster():
    cluster = dict(DBClusterIdentifier="c", Endpoint="c.cluster-x.rds.amazonaws.com",
                   ReaderEndpoint="c.cluster-ro-x.rds.amazonaws.com", Port=5432, Status="available",
                   DBClusterMembers=[dict(DBInstanceIdentifier="c-1", IsClusterWriter=True),
                                     dict(DBInstanceIdentifier="c-2", IsClusterWriter=False)])
    assert describe_cluster(cluster) == dict(id="c", endpoint="c.cluster-x.rds.amazonaws.com",
                                             reader_endpoint="c.cluster-ro-x.rds.amazonaws.com", port=5432,
                                             status="available", members=["c-1", "c-2"])
    assert describe_cluster(dict(DBClusterIdentifier="c"))["members"] == []


@pytest.mark.parametrize("taken", [R, P])
def test_a_swap_whose_names_are_taken_is_refused_before_any_change(taken):
    # Not one of ours (no rollback tags): a name of this very second is in use.
    rds, stub = stubbed()
    listing(stub, instance("app"), instance("zzz-unrelated"), instance(taken))
    named_snapshot(stub)
    with stub, pytest.raises(RollbackError) as raised:
        restorer(FakeModule(swap=True), rds).run()
    stub.assert_no_pending_responses()
    assert raised.value.msg == "instance %s already exists; re-run in a second" % taken


def test_a_swap_beside_unrelated_instances_restores():
    rds, stub = stubbed()
    listing(stub, instance("app"), instance("zzz-unrelated"))
    named_snapshot(stub)
    module = checking(swap=True)
    result = ran(stub, restorer(module, rds))
    assert result["steps"] == ["would restore instance %s from snapshot app-snap" % R]


def test_check_mode_after_the_first_rename_with_nothing_under_the_name_names_the_old_one():
    """An earlier run renamed app to P; in check mode nothing is waited for: the name is looked up once."""
    rds, stub = stubbed()
    listing(stub, instance(P, tags={TAG_REPLACED: "app@" + STAMP}))
    seen(stub, "app", None)
    module = checking(swap=True)
    with stub, pytest.raises(RollbackError) as raised:
        rerun_of(module, rds).run()
    stub.assert_no_pending_responses()
    assert raised.value.msg == ("instance app was renamed to %s by an earlier run and nothing has its name yet" % P)


def with_replica():
    # DBInstance.ReadReplicaDBInstanceIdentifiers (service model): the replicas of this source.
    return instance("app", ReadReplicaDBInstanceIdentifiers=["app-replica"])


def test_stopping_an_old_one_with_read_replicas_is_refused():
    # RDS User Guide, "Stopping an Amazon RDS DB instance temporarily": a source of read replicas cannot be stopped.
    rds, stub = stubbed()
    listing(stub, with_replica())
    named_snapshot(stub)
    with stub, pytest.raises(RollbackError) as raised:
        restorer(FakeModule(swap=True, read_replicas="leave", old_instance=runtime("stop")), rds).run()
    stub.assert_no_pending_responses()
    assert raised.value.msg == "old_instance: stop is refused for a instance with read replicas (AWS cannot stop it)"


def test_keeping_an_old_one_with_read_replicas_left_is_allowed():
    rds, stub = stubbed()
    listing(stub, with_replica())
    named_snapshot(stub)
    module = checking(swap=True, read_replicas="leave")
    result = ran(stub, restorer(module, rds))
    assert result["read_replicas_left"] == ["app-replica"]
    assert result["steps"] == ["would restore instance %s from snapshot app-snap" % R]


def test_a_swap_applies_the_settings_left_for_after_the_restore_before_the_renames():
    """The source's settings the restore call does not take (here enhanced monitoring) are set on the restored
    instance before it takes the source's name (ModifyDBInstance, ApplyImmediately)."""
    rds, stub = stubbed()
    listing(stub, instance("app", **SETTINGS_AFTER))
    named_snapshot(stub)
    stub.add_response("restore_db_instance_from_db_snapshot", dict(DBInstance=instance(R, "creating")))
    seen(stub, R, "available", tags=restored_tags())
    stub.add_response("modify_db_instance", dict(DBInstance=instance(R, "modifying")), expected_params=dict(
        DBInstanceIdentifier=R, ApplyImmediately=True, **SETTINGS_AFTER))
    seen(stub, R, "available", tags=restored_tags(), **SETTINGS_AFTER)
    stub.add_response("add_tags_to_resource", {})
    rename(stub, "app", P)
    seen(stub, P, "available")
    rename(stub, R, "app")
    seen(stub, "app", "available", tags=restored_tags(), **SETTINGS_AFTER)
    seen(stub, P, "available")
    result = ran(stub, restorer(FakeModule(swap=True, db_instance_identifier=runtime("app")), rds))
    assert result["steps"] == ["restored instance %s from snapshot app-snap" % R,
                               "applied after the restore to %s: MonitoringInterval, MonitoringRoleArn" % R,
                               "renamed instance app to %s" % P, "renamed instance %s to app" % R]
    assert result["resumed"] is False, "restored by this run"


def test_isolation_into_a_group_with_ingress_is_refused_before_any_change():
    # EC2 DescribeSecurityGroups (botocore/data/ec2/2016-11-15/service-2.json): IpPermissions are the ingress rules.
    rds, stub = stubbed()
    listing(stub, instance("app"))
    named_snapshot(stub)
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    ec2, ec2_stub = AwsClient.around(client, tries=1, sleeper=lambda seconds: None), Stubber(client)
    ec2_stub.add_response("describe_security_groups", dict(SecurityGroups=[
        dict(GroupId="sg-1", IpPermissions=[dict(IpProtocol="tcp", FromPort=5432, ToPort=5432)])]),
        expected_params=dict(GroupIds=["sg-1"]))
    module = FakeModule(swap=True, old_instance="isolate", isolation_security_group_ids=["sg-1"])
    restore = RdsRestore(module, rds, ec2)
    restore.stamp = STAMP
    with stub, ec2_stub, pytest.raises(RollbackError) as raised:
        restore.run()
    stub.assert_no_pending_responses()
    ec2_stub.assert_no_pending_responses()
    assert raised.value.msg == "isolation_security_group_ids must allow no ingress: sg-1 (1 ingress rules)"


def test_a_rerun_with_latest_of_a_finished_swap_from_that_snapshot_changes_nothing():
    """latest: true is read again; the newest snapshot is still the one the finished swap restored: done."""
    rds, stub = stubbed()
    after_a_finished_swap_newest(stub, "app-snap")
    seen(stub, "app", "available", tags=restored_tags())
    seen(stub, P, "available")
    result = ran(stub, rerun_of(FakeModule(swap=True, db_snapshot_identifier=None, latest=True), rds))
    assert result["changed"] is False and result["resumed"] is True and result["steps"] == []
    assert result["previous_db_instance_identifier"] == P and result["db_instance"]["id"] == "app"


def test_a_rerun_does_not_tag_the_old_one_again():
    """The old one was tagged and then its rename failed: the re-run renames it without a second AddTagsToResource."""
    rds, stub = stubbed()
    listing(stub, instance("app", tags={TAG_REPLACED: "app@" + STAMP}), instance(R, tags=restored_tags()))
    named_snapshot(stub)
    seen(stub, R, "available", tags=restored_tags())
    rename(stub, "app", P)
    seen(stub, P, "available")
    rename(stub, R, "app")
    seen(stub, "app", "available", tags=restored_tags())
    seen(stub, P, "available")
    result = ran(stub, rerun_of(FakeModule(swap=True), rds))
    assert result["steps"] == ["renamed instance app to %s" % P, "renamed instance %s to app" % R]
    # The settings table of the resumed restore, read from the source as the first run did.
    assert "DBInstanceClass" in [row["setting"] for row in result["settings"]]


def test_a_rerun_of_a_finished_swap_whose_old_one_was_deleted_fences_nothing():
    """The old one is gone (deleted after the swap): nothing is fenced, least of all the restored one now live."""
    rds, stub = stubbed()
    listing(stub, instance("app", tags=restored_tags()))
    named_snapshot(stub)
    seen(stub, "app", "available", tags=restored_tags())
    seen(stub, P, None)
    result = ran(stub, rerun_of(FakeModule(swap=True, old_instance="stop"), rds))
    assert result["old_instance"] is None and result["changed"] is False
    assert result["db_instance"]["id"] == "app"


def runtime(text):
    """``text`` as a new string object, as a module parameter (parsed from JSON) is: never ``is`` a literal."""
    return "".join(list(text))


def test_parameters_are_compared_by_value():
    rds, stub = stubbed()
    listing(stub, instance("analytics"), instance("app"), instance("app-inspect"))
    named_snapshot(stub)
    module = FakeModule(db_instance_identifier=runtime("app"), target_db_instance_identifier=runtime("app-inspect"))
    with stub, pytest.raises(RollbackError) as raised:
        restorer(module, rds).run()
    stub.assert_no_pending_responses()
    assert raised.value.msg == "target instance app-inspect already exists"


def test_old_instance_isolate_is_compared_by_value():
    rds, stub = stubbed()
    listing(stub, instance("analytics"), instance("app"))
    named_snapshot(stub)
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    ec2, ec2_stub = AwsClient.around(client, tries=1, sleeper=lambda seconds: None), Stubber(client)
    ec2_stub.add_response("describe_security_groups", dict(SecurityGroups=[dict(GroupId="sg-1", IpPermissions=[])]),
                          expected_params=dict(GroupIds=["sg-1"]))
    module = checking(swap=True, old_instance=runtime("isolate"), isolation_security_group_ids=["sg-1"])
    restore = RdsRestore(module, rds, ec2)
    restore.stamp = STAMP
    with stub, ec2_stub:
        result = restore.run()
    ec2_stub.assert_no_pending_responses()
    assert result["steps"] == ["would restore instance %s from snapshot app-snap" % R]
    assert result["db_instance"]["id"] == "app"


def test_a_rerun_with_latest_after_a_newer_snapshot_restores_again():
    """latest: true after a finished swap, and a newer snapshot exists: this is a new rollback, not the old one."""
    rds, stub = stubbed()
    after_a_finished_swap_newest(stub, "app-snap-2")
    module = checking(swap=True, db_snapshot_identifier=None, latest=True)
    result = ran(stub, rerun_of(module, rds))
    assert result["steps"] == ["would restore instance app-rb-%s from snapshot app-snap-2" % LATER]
    assert result["resumed"] is False
