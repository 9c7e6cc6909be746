"""rollback.core.traffic: Kubernetes (simulator), the lab's real Compose project, a real unit file."""

import json
import os
import time
import urllib.error
import urllib.request

import pytest
import yaml
from support.kube import DEPLOYMENT, Simulator

SAVED = "rollback.core/replicas-before-stop"


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "traffic")
    simulator.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
    simulator.kubectl("patch", "deployment/demo", "-p", '{"spec": {"replicas": 3}}')
    yield simulator
    simulator.stop()


def kube(sim, state, **extra):
    return dict(dict(platform="kubernetes", name="demo", state=state, kubeconfig=sim.kubeconfig, wait_timeout=10,
                     wait_sleep=0.1), **extra)


def test_kubernetes_stop_saves_the_count_and_resume_restores_it(ansible_module, sim):
    stopped = ansible_module("traffic", kube(sim, "stopped"), diff=True)
    assert stopped.result["changed"] and stopped.result["replicas_before"] == 3, stopped.stdout
    deployment = sim.get("deployment", "demo")
    assert deployment["spec"]["replicas"] == 0 and deployment["metadata"]["annotations"][SAVED] == "3"
    assert deployment["metadata"]["annotations"]["team"] == "payments", "other annotations are kept"
    again = ansible_module("traffic", kube(sim, "stopped"))
    assert not again.failed and not again.result["changed"], "a second stop keeps the saved count"

    check = ansible_module("traffic", kube(sim, "started"), check=True)
    assert check.result["changed"] and sim.get("deployment", "demo")["spec"]["replicas"] == 0

    resumed = ansible_module("traffic", kube(sim, "started"))
    assert resumed.result["changed"] and resumed.result["replicas_after"] == 3, resumed.stdout
    deployment = sim.get("deployment", "demo")
    assert deployment["spec"]["replicas"] == 3 and SAVED not in (deployment["metadata"].get("annotations") or {})
    assert deployment["status"]["availableReplicas"] == 3


def test_kubernetes_undo_between_stop_and_resume_keeps_the_saved_count(ansible_module, sim):
    sim.kubectl("set", "image", "deployment/demo", "web=rollback-demo:1.0.1")
    assert ansible_module("traffic", kube(sim, "stopped")).result["changed"]
    undo = ansible_module("rollout_undo", dict(platform="kubernetes", name="demo", kubeconfig=sim.kubeconfig,
                                               wait_timeout=10, wait_sleep=0.1))
    assert undo.result["changed"], undo.stdout
    assert sim.get("deployment", "demo")["metadata"]["annotations"][SAVED] == "3"
    assert ansible_module("traffic", kube(sim, "started")).result["replicas_after"] == 3
    assert sim.image() == "rollback-demo:1.0.0"


def test_kubernetes_resume_without_a_saved_count_is_refused(ansible_module, sim):
    sim.kubectl("patch", "deployment/demo", "-p", '{"spec": {"replicas": 0}}')
    run = ansible_module("traffic", kube(sim, "started"))
    assert run.failed and "has no saved replica count" in run.result["msg"] and "give replicas" in run.result["msg"]
    assert sim.get("deployment", "demo")["spec"]["replicas"] == 0
    assert ansible_module("traffic", kube(sim, "started", replicas=2)).result["replicas_after"] == 2


def test_kubernetes_missing_deployment_fails_with_nothing_changed(ansible_module, sim):
    run = ansible_module("traffic", kube(sim, "stopped", name="nope"))
    assert run.failed and "deployment default/nope" in run.result["msg"] and "404" in run.result["msg"]
    assert sim.get("deployment", "demo")["spec"]["replicas"] == 3


def health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/health" % port, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_compose_stop_and_start(ansible_module, lab, lab_env):
    args = dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"], services=["web"])
    stopped = ansible_module("traffic", dict(args, state="stopped"))
    try:
        assert stopped.result["changed"], stopped.stdout
        assert health(lab["LAB_COMPOSE_PORT"]) is None
        assert not ansible_module("traffic", dict(args, state="stopped")).result["changed"]
    finally:
        started = ansible_module("traffic", dict(args, state="started"))
    assert started.result["changed"], started.stdout
    deadline = time.monotonic() + 20
    while health(lab["LAB_COMPOSE_PORT"]) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert health(lab["LAB_COMPOSE_PORT"]) is not None


def test_compose_unknown_service_fails_before_any_change(ansible_module, lab):
    run = ansible_module("traffic", dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"],
                                         services=["nope"], state="stopped"))
    assert run.failed and "service(s) nope not in compose project demo" in run.result["msg"]
    assert health(lab["LAB_COMPOSE_PORT"]) is not None


def test_server_maintenance_flag_and_units(ansible_module, lab, lab_env, tmp_path):
    env = {"PATH": lab["LAB_BIN"] + os.pathsep + lab_env["PATH"]}
    flag = str(tmp_path / "maintenance.json")
    args = dict(platform="server", name="demo", units=[lab["LAB_SERVER_UNIT"]], maintenance_file=flag,
                reason="database restore", wait_timeout=30, wait_sleep=0.2)
    stopped = ansible_module("traffic", dict(args, state="stopped"), env=env, diff=True)
    try:
        assert stopped.result["changed"], stopped.stdout
        with open(flag) as handle:
            assert json.load(handle)["reason"] == "database restore"
        assert health(lab["LAB_SERVER_PORT"]) is None
    finally:
        started = ansible_module("traffic", dict(args, state="started"), env=env)
    assert started.result["changed"], started.stdout
    assert not os.path.exists(flag)
    assert health(lab["LAB_SERVER_PORT"]) is not None
    assert not ansible_module("traffic", dict(args, state="started"), env=env).result["changed"]


def test_server_needs_a_flag_or_units(ansible_module):
    run = ansible_module("traffic", dict(platform="server", name="demo", state="stopped"))
    assert run.failed and "needs maintenance_file or units" in run.result["msg"]
