"""alb_traffic through Ansible against the lab's moto server.

moto models registration, deregistration, target health (every target is 'healthy' at once, deregistered targets
vanish at once: no draining delay), listeners and target-group tags (at most 10 per resource, not AWS's 50).
"""

import json
import uuid

import pytest
from support.aws import AuthenticatingMoto, client, module_args

from ansible_collections.rollback.core.plugins.module_utils.elb import SAVED_TARGETS_TAG, TAG_TEXT, TAG_VALUE_MAX


@pytest.fixture
def ec2(lab):
    return client(lab, "ec2")


@pytest.fixture
def elb(lab):
    return client(lab, "elbv2")


def make_vpc(ec2, cidr):
    vpc = ec2.create_vpc(CidrBlock=cidr + ".0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="%s.%d.0/24" % (cidr, index + 1),
                                 AvailabilityZone="us-east-1" + zone)["Subnet"]["SubnetId"]
               for index, zone in enumerate("ab")]
    return vpc, subnets


def remove_vpc(ec2, elb, vpc):
    for balancer in elb.describe_load_balancers()["LoadBalancers"]:
        if balancer.get("VpcId") == vpc:
            for listener in elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]:
                elb.delete_listener(ListenerArn=listener["ListenerArn"])
            elb.delete_load_balancer(LoadBalancerArn=balancer["LoadBalancerArn"])
    for group in elb.describe_target_groups()["TargetGroups"]:
        if group.get("VpcId") == vpc:
            elb.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
    instances = [instance["InstanceId"] for reservation in ec2.describe_instances(
        Filters=[dict(Name="vpc-id", Values=[vpc])])["Reservations"] for instance in reservation["Instances"]]
    if instances:
        ec2.terminate_instances(InstanceIds=instances)
    for subnet in ec2.describe_subnets(Filters=[dict(Name="vpc-id", Values=[vpc])])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc)


@pytest.fixture
def alb(ec2, elb):
    """An ALB with a listener forwarding to 'blue' (two instances) and a standby 'green' (two IPs)."""
    suffix = uuid.uuid4().hex[:8]
    vpc, subnets = make_vpc(ec2, "10.91")
    try:
        instances = [instance["InstanceId"] for instance in ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=2, MaxCount=2, SubnetId=subnets[0])["Instances"]]
        balancer = elb.create_load_balancer(Name="rb-" + suffix, Subnets=subnets)["LoadBalancers"][0]
        blue = elb.create_target_group(Name="blue-" + suffix, Protocol="HTTP", Port=8080, VpcId=vpc,
                                       TargetType="instance")["TargetGroups"][0]
        green = elb.create_target_group(Name="green-" + suffix, Protocol="HTTP", Port=8080, VpcId=vpc,
                                        TargetType="ip")["TargetGroups"][0]
        blue_targets = [dict(Id=instances[0], Port=8080), dict(Id=instances[1], Port=8081)]
        green_targets = [dict(Id="10.91.1.10", Port=8080), dict(Id="10.91.2.11", Port=9090)]
        elb.register_targets(TargetGroupArn=blue["TargetGroupArn"], Targets=blue_targets)
        elb.register_targets(TargetGroupArn=green["TargetGroupArn"], Targets=green_targets)
        listener = elb.create_listener(LoadBalancerArn=balancer["LoadBalancerArn"], Protocol="HTTP", Port=80,
                                       DefaultActions=[dict(Type="forward", TargetGroupArn=blue["TargetGroupArn"])]
                                       )["Listeners"][0]
        yield dict(vpc=vpc, subnets=subnets, suffix=suffix, blue=blue, green=green, listener=listener,
                   blue_targets=blue_targets, green_targets=green_targets)
    finally:
        remove_vpc(ec2, elb, vpc)


