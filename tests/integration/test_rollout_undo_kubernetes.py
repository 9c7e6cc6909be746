"""rollout_undo on Kubernetes against the API simulator (lab/kubesim), and its fidelity to kubectl.

No Kubernetes API server can run here; lab/kubesim serves the API the client and
kubectl use, with a Deployment controller. The fidelity test gives two
simulators the same history, undoes one with `kubectl rollout undo` and the
other with the module, and compares the Deployments and ReplicaSets.
"""

import pytest
import yaml
from support.kube import Simulator, pruned

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "a")
    yield simulator
    simulator.stop()


def undo_args(sim, **extra):
    return dict(dict(platform="kubernetes", name="demo", kubeconfig=sim.kubeconfig, wait_timeout=10, wait_sleep=0.1),
                **extra)


def comparable(sim):
    """What a real API server would store. kubectl sends Go's zero values (resources: {}, creationTimestamp:
    null) where the Python client sends nothing; the real server's defaulting makes them equal, so both
    sides are compared without null and empty fields."""
    deployment = pruned(sim.get("deployment", "demo"))
    replicasets = sim.get("replicasets")["items"]
    # The module's undo record (rollback.core/undo, test_rollout_undo_rerun.py) is the one difference it makes.
    annotations = dict((k, v) for k, v in (deployment["metadata"].get("annotations") or {}).items()
                       if k != "rollback.core/undo")
    return {
        "template": deployment["spec"]["template"],
        "annotations": annotations,
        "replicasets": sorted((rs["metadata"]["name"], rs["metadata"]["annotations"].get(
            "deployment.kubernetes.io/revision"), rs["spec"]["replicas"]) for rs in replicasets),
    }


def test_same_result_as_kubectl_rollout_undo(ansible_module, tmp_path):
    by_kubectl, by_module = Simulator(tmp_path, "kubectl"), Simulator(tmp_path, "module")
    try:
        for simulator in (by_kubectl, by_module):
            simulator.history("rollback-demo:1.0.1", "rollback-demo:1.0.2")
            simulator.settle()
        by_kubectl.kubectl("rollout", "undo", "deployment/demo")
        by_kubectl.settle()
        run = ansible_module("rollout_undo", undo_args(by_module))
        assert not run.failed, run.stdout
        assert comparable(by_module) == comparable(by_kubectl)
        assert by_module.image() == "rollback-demo:1.0.1"
        by_kubectl.kubectl("rollout", "undo", "deployment/demo", "--to-revision=1")
        by_kubectl.settle()
        run = ansible_module("rollout_undo", undo_args(by_module, to_revision=1))
        assert not run.failed, run.stdout
        assert comparable(by_module) == comparable(by_kubectl)
    finally:
        by_kubectl.stop()
        by_module.stop()


def test_undo_ignores_a_matching_replicaset_it_does_not_own(ansible_module, sim):
    """A ReplicaSet matching demo's selector but controlled by another Deployment (two Deployments sharing a
    label key). An orphan would be adopted by the Deployment controller (controller_ref_manager.go
    ClaimReplicaSets), so the impostor has an owner: the other Deployment, whose selector it matches."""
    sim.history("rollback-demo:1.0.1")
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "other"},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "demo", "team": "x"}},
                      "template": {"metadata": {"labels": {"app": "demo", "team": "x"}},
                                   "spec": {"containers": [{"name": "web", "image": "evil:latest"}]}}}}
    sim.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(other))
    owner = sim.get("deployment", "other")
    impostor = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": "impostor", "labels": {"app": "demo", "team": "x"},
                             "annotations": {"deployment.kubernetes.io/revision": "1"},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "other",
                                                  "uid": owner["metadata"]["uid"], "controller": True}]},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "demo", "team": "x"}},
                         "template": {"metadata": {"labels": {"app": "demo", "team": "x"}},
                                      "spec": {"containers": [{"name": "web", "image": "evil:older"}]}}}}
    sim.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(impostor))
    run = ansible_module("rollout_undo", undo_args(sim))
    assert not run.failed, run.stdout
    assert (run.result["from_version"], run.result["to_version"], run.result["revision"]) == (
        "rollback-demo:1.0.1", "rollback-demo:1.0.0", 1)
    assert sim.image() == "rollback-demo:1.0.0"


