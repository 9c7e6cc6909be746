"""rds_cutover: the decisions of the swap of names (what is refused, renamed, fenced and when the endpoint counts as
moved), with a fake resource kind; the security groups come from botocore's Stubber (DescribeSecurityGroups,
botocore/data/ec2/2016-11-15/service-2.json). What a rename does at AWS (the old DNS name deleted at once, the new
one effective in about 10 minutes, a reboot) is in the RDS User Guide, "Renaming a DB instance"; the Stubber
replay of that sequence is in test_rds.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from support.aws_stub import stubbed

from ansible_collections.rollback.core.plugins.module_utils import rds_cutover
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_cutover import (
    Cutover, check_isolation_groups, refuse_replicas)
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout


class Kind:
    id_key, noun = "DBInstanceIdentifier", "DB instance"

    def __init__(self, replicas=(), available=None):
        self.calls = []
        self._replicas = list(replicas)
        self.available = available

    def replicas(self, source):
        return self._replicas

    def status(self, resource):
        return resource["DBInstanceStatus"]

    def security_groups(self, resource):
        return sorted(resource.get("groups", []))

    def rename(self, old, new):
        self.calls.append(("rename", old, new))

    def wait_available(self, name, why):
        self.calls.append(("wait", name))
        return self.available

    def stop(self, name):
        self.calls.append(("stop", name))

    def modify(self, name, **arguments):
        self.calls.append(("modify", name, arguments))


class Module:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(dict(wait=True, wait_timeout=0, wait_sleep=0.0), **params)


def db(name, status="available", **extra):
    return dict(DBInstanceIdentifier=name, DBInstanceStatus=status, **extra)


def test_replicas_are_refused_unless_left_behind():
    kind = Kind(replicas=["app-replica-1", "app-replica-2"])
    with pytest.raises(RollbackError, match=r"^app has read replicas \(app-replica-1, app-replica-2\): after the "
                                            r"swap they would keep replicating the old DB instance\. "
                                            r".*read_replicas: leave"):
        refuse_replicas(kind, db("app"), "refuse")
    assert refuse_replicas(kind, db("app"), "leave") == ["app-replica-1", "app-replica-2"]
    assert refuse_replicas(Kind(), db("app"), "refuse") == []


def test_isolation_groups_must_allow_no_ingress():
    rule = dict(IpProtocol="tcp", FromPort=5432, ToPort=5432, IpRanges=[dict(CidrIp="10.0.0.0/8")])
    with stubbed("ec2") as (ec2, stubber):
        stubber.add_response("describe_security_groups", dict(SecurityGroups=[
            dict(GroupId="sg-closed", IpPermissions=[]), dict(GroupId="sg-open", IpPermissions=[rule, rule])]),
            dict(GroupIds=["sg-closed", "sg-open"]))
        with pytest.raises(RollbackError, match=r"^isolation_security_group_ids must allow no ingress: "
                                                r"sg-open \(2 ingress rules\)$"):
            check_isolation_groups(ec2, ["sg-closed", "sg-open"])
        stubber.add_response("describe_security_groups", dict(SecurityGroups=[dict(GroupId="sg-closed")]),
                             dict(GroupIds=["sg-closed"]))
        check_isolation_groups(ec2, ("sg-closed",))


def test_rename_renames_once_and_waits_for_the_new_name():
    kind, changes = Kind(available=db("app")), []
    assert Cutover(kind, Module(), changes).rename(db("app-rb"), "app-rb", "app") == db("app")
    assert kind.calls == [("rename", "app-rb", "app"), ("wait", "app")]
    assert changes == ["renamed DB instance app-rb to app"]


@pytest.mark.parametrize("current", [None, db("app-rb", status="renaming"), db("app")])
def test_rename_already_under_way_or_done_only_waits(current):
    kind, changes = Kind(available=db("app")), []
    Cutover(kind, Module(), changes).rename(current, "app-rb", "app")
    assert kind.calls == [("wait", "app")] and changes == []


def test_rename_in_check_mode_changes_nothing():
    kind, changes = Kind(), []
    current = db("app-rb")
    assert Cutover(kind, Module(check_mode=True), changes).rename(current, "app-rb", "app") is current
    assert kind.calls == [] and changes == ["would rename DB instance app-rb to app"]


def test_fence_stop_stops_a_running_old_instance_only():
    kind, changes = Kind(), []
    state = Cutover(kind, Module(), changes).fence(db("app-pre"), "stop", None)
    assert kind.calls == [("stop", "app-pre")] and changes == ["old DB instance app-pre stopped"]
    assert (state["status"], state["writable"]) == ("stopping", False)
    assert "AWS starts a stopped instance again after 7 days" in state["note"]
    for status in ("stopped", "stopping"):
        kind = Kind()
        assert Cutover(kind, Module(), []).fence(db("app-pre", status=status), "stop", None)["status"] == status
        assert kind.calls == []


def test_fence_isolate_moves_to_the_groups_unless_already_there():
    kind, changes = Kind(), []
    Cutover(kind, Module(), changes).fence(db("app-pre", groups=["sg-app"]), "isolate", ["sg-iso"])
    assert kind.calls == [("modify", "app-pre", dict(VpcSecurityGroupIds=["sg-iso"]))]
    assert changes == ["old DB instance app-pre isolated (security groups sg-iso)"]
    kind = Kind()
    Cutover(kind, Module(), []).fence(db("app-pre", groups=["sg-b", "sg-a"]), "isolate", ["sg-a", "sg-b"])
    assert kind.calls == []


def test_fence_keep_says_the_old_instance_still_takes_writes_and_check_mode_only_reports():
    kind, changes = Kind(), []
    state = Cutover(kind, Module(), changes).fence(db("app-pre"), "keep", None)
    assert state["writable"] is True and "accepts writes" in state["note"] and kind.calls == []
    Cutover(kind, Module(check_mode=True), changes).fence(db("app-pre"), "stop", None)
    assert kind.calls == [] and changes == ["would have the old DB instance app-pre stopped"]


def test_verify_dns_waits_for_the_restored_addresses(monkeypatch):
    answers = iter([["10.0.0.1"], ["10.0.0.1", "10.0.0.2"]])
    monkeypatch.setattr(rds_cutover, "resolve", lambda host: next(answers))
    cutover = Cutover(Kind(), Module(wait_timeout=5), [])
    assert cutover.verify_dns("app.example", ["10.0.0.2"], ["10.0.0.1"]) == dict(
        verified=True, address="app.example", addresses=["10.0.0.1", "10.0.0.2"],
        basis="the restored DB instance's own addresses")


def test_verify_dns_without_the_restored_addresses_waits_until_the_old_ones_are_gone(monkeypatch):
    monkeypatch.setattr(rds_cutover, "resolve", lambda host: ["10.0.0.1"])
    with pytest.raises(WaitTimeout, match="app.example resolves to 10.0.0.1; the restored DB instance is at "
                                          r"\(unknown\), the old one at 10.0.0.1"):
        Cutover(Kind(), Module(), []).verify_dns("app.example", [], ["10.0.0.1"])
    monkeypatch.setattr(rds_cutover, "resolve", lambda host: [])
    with pytest.raises(WaitTimeout, match="resolves to nothing"):
        Cutover(Kind(), Module(), []).verify_dns("app.example", [], ["10.0.0.1"])
    monkeypatch.setattr(rds_cutover, "resolve", lambda host: ["10.0.0.9"])
    assert Cutover(Kind(), Module(), []).verify_dns("app.example", [], ["10.0.0.1"])["basis"] == \
        "not the old DB instance's addresses"


def test_verify_dns_is_skipped_in_check_mode_and_without_an_address():
    assert Cutover(Kind(), Module(check_mode=True), []).verify_dns("a.example", [], []) == dict(
        verified=None, address="a.example")
    assert Cutover(Kind(), Module(), []).verify_dns(None, [], [])["verified"] is None


def test_resolve_uses_the_system_resolver():
    assert rds_cutover.resolve("localhost") and "127.0.0.1" in rds_cutover.resolve("127.0.0.1")
    assert rds_cutover.resolve("no-such-host.invalid") == []  # RFC 2606: .invalid never resolves
