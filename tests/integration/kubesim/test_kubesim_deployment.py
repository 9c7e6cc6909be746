"""The Deployment and ReplicaSet controllers and the pods, driven by kubectl, against
pkg/controller/deployment (sync.go, rolling.go, progress.go, util/deployment_util.go) and
pkg/controller/replicaset."""

import json
import time

from support.kube import wait_until
from support.kube_conformance import create, deployment, kget
from kubesim.resources import RESOURCES

REVISION = "deployment.kubernetes.io/revision"
PODS = RESOURCES[("", "v1", "pods")]
REPLICASETS = RESOURCES[("apps", "v1", "replicasets")]


def replicasets(sim, ns):
    return sorted(kget(sim, ns, "rs")["items"], key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))


def test_rolling_update_stays_within_max_surge_and_max_unavailable(sim, ns):
    """rolling.go reconcileNewReplicaSet/reconcileOldReplicaSets with NewRSNewReplicas and MaxUnavailable:
    at every stored state the ReplicaSets hold at most replicas + maxSurge pods, and (once the rollout began)
    at least replicas - maxUnavailable are available. 4 replicas, maxSurge 1, maxUnavailable 1."""
    create(sim, ns, deployment("r", replicas=4, strategy={"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": 1, "maxUnavailable": 1}}))
    sim.kubectl("rollout", "status", "-n", ns, "deployment/r", "--timeout=30s")
    start = sim.cluster.api.store.revision
    before = kget(sim, ns, "rs")
    sim.kubectl("set", "image", "-n", ns, "deployment/r", "web=app:2")
    done = sim.kubectl("rollout", "status", "-n", ns, "deployment/r", "--timeout=30s")
    assert 'deployment "r" successfully rolled out' in done.stdout
    state, checked = dict((rs["metadata"]["name"], rs) for rs in before["items"]), 0
    for revision, _kind, resource, obj in list(sim.cluster.api.store.log):
        if revision <= start or resource.kind != "ReplicaSet" or obj["metadata"]["namespace"] != ns:
            continue
        state[obj["metadata"]["name"]] = obj
        total = sum(rs["spec"]["replicas"] for rs in state.values())
        available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in state.values())
        assert total <= 5, "more than replicas + maxSurge pods: %s" % total
        assert available >= 3, "fewer than replicas - maxUnavailable available: %s" % available
        checked += 1
    assert checked >= 4
    old, new = replicasets(sim, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 4)
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "app:2"


def test_the_controller_runs_after_the_patch_not_inside_it(sim, ns):
    """deployment_controller.go is a separate loop: the PATCH answer has a new generation the status has not
    observed, and a slow image keeps the rollout in flight (kubectl rollout status --watch=false waits)."""
    create(sim, ns, deployment("s"))
    sim.kubectl("rollout", "status", "-n", ns, "deployment/s", "--timeout=30s")
    answer = json.loads(sim.kubectl("set", "image", "-n", ns, "deployment/s", "web=app:slow", "-o", "json").stdout)
    assert answer["metadata"]["generation"] == 2
    assert answer["status"]["observedGeneration"] == 1
    waiting = sim.kubectl("rollout", "status", "-n", ns, "deployment/s", "--watch=false")
    assert "Waiting for deployment" in waiting.stdout, waiting.stdout
    status = kget(sim, ns, "deployment", "s")["status"]
    assert status["updatedReplicas"] == 1 and status["replicas"] == 3, "one surged pod, the old two kept"


def test_progress_deadline_exceeded_with_the_pull_error(sim, ns):
    """progress.go syncRolloutStatus / util.DeploymentTimedOut: no progress for progressDeadlineSeconds sets
    Progressing=False ProgressDeadlineExceeded; kubectl rollout status fails on it (rollout_status.go).
    The broken image's pod waits in ImagePullBackOff with the kubelet's Failed event; the lab's pattern
    *:broken matches a registry-qualified reference too."""
    create(sim, ns, deployment("b", image="127.0.0.1:5000/app:broken", progressDeadlineSeconds=1))
    failed = sim.kubectl("rollout", "status", "-n", ns, "deployment/b", "--timeout=20s", check=False)
    assert failed.returncode != 0
    assert 'deployment "b" exceeded its progress deadline' in failed.stderr, failed.stderr
    progressing = [c for c in kget(sim, ns, "deployment", "b")["status"]["conditions"] if c["type"] == "Progressing"]
    assert progressing[0]["status"] == "False" and progressing[0]["reason"] == "ProgressDeadlineExceeded"

    def waiting():
        pods = kget(sim, ns, "pods", "-l", "app=b")["items"]
        return [c["state"]["waiting"]["reason"] for p in pods for c in p["status"]["containerStatuses"]
                if c["name"] == "web"]

    # The kubelet reports ErrImagePull first and ImagePullBackOff after its back-off (images.go, BackOffPullImage).
    assert set(waiting()) <= {"ErrImagePull", "ImagePullBackOff"}
    assert wait_until(lambda: waiting() == ["ImagePullBackOff", "ImagePullBackOff"]), waiting()
    events = kget(sim, ns, "events", "--field-selector", "type=Warning,reason=Failed")["items"]
    assert any('Failed to pull image "127.0.0.1:5000/app:broken"' in e["message"] for e in events)


