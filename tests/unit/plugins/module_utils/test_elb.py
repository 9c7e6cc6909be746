"""The saved-target record, listener actions, and the waits moto cannot show (no draining delay, no initial state)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.elb import (
    SAVED_TARGETS_TAG, TAG_TEXT, TAG_VALUE_MAX, TAGS_PER_RESOURCE, AlbTraffic, TagStore, decode_target,
    encode_record, encode_target, merge_targets, record_from_tags, record_tags, switched_actions)
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter, WaitTimeout

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/0123456789abcdef"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:api:live"


@pytest.mark.parametrize("target,text", [
    (dict(Id="i-0123456789abcdef0", Port=8080), "i-0123456789abcdef0=8080"),
    (dict(Id="10.0.1.5", Port=80, AvailabilityZone="all"), "10.0.1.5=80@all"),
    (dict(Id="2001:db8::1", Port=443, AvailabilityZone="us-east-1a"), "2001:db8::1=443@us-east-1a"),
    (dict(Id=LAMBDA), LAMBDA),
])
def test_a_target_round_trips_through_its_tag_text(target, text):
    assert encode_target(target) == text
    assert TAG_TEXT.match(text)
    assert decode_target(text) == target


@pytest.mark.parametrize("bad", [dict(Id='{"json"}', Port=1), dict(Id="a b", Port=1), dict(Id="x" * 300)])
def test_a_target_tags_cannot_hold_asks_for_a_state_file(bad):
    with pytest.raises(RollbackError, match="give state_file"):
        encode_target(bad)


def test_unreadable_saved_text_is_an_error():
    with pytest.raises(RollbackError, match="unreadable saved target"):
        decode_target("10.0.0.1=http")


def test_record_is_split_on_whole_targets_within_the_value_limit():
    targets = [dict(Id="10.0.%d.%d" % (i // 200, i % 200), Port=8000 + i) for i in range(100)]
    chunks = encode_record(targets)
    assert len(chunks) > 1
    assert all(len(chunk) <= TAG_VALUE_MAX and TAG_TEXT.match(chunk) for chunk in chunks)
    assert [decode_target(text) for chunk in chunks for text in chunk.split(" ")] == targets
    tags = record_tags(targets, saved_at="2026-01-18T10:00:00Z")
    assert tags[SAVED_TARGETS_TAG] == "tags=%d targets=100 saved=2026-01-18T10:00:00Z" % len(chunks)
    assert record_from_tags(dict(tags, team="payments")) == targets


def test_stale_chunks_of_an_older_longer_record_are_ignored():
    old = record_tags([dict(Id="10.0.0.%d" % i, Port=80) for i in range(60)])
    new = record_tags([dict(Id="i-1", Port=80)])
    assert len(old) > len(new)
    assert record_from_tags(dict(old, **new)) == [dict(Id="i-1", Port=80)]


@pytest.mark.parametrize("tags", [
    {SAVED_TARGETS_TAG + "/1": "i-1=80"},
    {SAVED_TARGETS_TAG: "tags=2 targets=2 saved=x", SAVED_TARGETS_TAG + "/1": "i-1=80"},
    {SAVED_TARGETS_TAG: "tags=1 targets=3 saved=x", SAVED_TARGETS_TAG + "/1": "i-1=80"},
])
def test_an_incomplete_record_is_never_half_restored(tags):
    with pytest.raises(RollbackError, match="remove them or restore with state_file"):
        record_from_tags(tags)


def test_no_record_is_none():
    assert record_from_tags({"team": "payments"}) is None


def test_merge_keeps_the_saved_order_and_adds_new_targets_once():
    saved = [dict(Id="a", Port=1), dict(Id="b", Port=2)]
    assert merge_targets(saved, [dict(Id="b", Port=2), dict(Id="b", Port=3)]) == saved + [dict(Id="b", Port=3)]


def test_switch_replaces_the_terminal_action_and_keeps_authentication():
    oidc = dict(Type="authenticate-oidc", Order=1, AuthenticateOidcConfig=dict(Issuer="https://idp", ClientId="c"))
    weighted = dict(Type="forward", Order=2, ForwardConfig=dict(TargetGroups=[
        dict(TargetGroupArn="blue", Weight=50), dict(TargetGroupArn="green", Weight=50)]))
    assert switched_actions([oidc, weighted], "green") == [
        dict(oidc, AuthenticateOidcConfig=dict(Issuer="https://idp", ClientId="c", UseExistingClientSecret=True)),
        dict(Type="forward", TargetGroupArn="green", Order=2)]
    assert switched_actions([dict(Type="fixed-response", FixedResponseConfig=dict(StatusCode="503"))], "blue") == [
        dict(Type="forward", TargetGroupArn="blue")]


class FakeClient:
    def __init__(self, tags):
        self.tags = tags
        self.calls = []

    def call(self, operation, **kwargs):
        self.calls.append(operation)
        if operation == "describe_tags":
            return dict(TagDescriptions=[dict(Tags=[dict(Key=k, Value=v) for k, v in self.tags.items()])])
        return {}


def test_a_record_that_does_not_fit_in_the_tags_left_fails_before_any_call():
    client = FakeClient(dict(("team%d" % i, "x") for i in range(TAGS_PER_RESOURCE - 2)))
    store = TagStore(client, dict(TargetGroupArn=ARN, TargetGroupName="api"))
    many = [dict(Id="10.0.0.%d" % i, Port=8080) for i in range(40)]
    with pytest.raises(RollbackError, match=r"40 targets need 4 tags but the target group .* has 2 of 50 tags left"):
        store.save(many)
    assert client.calls == ["describe_tags"]


class FakeModule:
    def __init__(self, **params):
        self.params = dict(state="drained", target_group="api", state_file=None, listener_arn=None, forward_to=None,
                           wait=True, wait_timeout=5, wait_sleep=0.0)
        self.params.update(params)
        self.check_mode = False
        self._diff = False
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    def changed_result(self, before, after, **result):
        result["changed"] = before != after
        return result


def stubbed():
    client = boto3.client("elbv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    elb = AwsClient.__new__(AwsClient)
    elb.client, elb.tries, elb.sleeper = client, 4, lambda seconds: None
    return elb, Stubber(client)


def group(**extra):
    return dict(dict(TargetGroupArn=ARN, TargetGroupName="api", VpcId="vpc-1", LoadBalancerArns=["lb"]), **extra)


def health(*pairs):
    return dict(TargetHealthDescriptions=[dict(Target=dict(Id=target_id, Port=80), TargetHealth=dict(State=state))
                                          for target_id, state in pairs])


def waiter(module):
    return Waiter(module, clock=lambda: 0.0, sleeper=lambda seconds: None)


def test_drain_saves_first_then_waits_through_draining_and_retries_throttling():
    elb, stub = stubbed()
    stub.add_response("describe_target_groups", dict(TargetGroups=[group()]))
    stub.add_response("describe_tags", dict(TagDescriptions=[dict(ResourceArn=ARN)]))
    stub.add_response("describe_target_health", health(("i-1", "healthy"), ("i-2", "draining")))
    stub.add_client_error("add_tags", "Throttling", "slow down")
    stub.add_response("add_tags", {})
    stub.add_response("deregister_targets", {}, dict(TargetGroupArn=ARN, Targets=[dict(Id="i-1", Port=80)]))
    stub.add_response("describe_target_health", health(("i-1", "draining"), ("i-2", "draining")))
    stub.add_response("describe_target_health", health(("i-2", "draining")))
    module = FakeModule()
    with stub:
        result = AlbTraffic(module, elb=elb, waiter=waiter(module)).run()
    stub.assert_no_pending_responses()
    assert result["changed"] is True and result["saved_targets"] == [dict(Id="i-1", Port=80)]


def test_restore_registers_the_missing_targets_and_waits_until_healthy():
    elb, stub = stubbed()
    saved = record_tags([dict(Id="i-1", Port=80), dict(Id="i-2", Port=80)])
    stub.add_response("describe_target_groups", dict(TargetGroups=[group()]))
    stub.add_response("describe_tags", dict(TagDescriptions=[dict(ResourceArn=ARN, Tags=[
        dict(Key=k, Value=v) for k, v in saved.items()])]))
    stub.add_response("describe_target_health", health(("i-2", "healthy")))
    stub.add_response("register_targets", {}, dict(TargetGroupArn=ARN, Targets=[dict(Id="i-1", Port=80)]))
    stub.add_response("remove_tags", {}, dict(ResourceArns=[ARN], TagKeys=sorted(saved)))
    stub.add_response("describe_target_health", health(("i-1", "initial"), ("i-2", "healthy")))
    stub.add_response("describe_target_health", health(("i-1", "healthy"), ("i-2", "healthy")))
    module = FakeModule(state="restored")
    with stub:
        result = AlbTraffic(module, elb=elb, waiter=waiter(module)).run()
    stub.assert_no_pending_responses()
    assert result["changed"] is True and result["registered"] == [dict(Id="i-1", Port=80)]


def test_unhealthy_restored_targets_time_out_naming_them():
    elb, stub = stubbed()
    saved = record_tags([dict(Id="i-1", Port=80)])
    stub.add_response("describe_target_groups", dict(TargetGroups=[group()]))
    stub.add_response("describe_tags", dict(TagDescriptions=[dict(ResourceArn=ARN, Tags=[
        dict(Key=k, Value=v) for k, v in saved.items()])]))
    stub.add_response("describe_target_health", health())
    stub.add_response("register_targets", {})
    stub.add_response("remove_tags", {})
    stub.add_response("describe_target_health", health(("i-1", "unhealthy")))
    module = FakeModule(state="restored", wait_timeout=0)
    with stub, pytest.raises(WaitTimeout, match="not yet healthy: i-1=unhealthy"):
        AlbTraffic(module, elb=elb, waiter=waiter(module)).run()
