"""rollback.core.traffic_calls: the traffic phase stops or resumes every way of a service in one task
(rollback.core.target_module's calls), each way with exactly the arguments its own task gave its module before
(roles/traffic/tasks/{alb,nginx,platform}.yml before this change: the dict's keys the module takes as
module_defaults, then the state, the reason, the wait and, for a resumed blue/green front, the expected version)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rollback.core.plugins.action.target_module import CALL, MODULES
from ansible_collections.rollback.core.plugins.filter.options import host_modules, traffic_calls

ALB = dict(target_group="arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/demo/1", region="eu-west-1")
NGINX = dict(conf_file="/etc/nginx/demo.conf", verify_url="http://127.0.0.1:8080/version")
KUBE = dict(kubeconfig="/k", namespace="shop", releases_dir="/opt/releases")


def modules(calls):
    return [c["module"].rsplit(".", 1)[1] for c in calls]


def test_a_stop_goes_alb_nginx_platform_and_a_resume_starts_with_the_platform():
    options = dict(alb=ALB, nginx=NGINX)
    stop = traffic_calls(options, "kubernetes", "demo", KUBE, "stopped", "why", 60)
    start = traffic_calls(options, "kubernetes", "demo", KUBE, "started", "why", 60)
    assert modules(stop) == ["alb_traffic", "nginx_traffic", "traffic"]
    assert modules(start) == ["traffic", "alb_traffic", "nginx_traffic"]
    assert [c["result"] for c in stop] == [dict(way="alb"), dict(way="nginx"), dict(way="platform")]
    assert [c["args"]["state"] for c in stop] == ["drained", "maintenance", "stopped"]
    assert [c["args"]["state"] for c in start] == ["started", "restored", "live"]
    assert all(set(c) == set(CALL) and c["module"] in MODULES for c in stop + start)


def test_each_module_gets_the_keys_it_takes_and_the_phase_s_state_reason_and_wait():
    alb, nginx, platform = traffic_calls(dict(alb=ALB, nginx=NGINX), "kubernetes", "demo", KUBE, "stopped", "why", 60)
    assert alb["args"] == dict(ALB, state="drained", wait_timeout=60)
    assert nginx["args"] == dict(NGINX, state="maintenance", reason="why", wait_timeout=60)
    # the connection's keys the traffic module takes (releases_dir is rollout_undo's), the service's name
    assert platform["args"] == dict(kubeconfig="/k", namespace="shop", platform="kubernetes", name="demo",
                                    state="stopped", reason="why", wait_timeout=60)


def test_the_platform_keeps_the_name_of_the_connection_or_options():
    (call,) = traffic_calls({}, "swarm", "demo-swarm", dict(name="shop_web"), "stopped", "why", 60)
    assert call["args"]["name"] == "shop_web"
    (call,) = traffic_calls(dict(name="web"), "compose", "demo", dict(name="shop_web"), "stopped", "why", 60)
    assert call["args"]["name"] == "web", "the traffic options win over the connection"


def test_a_blue_green_front_is_its_own_connection_and_checks_its_version_only_when_resumed():
    connection = dict(NGINX, active_color="blue")
    (stop,) = traffic_calls({}, "bluegreen", "demo-bg", connection, "stopped", "why", 60, "1.0.0")
    (start,) = traffic_calls({}, "bluegreen", "demo-bg", connection, "started", "why", 60, "1.0.0")
    assert stop["module"] == "rollback.core.nginx_traffic" and "expected_version" not in stop["args"]
    assert start["args"] == dict(NGINX, state="live", reason="why", wait_timeout=60, expected_version="1.0.0")
    (start,) = traffic_calls({}, "bluegreen", "demo-bg", connection, "started", "why", 60, "")
    assert "expected_version" not in start["args"]


def test_a_blue_green_service_behind_an_alb_has_no_nginx_front_to_stop():
    # inventories/production's "web": switched at its ALB listener, no nginx conf_file. nginx_traffic requires
    # conf_file (its DOCUMENTATION), so an nginx call here failed after the target group was drained.
    connection = dict(listener_arn="arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/web/1/2", region="eu-west-1")
    stop = traffic_calls(dict(alb=ALB), "bluegreen", "web", connection, "stopped", "why", 60)
    assert modules(stop) == ["alb_traffic"]
    assert traffic_calls({}, "bluegreen", "web", connection, "stopped", "why", 60) == [], \
        "only the maintenance endpoint, once per batch, is left for it"


@pytest.mark.parametrize("options, target, connection", [
    (dict(alb=ALB, nginx=NGINX), "kubernetes", KUBE),
    ({}, "bluegreen", dict(NGINX, active_color="blue")),
    (dict(alb=ALB), "bluegreen", dict(listener_arn="arn:l")),
    ({}, "swarm", {}),
    (dict(nginx=NGINX), "frontend", {}),
    ({}, "frontend", {}),
])
def test_preflight_checks_the_libraries_of_exactly_the_modules_the_traffic_phase_calls(options, target, connection):
    run = {"phases": [{"name": "traffic_stop"}], "services": [], "databases": [], "traffic": ["svc"]}
    checked = host_modules({"inventory_hostname": "svc", "rollback_service_target": target,
                            "rollback_service_connection": connection, "rollback_service_traffic": options}, run)
    called = modules(traffic_calls(options, target, "svc", connection, "stopped", "why", 60))
    assert {name.split(":")[0] for name in checked} == set(called)


def test_a_service_without_a_way_has_no_call():
    assert traffic_calls({}, "frontend", "site", {}, "stopped", "why", 60) == []
    assert traffic_calls(None, "frontend", "site", None, "started", "why", 60) == []


def test_a_state_other_than_stopped_or_started_is_refused():
    with pytest.raises(AnsibleFilterError, match="state must be stopped or started, got drained"):
        traffic_calls({}, "kubernetes", "demo", KUBE, "drained", "why", 60)