def targets(elb, group):
    return sorted((d["Target"]["Id"], d["Target"].get("Port")) for d in elb.describe_target_health(
        TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"])


def keyed(target_list):
    return sorted((target["Id"], target.get("Port")) for target in target_list)


def tags(elb, group):
    found = elb.describe_tags(ResourceArns=[group["TargetGroupArn"]])["TagDescriptions"][0]["Tags"]
    return dict((tag["Key"], tag["Value"]) for tag in found)


def diff_text(run):
    """The --diff output the minimal callback prints before the result."""
    return run.stdout.split("localhost | ")[0]


def forwarded(elb, alb):
    listener = elb.describe_listeners(ListenerArns=[alb["listener"]["ListenerArn"]])["Listeners"][0]
    return [action.get("TargetGroupArn") for action in listener["DefaultActions"]]


def test_drain_saves_in_tags_and_restore_registers_exactly_that_set(ansible_module, lab, elb, alb):
    blue = alb["blue"]
    check = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="drained"),
                           check=True, diff=True)
    assert not check.failed and check.result["changed"] is True, check.stdout
    diff = diff_text(check)
    assert '-    "saved": null' in diff and '+    "saved": [' in diff and '+    "registered": [],' in diff, diff
    assert targets(elb, blue) == keyed(alb["blue_targets"]) and tags(elb, blue) == {}

    drain = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="drained"),
                           diff=True)
    assert not drain.failed and drain.result["changed"] is True, drain.stdout
    assert targets(elb, blue) == []
    saved = tags(elb, blue)
    assert saved[SAVED_TARGETS_TAG].startswith("tags=1 targets=2 saved=")
    assert sorted(saved[SAVED_TARGETS_TAG + "/1"].split(" ")) == sorted(
        "%s=%d" % (t["Id"], t["Port"]) for t in alb["blue_targets"])
    assert all(TAG_TEXT.match(value) and len(value) <= TAG_VALUE_MAX for value in saved.values())
    assert keyed(drain.result["saved_targets"]) == keyed(alb["blue_targets"])
    assert drain.result["saved_in"].startswith("tags ")
    assert targets(elb, alb["green"]) == keyed(alb["green_targets"])

    again = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupArn"], state="drained"))
    assert not again.failed and again.result["changed"] is False
    assert tags(elb, blue) == saved

    check = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="restored"),
                           check=True)
    assert check.result["changed"] is True and keyed(check.result["registered"]) == keyed(alb["blue_targets"])
    assert targets(elb, blue) == [] and tags(elb, blue) == saved

    restore = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="restored"),
                             diff=True)
    assert not restore.failed and restore.result["changed"] is True, restore.stdout
    assert targets(elb, blue) == keyed(alb["blue_targets"])
    assert tags(elb, blue) == {}
    assert '+    "saved": null' in diff_text(restore)

    again = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="restored"))
    assert not again.failed and again.result["changed"] is False
    assert targets(elb, blue) == keyed(alb["blue_targets"])


def test_targets_registered_during_the_incident_join_the_saved_record(ansible_module, lab, elb, alb):
    green = alb["green"]
    assert not ansible_module("alb_traffic", module_args(lab, target_group=green["TargetGroupName"],
                                                         state="drained")).failed
    elb.register_targets(TargetGroupArn=green["TargetGroupArn"], Targets=[dict(Id="10.91.1.99", Port=7070)])
    second = ansible_module("alb_traffic", module_args(lab, target_group=green["TargetGroupName"], state="drained"))
    assert not second.failed and second.result["changed"] is True
    assert targets(elb, green) == []
    restore = ansible_module("alb_traffic", module_args(lab, target_group=green["TargetGroupName"], state="restored"))
    assert not restore.failed, restore.stdout
    assert targets(elb, green) == sorted(keyed(alb["green_targets"]) + [("10.91.1.99", 7070)])


def test_a_large_group_is_saved_over_several_tags(ansible_module, lab, elb, alb):
    green = alb["green"]
    many = [dict(Id="10.91.%d.%d" % (1 + index % 2, 20 + index), Port=8000 + index) for index in range(60)]
    elb.register_targets(TargetGroupArn=green["TargetGroupArn"], Targets=many)
    expected = sorted(keyed(alb["green_targets"] + many))
    drain = ansible_module("alb_traffic", module_args(lab, target_group=green["TargetGroupName"], state="drained"))
    assert not drain.failed, drain.stdout
    saved = tags(elb, green)
    assert len(saved) >= 4 and saved[SAVED_TARGETS_TAG].startswith("tags=%d targets=62 " % (len(saved) - 1))
    assert all(len(value) <= TAG_VALUE_MAX for value in saved.values())
    restore = ansible_module("alb_traffic", module_args(lab, target_group=green["TargetGroupName"], state="restored"))
    assert not restore.failed, restore.stdout
    assert targets(elb, green) == expected and tags(elb, green) == {}