def test_check_mode_then_idempotent_rerun(ansible_module, sim):
    sim.history("rollback-demo:1.0.1")
    check = ansible_module("rollout_undo", undo_args(sim), check=True)
    assert check.result["changed"] is True and sim.image() == "rollback-demo:1.0.1"
    assert ansible_module("rollout_undo", undo_args(sim)).result["changed"] is True
    rerun = ansible_module("rollout_undo", undo_args(sim, to_revision=3))
    assert rerun.result["changed"] is False, rerun.stdout


@pytest.mark.parametrize("prepare,extra,message", [
    (None, dict(to_revision=7), "revision 7 of deployment default/demo not found; available: 1, 2"),
    ("pause", dict(), "deployment default/demo is paused: resume it first"),
    (None, dict(name="nope"), "reading deployment default/nope failed: 404"),
    (None, dict(kubeconfig=None, host="http://127.0.0.1:1"), "Kubernetes API unreachable"),
])
def test_bad_input_changes_nothing(ansible_module, sim, prepare, extra, message):
    sim.history("rollback-demo:1.0.1")
    sim.settle()
    if prepare == "pause":
        sim.kubectl("rollout", "pause", "deployment/demo")
    before = comparable(sim)
    run = ansible_module("rollout_undo", undo_args(sim, **extra))
    assert run.failed and message in run.result["msg"], run.result
    assert comparable(sim) == before


def test_wait_fails_with_the_stuck_reason(ansible_module, sim):
    sim.history("rollback-demo:never-ready", "rollback-demo:1.0.1")
    run = ansible_module("rollout_undo", undo_args(sim, wait_timeout=1))
    assert run.failed
    # maxSurge 1, maxUnavailable 0: one never-ready pod is surged, the two old ones stay. kubectl's words, then why.
    assert run.result["msg"].startswith(
        'timed out after 1s waiting for the rollout of deployment default/demo: Waiting for deployment "demo" rollout '
        'to finish: 1 out of 2 new replicas have been updated...; pod demo-'), run.result["msg"]
    assert ": container web running but not ready" in run.result["msg"]


def workload(kind, name):
    obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": {"app": name}},
           "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "main", "image": "rollback-demo:1.0.0"}]}}}}
    if kind == "StatefulSet":
        obj["spec"].update(replicas=2, serviceName=name)
    return obj


def history_state(sim, resource, name):
    obj = pruned(sim.get(resource, name))
    revisions = sorted((r["metadata"]["name"], r["revision"]) for r in sim.get("controllerrevisions")["items"])
    return obj["spec"]["template"], revisions


@pytest.mark.parametrize("kind,resource", [("StatefulSet", "statefulset"), ("DaemonSet", "daemonset")])
def test_statefulset_and_daemonset_undo_match_kubectl(ansible_module, tmp_path, kind, resource):
    by_kubectl, by_module = Simulator(tmp_path, "kubectl-" + resource), Simulator(tmp_path, "module-" + resource)
    try:
        for simulator in (by_kubectl, by_module):
            simulator.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(workload(kind, "w")))
            for image in ("rollback-demo:1.0.1", "rollback-demo:1.0.2"):
                simulator.kubectl("set", "image", "%s/w" % resource, "main=" + image)
        by_kubectl.kubectl("rollout", "undo", "%s/w" % resource)
        run = ansible_module("rollout_undo", undo_args(by_module, name="w", kind=kind))
        assert not run.failed, run.stdout
        assert (run.result["from_version"], run.result["to_version"], run.result["revision"]) == (
            "rollback-demo:1.0.2", "rollback-demo:1.0.1", 2)
        assert history_state(by_module, resource, "w") == history_state(by_kubectl, resource, "w")
        by_kubectl.kubectl("rollout", "undo", "%s/w" % resource, "--to-revision=1")
        run = ansible_module("rollout_undo", undo_args(by_module, name="w", kind=kind, to_revision=1))
        assert not run.failed, run.stdout
        assert history_state(by_module, resource, "w") == history_state(by_kubectl, resource, "w")
        again = ansible_module("rollout_undo", undo_args(by_module, name="w", kind=kind, to_revision=5))
        assert again.result["changed"] is False
        missing = ansible_module("rollout_undo", undo_args(by_module, name="w", kind=kind, to_revision=9))
        assert missing.failed and "revision 9 of %s default/w not found; available: 3, 4, 5" % resource.lower() \
            in missing.result["msg"]
    finally:
        by_kubectl.stop()
        by_module.stop()
