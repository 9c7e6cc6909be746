"""Waiting like `kubectl rollout status`, and the revision kubectl would pick, on the faithful simulator.

The verdicts of plugins/module_utils/kubernetes_wait.py are compared with the real kubectl 1.37
(`kubectl rollout status --watch=false`, pkg/polymorphichelpers/rollout_status.go) on the same objects,
read at the same resourceVersion. Then the cases the issue found: an undo to a broken image fails as
soon as the controller reports ProgressDeadlineExceeded, saying ImagePullBackOff; a partitioned
StatefulSet is done when its partition is; OnDelete is refused before anything changes. (The revision
rolled back to, whatever a stale annotation says: tests/unit/plugins/module_utils/test_kubernetes_undo.py.)
"""

import json
import time
import urllib.request

import pytest
import yaml
from support.inprocess import run
from support.kube import DEPLOYMENT, Simulator

from ansible_collections.rollback.core.plugins.module_utils.kubernetes_wait import STATUS, RolloutFailed

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "rollout")
    yield simulator
    simulator.stop()


def deployment(name, image, replicas=2, **spec):
    obj = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    obj["metadata"] = {"name": name, "labels": {"app": name}}
    obj["spec"].update(replicas=replicas, selector={"matchLabels": {"app": name}}, **spec)
    obj["spec"]["template"]["metadata"]["labels"] = {"app": name}
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return obj


def workload(kind, name, image, strategy=None, replicas=2):
    obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
           "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "main", "image": image}]}}}}
    if kind == "StatefulSet":
        obj["spec"].update(replicas=replicas, serviceName=name)
    if strategy:
        obj["spec"]["updateStrategy"] = strategy
    return obj


def wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


# kind, resource, name, objects to create, image to set afterwards (None: none)
CASES = [
    ("Deployment", "deployment", "done", [deployment("done", "rollback-demo:1.0.0")], None),
    ("Deployment", "deployment", "stuck", [deployment("stuck", "rollback-demo:1.0.0")], "rollback-demo:never-ready"),
    ("Deployment", "deployment", "deadline",
     [deployment("deadline", "rollback-demo:1.0.0", progressDeadlineSeconds=1)], "rollback-demo:broken"),
    ("StatefulSet", "statefulset", "sts-done", [workload("StatefulSet", "sts-done", "rollback-demo:1.0.0")], None),
    ("StatefulSet", "statefulset", "sts-waiting", [workload("StatefulSet", "sts-waiting", "rollback-demo:1.0.0")],
     "rollback-demo:never-ready"),
    ("StatefulSet", "statefulset", "sts-partition",
     [workload("StatefulSet", "sts-partition", "rollback-demo:1.0.0",
               {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})], "rollback-demo:1.0.1"),
    ("StatefulSet", "statefulset", "sts-ondelete",
     [workload("StatefulSet", "sts-ondelete", "rollback-demo:1.0.0", {"type": "OnDelete"})], None),
    ("DaemonSet", "daemonset", "ds-done", [workload("DaemonSet", "ds-done", "rollback-demo:1.0.0")], None),
    ("DaemonSet", "daemonset", "ds-ondelete",
     [workload("DaemonSet", "ds-ondelete", "rollback-demo:1.0.0", {"type": "OnDelete"})], None),
]


