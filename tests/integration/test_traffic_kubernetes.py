"""rollback.core.traffic on Kubernetes, against the faithful simulator (lab/kubesim).

Stopped means no pod left: the ReplicaSet controller stops counting a pod once it is deleted
(controller_utils.go FilterActivePods skips pods with a deletionTimestamp), so status.replicas is 0
while Terminating pods still hold their database connections for their grace period. The saved count
is the count at the latest stop, kept where `kubectl rollout undo` cannot copy it back, and a resume
never scales a running service down. Most runs are in-process (tests/support/inprocess.py): the same
module code, without an ansible process per run.
"""

import threading
import time

import pytest
import yaml
from support.inprocess import run
from support.keda import KedaOperator, install_crd, remove_crd
from support.kube import DEPLOYMENT, Settings, Simulator

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

SAVED = "rollback.core/replicas-before-stop"


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "traffic", Settings(stop_delay=1.5))  # pods take 1.5 s to end once deleted
    simulator.kubectl("create", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
    simulator.kubectl("scale", "deployment/demo", "--replicas=3")
    wait_for(lambda: available(simulator) == 3, "3 available replicas")
    yield simulator
    simulator.stop()


def kube(sim, state, **extra):
    return dict(dict(platform="kubernetes", name="demo", state=state, kubeconfig=sim.kubeconfig, wait_timeout=30,
                     wait_sleep=0.1), **extra)


def wait_for(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def available(sim):
    return (sim.get("deployment", "demo").get("status") or {}).get("availableReplicas", 0)


def pods(sim):
    return [p["metadata"]["name"] for p in sim.get("pods", "-l", "app=demo")["items"]]


def replicas(sim):
    return sim.get("deployment", "demo")["spec"]["replicas"]


def saved_label(sim):
    return (sim.get("deployment", "demo")["metadata"].get("labels") or {}).get(SAVED)


def test_stop_and_resume_through_ansible(ansible_module, sim):
    """The wiring through an ansible process; the count is kept in a label of the Deployment itself."""
    stopped = ansible_module("traffic", kube(sim, "stopped"), diff=True)
    assert not stopped.failed and stopped.result["changed"] and stopped.result["replicas_before"] == 3, stopped.stdout
    assert stopped.result["saved_replicas"] == 3 and replicas(sim) == 0 and saved_label(sim) == "3"
    assert pods(sim) == [], "stopped means no pod left, Terminating ones included"
    assert sim.get("deployment", "demo")["metadata"]["annotations"]["team"] == "payments", "metadata is kept"
    resumed = ansible_module("traffic", kube(sim, "started"))
    assert not resumed.failed and resumed.result["replicas_after"] == 3, resumed.stdout
    assert saved_label(sim) is None and available(sim) == 3


def test_stop_waits_until_no_pod_is_left_and_a_second_stop_changes_nothing(sim):
    started = time.monotonic()
    stopped = run("traffic", kube(sim, "stopped"))
    assert not stopped["failed"] and stopped["changed"], stopped
    assert pods(sim) == [] and time.monotonic() - started >= 1.4, "the 1.5 s of termination were waited for"
    again = run("traffic", kube(sim, "stopped"))
    assert not again["failed"] and not again["changed"] and again["saved_replicas"] == 3
    check = run("traffic", kube(sim, "started"), check=True)
    assert check["changed"] and replicas(sim) == 0 and saved_label(sim) == "3", "check mode changes nothing"


def test_a_resume_never_scales_a_running_service_down(sim):
    """stop saved 3, then someone scaled it to 6 by hand: started leaves 6, warns, and forgets the stale 3."""
    assert run("traffic", kube(sim, "stopped"))["saved_replicas"] == 3
    sim.kubectl("scale", "deployment/demo", "--replicas=6")
    resumed = run("traffic", kube(sim, "started"))
    assert not resumed["failed"] and resumed["replicas_after"] == 6 and replicas(sim) == 6, resumed
    assert any("more than the 3 to resume with: left as it is" in w for w in resumed["warnings"]), resumed
    assert saved_label(sim) is None


def test_the_saved_count_is_the_count_at_the_latest_stop(sim):
    """A stale saved count (left by an interrupted run) never wins over the count at the stop."""
    sim.kubectl("label", "deployment/demo", SAVED + "=3")
    sim.kubectl("scale", "deployment/demo", "--replicas=6")
    stopped = run("traffic", kube(sim, "stopped"))
    assert stopped["saved_replicas"] == 6 and saved_label(sim) == "6", stopped
    assert run("traffic", kube(sim, "started"))["replicas_after"] == 6


def test_undo_between_stop_and_resume_and_a_later_kubectl_undo_cannot_bring_a_stale_count_back(sim):
    """stop, rollout_undo, resume, then a plain `kubectl rollout undo`: kubectl copies the ReplicaSet's annotations
    to the Deployment (rollback.go DeploymentRollbacker) and the controller copies the Deployment's annotations to its
    ReplicaSets (CopyDeploymentAnnotationsToReplicaSet). A count kept in an annotation came back, stale; in a label
    it cannot."""
    sim.kubectl("set", "image", "deployment/demo", "web=rollback-demo:1.0.1")
    wait_for(lambda: sim.image() == "rollback-demo:1.0.1" and available(sim) == 3, "1.0.1 rolled out")
    assert run("traffic", kube(sim, "stopped"))["saved_replicas"] == 3
    undo = run("rollout_undo", dict(platform="kubernetes", name="demo", kubeconfig=sim.kubeconfig, wait_timeout=30,
                                    wait_sleep=0.1))
    assert not undo["failed"] and undo["to_version"] == "rollback-demo:1.0.0", undo
    assert saved_label(sim) == "3", "the undo keeps the saved count"
    assert run("traffic", kube(sim, "started"))["replicas_after"] == 3
    sim.kubectl("rollout", "undo", "deployment/demo")
    rs_annotations = [rs["metadata"].get("annotations") or {} for rs in sim.get("replicasets")["items"]]
    assert not any(SAVED in a for a in rs_annotations), "nothing for kubectl to copy back"
    assert saved_label(sim) is None and SAVED not in (sim.get("deployment", "demo")["metadata"].get("annotations")
                                                      or {})
    sim.kubectl("scale", "deployment/demo", "--replicas=5")
    assert run("traffic", kube(sim, "stopped"))["saved_replicas"] == 5
    assert run("traffic", kube(sim, "started"))["replicas_after"] == 5


def test_state_file_keeps_the_count_when_the_label_is_lost(sim, tmp_path):
    state = str(tmp_path / "traffic-state.json")
    assert run("traffic", kube(sim, "stopped", state_file=state))["saved_replicas"] == 3
    sim.kubectl("label", "deployment/demo", SAVED + "-")  # e.g. a kubectl replace from a manifest
    refused = run("traffic", kube(sim, "started"))
    assert refused["failed"] and "has no saved replica count" in refused["msg"] and replicas(sim) == 0
    resumed = run("traffic", kube(sim, "started", state_file=state))
    assert not resumed["failed"] and resumed["replicas_after"] == 3, resumed
    with open(state) as handle:
        assert yaml.safe_load(handle) == {"kubernetes": {}}, "the entry is removed once resumed"


def test_resume_without_a_saved_count_is_refused(sim):
    sim.kubectl("scale", "deployment/demo", "--replicas=0")
    refused = run("traffic", kube(sim, "started"))
    assert refused["failed"] and "has no saved replica count" in refused["msg"] and "give replicas" in refused["msg"]
    assert replicas(sim) == 0
    assert run("traffic", kube(sim, "started", replicas=2))["replicas_after"] == 2


def test_an_hpa_stops_acting_at_zero_and_the_stop_is_checked_after_the_wait(sim):
    """horizontal.go reconcileAutoscaler: a target at 0 replicas with minReplicas > 0 is left at 0."""
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "demo"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo"},
                    "minReplicas": 2, "maxReplicas": 5,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": 80}}}]}}
    sim.kubectl("create", "-f", "-", stdin=yaml.safe_dump(hpa))
    stopped = run("traffic", kube(sim, "stopped"))
    assert not stopped["failed"] and stopped["autoscalers"] == ["HorizontalPodAutoscaler demo (minReplicas 2)"]
    time.sleep(2.5)  # two HPA periods of the simulator (hpa_interval 1 s)
    assert replicas(sim) == 0 and pods(sim) == []
    reasons = [c.get("reason") for c in sim.get("hpa", "demo")["status"]["conditions"]]
    assert "ScalingDisabled" in reasons
    assert run("traffic", kube(sim, "started"))["replicas_after"] == 3


def test_a_stop_that_something_scales_back_fails_and_says_so(sim):
    """An actor (a GitOps controller, an autoscaler the module does not know) scales it back during the wait."""
    done = threading.Event()

    def scale_back():
        while not done.is_set():
            if replicas(sim) == 0:
                sim.kubectl("scale", "deployment/demo", "--replicas=2")
                return
            time.sleep(0.05)

    actor = threading.Thread(target=scale_back, daemon=True)
    actor.start()
    try:
        stopped = run("traffic", kube(sim, "stopped"))
    finally:
        done.set()
        actor.join()
    assert stopped["failed"], stopped
    assert "deployment default/demo was scaled back to 2 replica(s) while stopping" in stopped["msg"], stopped["msg"]


@pytest.fixture
def keda(sim):
    """The ScaledObject CRD and a stand-in KEDA operator (tests/support/keda.py, modelled on kedacore/keda)."""
    install_crd()
    operator = KedaOperator(sim).start()
    scaled_object = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "demo"},
                     "spec": {"scaleTargetRef": {"name": "demo"}, "minReplicaCount": 0, "maxReplicaCount": 10,
                              "triggers": [{"type": "prometheus", "metadata": {"query": "sum(rate(http_requests[1m]))",
                                                                               "threshold": "10"}}]}}
    operator._api("POST", "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects", scaled_object)
    wait_for(lambda: operator._api("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/"
                                          "keda-hpa-demo") is not None, "KEDA's HPA")
    yield operator
    operator.stop()
    remove_crd()