def test_replicaset_annotations_are_only_added(sim, ns):
    """deployment_util.go copyDeploymentAnnotationsToReplicaSet: the Deployment's annotations are copied to
    its new ReplicaSet; one removed from the Deployment stays on the ReplicaSet."""
    create(sim, ns, deployment("a", replicas=1))
    sim.kubectl("annotate", "-n", ns, "deployment/a", "team=payments", "ticket=INC-1")
    wait_until(lambda: replicasets(sim, ns)[0]["metadata"]["annotations"].get("ticket") == "INC-1")
    sim.kubectl("annotate", "-n", ns, "deployment/a", "ticket-")
    sim.kubectl("annotate", "-n", ns, "deployment/a", "owner=ops")
    assert wait_until(lambda: replicasets(sim, ns)[0]["metadata"]["annotations"].get("owner") == "ops")
    annotations = replicasets(sim, ns)[0]["metadata"]["annotations"]
    assert annotations["ticket"] == "INC-1" and annotations["team"] == "payments"


def test_undo_renumbers_the_old_replicaset_and_history_is_pruned(sim, ns):
    """sync.go getNewReplicaSet + SetNewReplicaSetAnnotations: the ReplicaSet rolled back to gets the next
    revision and keeps its old one in revision-history; cleanupDeployment deletes the oldest scaled-down
    ReplicaSets beyond revisionHistoryLimit (1 here) once the rollout is complete."""
    create(sim, ns, deployment("u", replicas=1, revisionHistoryLimit=1))
    for image in ("app:2", "app:3"):
        sim.kubectl("set", "image", "-n", ns, "deployment/u", "web=" + image)
        sim.kubectl("rollout", "status", "-n", ns, "deployment/u", "--timeout=30s")
    assert wait_until(lambda: len(replicasets(sim, ns)) == 2), "revision 1 pruned"
    sim.kubectl("rollout", "undo", "-n", ns, "deployment/u")
    sim.kubectl("rollout", "status", "-n", ns, "deployment/u", "--timeout=30s")
    rss = replicasets(sim, ns)
    newest = rss[-1]
    assert newest["spec"]["template"]["spec"]["containers"][0]["image"] == "app:2"
    assert newest["metadata"]["annotations"][REVISION] == "4"
    assert newest["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    history = sim.kubectl("rollout", "history", "-n", ns, "deployment/u").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["3", "4"]


def test_scale_down_leaves_pods_terminating_for_their_grace_period(sim, ns):
    """pods: the kubelet stops a running container at most terminationGracePeriodSeconds after the delete;
    meanwhile the pod has a deletionTimestamp and the ReplicaSet counts it in terminatingReplicas
    (replica_set_utils.go calculateStatus, DeploymentReplicaSetTerminatingReplicas). Observed in process,
    so a slow kubectl cannot miss the window."""
    api = sim.cluster.api
    sim.cluster.settings.stop_delay = 60
    try:
        obj = deployment("t", replicas=2)
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 3
        create(sim, ns, obj)
        sim.kubectl("rollout", "status", "-n", ns, "deployment/t", "--timeout=30s")
        sim.kubectl("scale", "-n", ns, "deployment/t", "--replicas=0")
        started = time.monotonic()

        def pods():
            return api.store.list(PODS, ns, copy=False)[0]

        def terminating_replicas():
            return [(o.get("status") or {}).get("terminatingReplicas") for o in
                    api.store.list(REPLICASETS, ns, copy=False)[0]]
        assert wait_until(lambda: terminating_replicas() == [2], timeout=10)
        assert len(pods()) == 2 and all(p["metadata"].get("deletionTimestamp") for p in pods())
        assert wait_until(lambda: not pods(), timeout=20)
        assert time.monotonic() - started >= 2, "gone only after the grace period"
        assert wait_until(lambda: terminating_replicas() == [0])
    finally:
        sim.cluster.settings.stop_delay = 0.05


def test_orphan_replicaset_matching_the_selector_is_adopted(sim, ns):
    """controller_ref_manager.go ClaimReplicaSets: an orphan whose labels match is adopted (ownerReference
    added), one whose labels do not match is left alone."""
    create(sim, ns, deployment("o", replicas=1))
    orphan = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "orphan", "labels": {"app": "o"}},
              "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "o"}}, "template": {
                  "metadata": {"labels": {"app": "o"}}, "spec": {"containers": [{"name": "w", "image": "x:1"}]}}}}
    stranger = json.loads(json.dumps(orphan).replace('"o"', '"other"').replace('"orphan"', '"stranger"'))
    create(sim, ns, orphan, stranger)
    assert wait_until(lambda: kget(sim, ns, "rs", "orphan")["metadata"].get("ownerReferences"))
    assert kget(sim, ns, "rs", "orphan")["metadata"]["ownerReferences"][0]["name"] == "o"
    assert "ownerReferences" not in kget(sim, ns, "rs", "stranger")["metadata"]


def test_recreate_removes_old_pods_before_creating_new_ones(sim, ns):
    """recreate.go rolloutRecreate: scale the old ReplicaSets to 0, wait until no old pod runs, then scale up
    the new one: at no stored state do old and new pods coexist."""
    create(sim, ns, deployment("c", replicas=2, strategy={"type": "Recreate"}))
    sim.kubectl("rollout", "status", "-n", ns, "deployment/c", "--timeout=30s")
    start = sim.cluster.api.store.revision
    sim.kubectl("set", "image", "-n", ns, "deployment/c", "web=app:2")
    sim.kubectl("rollout", "status", "-n", ns, "deployment/c", "--timeout=30s")
    pods = {}
    for revision, kind, resource, obj in list(sim.cluster.api.store.log):
        if revision <= start or resource.kind != "Pod" or obj["metadata"]["namespace"] != ns:
            continue
        if kind == "DELETED":
            pods.pop(obj["metadata"]["name"], None)
        else:
            pods[obj["metadata"]["name"]] = obj["spec"]["containers"][0]["image"]
        assert len(set(pods.values())) <= 1, pods