def api(sim, method, path, body=None, content_type="application/json"):
    """The simulator's API directly: setting up and reading nine objects through kubectl costs a minute here."""
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (sim.server.server_address[1], path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": content_type, "Authorization": "Bearer kubesim-token"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def path(resource, name=None):
    return "/apis/apps/v1/namespaces/default/%ss" % resource + ("/" + name if name else "")


def test_verdicts_match_kubectl_rollout_status(sim):
    """One simulator, every case created at once and left to settle, then each compared with kubectl."""
    for _kind, resource, _name, objects, _image in CASES:
        for obj in objects:
            api(sim, "POST", path(resource), obj)
    for _kind, resource, name, _objects, image in CASES:
        if image:
            wait_for(lambda r=resource, n=name: (api(sim, "GET", path(r, n)).get("status") or {}).get(
                "observedGeneration"), "%s %s observed" % (resource, name))
            container = "web" if resource == "deployment" else "main"
            patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}
            api(sim, "PATCH", path(resource, name), patch, "application/strategic-merge-patch+json")
    time.sleep(3)  # rollouts finish, get stuck, or pass their 1 s progress deadline
    compared = []
    for kind, resource, name, _objects, _image in CASES:
        for _attempt in range(10):
            before = api(sim, "GET", path(resource, name))
            kubectl = sim.kubectl("rollout", "status", "--watch=false", "%s/%s" % (resource, name), check=False)
            after = api(sim, "GET", path(resource, name))
            if before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]:
                break
            time.sleep(0.3)  # still settling: read again
        else:
            pytest.fail("%s/%s never settled" % (resource, name))
        try:
            done, message = STATUS[kind](after)
            ours = (0, message, "")
        except RolloutFailed as failed:
            done, ours = None, (1, "", "error: " + failed.msg)
        assert (kubectl.returncode, kubectl.stdout.strip(), kubectl.stderr.strip()) == ours, name
        compared.append((name, done))
    assert compared == [("done", True), ("stuck", False), ("deadline", None), ("sts-done", True),
                        ("sts-waiting", False), ("sts-partition", True), ("sts-ondelete", None), ("ds-done", True),
                        ("ds-ondelete", None)], "each verdict of rollout_status.go is covered"


def undo_args(sim, **extra):
    return dict(dict(platform="kubernetes", name="demo", kubeconfig=sim.kubeconfig, wait_timeout=60, wait_sleep=0.2),
                **extra)


def test_undo_to_a_broken_image_fails_at_the_progress_deadline_with_the_reason(sim):
    broken = deployment("demo", "rollback-demo:broken", progressDeadlineSeconds=3)
    sim.kubectl("create", "-f", "-", stdin=yaml.safe_dump(broken))
    sim.kubectl("set", "image", "deployment/demo", "web=rollback-demo:1.0.0")
    wait_for(lambda: (sim.get("deployment", "demo").get("status") or {}).get("availableReplicas") == 2, "1.0.0 up")
    started = time.monotonic()
    undone = run("rollout_undo", undo_args(sim))
    elapsed = time.monotonic() - started
    assert undone["failed"], undone
    assert undone["msg"].startswith('the rollout of deployment default/demo failed: deployment "demo" exceeded its '
                                    'progress deadline ('), undone["msg"]
    assert "waiting ImagePullBackOff" in undone["msg"] and 'Warning events: Failed' in undone["msg"], undone["msg"]
    assert elapsed < 3 + 5, "fails within seconds of the 3 s deadline, not at wait_timeout (60 s)"


def test_a_partitioned_statefulset_is_done_when_its_partition_is(sim):
    partitioned = workload("StatefulSet", "db", "rollback-demo:1.0.0",
                           {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})
    sim.kubectl("create", "-f", "-", stdin=yaml.safe_dump(partitioned))
    sim.kubectl("set", "image", "statefulset/db", "main=rollback-demo:1.0.1")
    undone = run("rollout_undo", undo_args(sim, name="db", kind="StatefulSet", wait_timeout=30))
    assert not undone["failed"] and undone["to_version"] == "rollback-demo:1.0.0", undone


def test_on_delete_is_refused_before_any_change_unless_not_waited_for(sim):
    sim.kubectl("create", "-f", "-", stdin=yaml.safe_dump(workload("DaemonSet", "agent", "rollback-demo:1.0.0",
                                                                   {"type": "OnDelete"})))
    sim.kubectl("set", "image", "daemonset/agent", "main=rollback-demo:1.0.1")
    refused = run("rollout_undo", undo_args(sim, name="agent", kind="DaemonSet"))
    assert refused["failed"] and "has updateStrategy OnDelete" in refused["msg"] and "wait: false" in refused["msg"]
    assert sim.get("daemonset", "agent")["spec"]["template"]["spec"]["containers"][0]["image"] == "rollback-demo:1.0.1"
    undone = run("rollout_undo", undo_args(sim, name="agent", kind="DaemonSet", wait=False))
    assert not undone["failed"] and undone["changed"] and any("OnDelete" in w for w in undone["warnings"]), undone