def test_keda_is_paused_while_stopped_and_resumed_after(sim, keda):
    """Without the pause, KEDA's active trigger scales a target at 0 straight back (scale from zero)."""
    sim.kubectl("scale", "deployment/demo", "--replicas=0")
    wait_for(lambda: replicas(sim) == 1, "KEDA scaling the service back from zero")
    sim.kubectl("scale", "deployment/demo", "--replicas=3")
    stopped = run("traffic", kube(sim, "stopped"))
    assert not stopped["failed"] and stopped["autoscalers"] == ["KEDA ScaledObject demo"], stopped
    annotations = keda._api("GET", "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects/demo")["metadata"][
        "annotations"]
    assert annotations == {"autoscaling.keda.sh/paused-replicas": "0",
                           "rollback.core/paused-by-traffic": "default/Deployment/demo"}
    time.sleep(1)  # five passes of the operator
    assert replicas(sim) == 0 and pods(sim) == [], "paused: nothing scaled it back"
    resumed = run("traffic", kube(sim, "started"))
    assert not resumed["failed"] and resumed["replicas_after"] == 3, resumed
    scaled_object = keda._api("GET", "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects/demo")
    assert not (scaled_object["metadata"].get("annotations") or {}), "unpaused"
    wait_for(lambda: keda._api("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/"
                                      "keda-hpa-demo") is not None, "KEDA's HPA back")
    assert replicas(sim) == 3