def test_state_file_keeps_the_record_on_disk(ansible_module, lab, elb, alb, tmp_path):
    blue, state_file = alb["blue"], str(tmp_path / "blue-targets.json")
    drain = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="drained",
                                                      state_file=state_file))
    assert not drain.failed and drain.result["saved_in"] == state_file, drain.stdout
    with open(state_file) as handle:
        record = json.load(handle)
    assert record["target_group_arn"] == blue["TargetGroupArn"]
    assert keyed(record["targets"]) == keyed(alb["blue_targets"])
    assert tags(elb, blue) == {} and targets(elb, blue) == []

    wrong = ansible_module("alb_traffic", module_args(lab, target_group=alb["green"]["TargetGroupName"],
                                                      state="restored", state_file=state_file))
    assert wrong.failed and wrong.result["msg"] == "state_file %s holds the targets of %s, not of %s" % (
        state_file, blue["TargetGroupArn"], alb["green"]["TargetGroupArn"])
    assert targets(elb, alb["green"]) == keyed(alb["green_targets"])

    restore = ansible_module("alb_traffic", module_args(lab, target_group=blue["TargetGroupName"], state="restored",
                                                        state_file=state_file))
    assert not restore.failed and restore.result["changed"] is True, restore.stdout
    assert targets(elb, blue) == keyed(alb["blue_targets"])
    assert not (tmp_path / "blue-targets.json").exists()


def test_no_room_for_tags_fails_before_deregistering(ansible_module, lab, elb, alb):
    green = alb["green"]
    # moto allows 10 tags per resource (AWS: 50); a full group cannot take the record.
    elb.add_tags(ResourceArns=[green["TargetGroupArn"]], Tags=[dict(Key="team%d" % i, Value="x") for i in range(10)])
    run = ansible_module("alb_traffic", module_args(lab, target_group=green["TargetGroupName"], state="drained"))
    assert run.failed and run.result["msg"].startswith("no room to save the targets in tags of "), run.result
    assert run.result["msg"].endswith("give state_file")
    assert targets(elb, green) == keyed(alb["green_targets"])
    assert sorted(tags(elb, green)) == sorted("team%d" % i for i in range(10))


def test_blue_green_switch_moves_the_listener_only(ansible_module, lab, elb, alb):
    blue, green = alb["blue"], alb["green"]
    check = ansible_module("alb_traffic", module_args(lab, listener_arn=alb["listener"]["ListenerArn"],
                                                      forward_to=green["TargetGroupName"]), check=True, diff=True)
    assert not check.failed and check.result["changed"] is True, check.stdout
    diff = diff_text(check)
    assert '-            "%s"' % blue["TargetGroupName"] in diff, diff
    assert '+            "%s"' % green["TargetGroupName"] in diff, diff
    assert forwarded(elb, alb) == [blue["TargetGroupArn"]]

    switch = ansible_module("alb_traffic", module_args(lab, listener_arn=alb["listener"]["ListenerArn"],
                                                       forward_to=green["TargetGroupName"]))
    assert not switch.failed and switch.result["changed"] is True, switch.stdout
    assert forwarded(elb, alb) == [green["TargetGroupArn"]]
    assert [entry["name"] for entry in switch.result["live_before"]] == [blue["TargetGroupName"]]
    assert [entry["arn"] for entry in switch.result["live_after"]] == [green["TargetGroupArn"]]
    assert targets(elb, blue) == keyed(alb["blue_targets"]) and targets(elb, green) == keyed(alb["green_targets"])

    again = ansible_module("alb_traffic", module_args(lab, listener_arn=alb["listener"]["ListenerArn"],
                                                      forward_to=green["TargetGroupArn"]))
    assert not again.failed and again.result["changed"] is False

    back = ansible_module("alb_traffic", module_args(lab, listener_arn=alb["listener"]["ListenerArn"],
                                                     forward_to=blue["TargetGroupArn"]))
    assert not back.failed and back.result["changed"] is True
    assert forwarded(elb, alb) == [blue["TargetGroupArn"]]


@pytest.fixture
def other_vpc_group(ec2, elb, alb):
    vpc, _subnets = make_vpc(ec2, "10.92")
    group = elb.create_target_group(Name="other-" + alb["suffix"], Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="ip")["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[dict(Id="10.92.1.5", Port=80)])
    yield group
    remove_vpc(ec2, elb, vpc)


def alb_state(lab, groups, listener):
    """The load balancer as a call left it (module_batch.py records it after each call): each target group's
    targets and tags, and where the listener forwards. JSON's lists, as the record has them."""
    elb = client(lab, "elbv2")
    found = [dict(group=arn, targets=[list(target) for target in targets(elb, dict(TargetGroupArn=arn))],
                  tags=tags(elb, dict(TargetGroupArn=arn))) for arn in groups]
    return dict(groups=found, forwarded=forwarded(elb, dict(listener=dict(ListenerArn=listener))))


def test_bad_input_changes_nothing(module_batch, lab, elb, alb, other_vpc_group):
    blue, green, listener = alb["blue"], alb["green"], alb["listener"]["ListenerArn"]
    empty = elb.create_target_group(Name="empty-" + alb["suffix"], Protocol="HTTP", Port=80, VpcId=alb["vpc"],
                                    TargetType="ip")["TargetGroups"][0]
    cases = [
        (dict(target_group="nope-" + alb["suffix"], state="drained"),
         "target_group: target group nope-%s not found" % alb["suffix"]),
        (dict(target_group=blue["TargetGroupArn"] + "0", state="drained"), "target_group: target group "),
        (dict(target_group=empty["TargetGroupName"], state="restored"),
         "target group %s has no saved targets (tags %s/* on %s) and none registered: nothing to restore"
         % (empty["TargetGroupName"], SAVED_TARGETS_TAG, empty["TargetGroupName"])),
        (dict(listener_arn=listener + "0", forward_to=green["TargetGroupName"]), "listener %s0 not found" % listener),
        (dict(listener_arn=listener, forward_to="nope-" + alb["suffix"]),
         "forward_to: target group nope-%s not found" % alb["suffix"]),
        (dict(listener_arn=listener, forward_to=empty["TargetGroupName"]),
         "forward_to: target group %s has no registered targets: switching would take the listener down"
         % empty["TargetGroupName"]),
        (dict(listener_arn=listener, forward_to=other_vpc_group["TargetGroupName"]),
         "forward_to: target group %s is in %s, the load balancer in %s"
         % (other_vpc_group["TargetGroupName"], other_vpc_group["VpcId"], alb["vpc"])),
        (dict(forward_to=green["TargetGroupName"]), "parameters are required together: listener_arn, forward_to"),
        (dict(state="drained"), "state is drained but all of the following are missing: target_group"),
        (dict(target_group=blue["TargetGroupName"], state="drained", access_key="AKIA"),
         "access_key and secret_key must be given together"),
    ]
    calls = []
    for extra, _message in cases:
        arguments = module_args(lab, **extra)
        if extra.get("access_key"):
            arguments.pop("secret_key")
        calls.append(("alb_traffic", arguments))
    observed = dict(groups=[group["TargetGroupArn"] for group in (blue, green, empty, other_vpc_group)],
                    listener=listener)
    untouched = alb_state(lab, **observed)
    runs = module_batch(calls, state=(alb_state, observed))
    for (extra, message), run in zip(cases, runs):
        assert run.failed and message in run.result["msg"], (extra, run.result.get("msg"))
        assert "\n" not in run.result["msg"]
        assert run.state == untouched, extra  # each case alone: nothing drained, tagged or switched
    assert targets(elb, blue) == keyed(alb["blue_targets"]) and targets(elb, green) == keyed(alb["green_targets"])
    assert tags(elb, blue) == {} and tags(elb, green) == {} and targets(elb, empty) == []
    assert forwarded(elb, alb) == [blue["TargetGroupArn"]]


def test_wrong_credentials_are_one_line(ansible_module, lab):
    server = AuthenticatingMoto()
    try:
        run = ansible_module("alb_traffic", module_args(lab, endpoint_url=server.endpoint, access_key="AKIAWRONG",
                                                        secret_key="wrong", target_group="api", state="drained"))
    finally:
        server.stop()
    assert run.failed
    assert run.result["msg"] == ("describe_target_groups failed: InvalidClientTokenId: The security token included "
                                 "in the request is invalid.")
