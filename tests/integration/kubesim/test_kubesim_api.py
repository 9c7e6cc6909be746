"""The API server's refusals and housekeeping, driven by kubectl (staging/src/k8s.io/apiserver handlers,
pkg/registry strategies, pkg/apis/*/validation)."""

import json

from support.kube import wait_until
from support.kube_conformance import create, deployment, kget


def test_selector_that_does_not_match_the_template_is_422(sim, ns):
    """apps validation ValidateDeploymentSpec: `selector` does not match template `labels` - on create and
    on a patch of the template labels (what kubernetes.core.k8s_rollback does to overlapping Deployments)."""
    bad = deployment("v")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    refused = sim.kubectl("create", "-n", ns, "-f", "-", stdin=json.dumps(bad), check=False)
    assert refused.returncode != 0 and "`selector` does not match template `labels`" in refused.stderr
    create(sim, ns, deployment("v"))
    patched = sim.kubectl("patch", "-n", ns, "deployment/v", "--type", "merge", "-p", json.dumps(
        {"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}), check=False)
    assert patched.returncode != 0 and "is invalid" in patched.stderr, patched.stderr
    assert kget(sim, ns, "deployment", "v")["spec"]["template"]["metadata"]["labels"] == {"app": "v"}


def test_selector_is_immutable(sim, ns):
    """apps validation ValidateDeploymentUpdate (apps/v1): spec.selector: field is immutable."""
    create(sim, ns, deployment("i"))
    refused = sim.kubectl("patch", "-n", ns, "deployment/i", "--type", "merge", "-p", json.dumps(
        {"spec": {"selector": {"matchLabels": {"app": "i", "x": "y"}},
                  "template": {"metadata": {"labels": {"app": "i", "x": "y"}}}}}), check=False)
    assert refused.returncode != 0 and "field is immutable" in refused.stderr, refused.stderr


def test_stale_resource_version_in_a_patch_is_409(sim, ns):
    """registry/generic/registry/store.go Update: a patch carrying an old resourceVersion is a Conflict."""
    create(sim, ns, deployment("c"))
    old = kget(sim, ns, "deployment", "c")["metadata"]["resourceVersion"]
    sim.kubectl("scale", "-n", ns, "deployment/c", "--replicas=3")
    refused = sim.kubectl("patch", "-n", ns, "deployment/c", "--type", "merge", "-p", json.dumps(
        {"metadata": {"resourceVersion": old}, "spec": {"replicas": 5}}), check=False)
    assert refused.returncode != 0 and "the object has been modified" in refused.stderr, refused.stderr
    assert kget(sim, ns, "deployment", "c")["spec"]["replicas"] == 3


def test_immutable_configmap_and_secret_type(sim, ns):
    """core validation ValidateConfigMapUpdate / ValidateSecretUpdate: data frozen once immutable; a Secret's
    type never changes."""
    create(sim, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"}, "immutable": True,
                     "data": {"a": "1"}},
           {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
            "data": {"p": "cQ=="}})
    data = sim.kubectl("patch", "-n", ns, "configmap/frozen", "-p", '{"data": {"a": "2"}}', check=False)
    assert data.returncode != 0 and "field is immutable when `immutable` is set" in data.stderr, data.stderr
    kind = sim.kubectl("patch", "-n", ns, "secret/s", "-p", '{"type": "kubernetes.io/tls"}', check=False)
    assert kind.returncode != 0 and "type: Invalid value" in kind.stderr and "field is immutable" in kind.stderr
    assert kget(sim, ns, "configmap", "frozen")["data"] == {"a": "1"}


def test_server_side_dry_run_changes_nothing(sim, ns):
    """handlers with dryRun=All: admission, defaulting and validation run; storage is not written."""
    create(sim, ns, deployment("d"))
    # Settled first: the deployment controller's own status writes move resourceVersion, dry-run or not.
    sim.kubectl("rollout", "status", "-n", ns, "deployment/d", "--timeout=30s")
    before = kget(sim, ns, "deployment", "d")
    shown = json.loads(sim.kubectl("set", "image", "-n", ns, "deployment/d", "web=app:2", "--dry-run=server",
                                   "-o", "json").stdout)
    assert shown["spec"]["template"]["spec"]["containers"][0]["image"] == "app:2"
    sim.kubectl("delete", "-n", ns, "deployment/d", "--dry-run=server")
    sim.kubectl("create", "-n", ns, "configmap", "ghost", "--from-literal=a=b", "--dry-run=server")
    after = kget(sim, ns, "deployment", "d")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "app:1"
    assert sim.kubectl("get", "-n", ns, "configmap", "ghost", check=False).returncode != 0
    sim.kubectl("set", "image", "-n", ns, "deployment/d", "web=app:3")
    undo = sim.kubectl("rollout", "undo", "-n", ns, "deployment/d", "--dry-run=server")
    assert "rolled back (server dry run)" in undo.stdout, undo.stdout
    assert kget(sim, ns, "deployment", "d")["spec"]["template"]["spec"]["containers"][0]["image"] == "app:3"


def test_field_selectors(sim, ns):
    """Field selectors: metadata.name everywhere, status.phase on pods; an unknown field is refused."""
    create(sim, ns, deployment("f", replicas=2))
    sim.kubectl("rollout", "status", "-n", ns, "deployment/f", "--timeout=30s")
    running = kget(sim, ns, "pods", "--field-selector", "status.phase=Running")["items"]
    assert len(running) == 2
    name = running[0]["metadata"]["name"]
    assert [p["metadata"]["name"] for p in kget(sim, ns, "pods", "--field-selector",
                                                "metadata.name=" + name)["items"]] == [name]
    assert kget(sim, ns, "pods", "--field-selector", "status.phase=Pending")["items"] == []
    refused = sim.kubectl("get", "-n", ns, "pods", "--field-selector", "spec.color=red", check=False)
    assert refused.returncode != 0 and "field label not supported: spec.color" in refused.stderr


def test_scale_subresource(sim, ns):
    """kubectl scale PATCHes /scale (registry/apps/deployment/storage ScaleREST); kubectl get --subresource."""
    create(sim, ns, deployment("x", replicas=1))
    sim.kubectl("scale", "-n", ns, "deployment/x", "--replicas=3")
    scale = kget(sim, ns, "deployment", "x", "--subresource", "scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    assert scale["status"]["selector"] == "app=x"
    assert wait_until(lambda: kget(sim, ns, "deployment", "x")["status"].get("availableReplicas") == 3)


def test_delete_with_propagation_policies(sim, ns):
    """DeleteOptions bodies (kubectl delete --cascade): background deletes the ReplicaSets and pods through
    the garbage collector, orphan leaves them without owner, foreground removes dependents first."""
    create(sim, ns, deployment("bg", replicas=1), deployment("or", replicas=1), deployment("fg", replicas=1))
    for name in ("bg", "or", "fg"):
        sim.kubectl("rollout", "status", "-n", ns, "deployment/" + name, "--timeout=30s")
    gone = sim.kubectl("delete", "-n", ns, "deployment/bg")
    assert 'deployment.apps "bg" deleted' in gone.stdout
    sim.kubectl("delete", "-n", ns, "deployment/or", "--cascade=orphan")
    sim.kubectl("delete", "-n", ns, "deployment/fg", "--cascade=foreground")
    assert wait_until(lambda: not kget(sim, ns, "rs", "-l", "app=bg")["items"])
    assert wait_until(lambda: not kget(sim, ns, "pods", "-l", "app=fg")["items"])
    assert wait_until(lambda: sim.kubectl("get", "-n", ns, "deployment/fg", check=False).returncode != 0)
    orphans = kget(sim, ns, "rs", "-l", "app=or")["items"]
    assert len(orphans) == 1 and "ownerReferences" not in orphans[0]["metadata"]


def test_namespaces_are_objects(sim):
    """NamespaceLifecycle admission: no content in a missing namespace; a deleted namespace is Terminating
    until the namespace controller has deleted its content."""
    sim.kubectl("create", "namespace", "doomed")
    create(sim, "doomed", deployment("nd", replicas=1))
    missing = sim.kubectl("create", "-n", "nowhere", "configmap", "x", "--from-literal=a=b", check=False)
    assert missing.returncode != 0 and 'namespaces "nowhere" not found' in missing.stderr
    sim.kubectl("delete", "namespace", "doomed", "--wait=false")
    assert wait_until(lambda: sim.kubectl("get", "namespace", "doomed", check=False).returncode != 0)
    assert not [p for p in sim.get("pods", "-A")["items"] if p["metadata"]["namespace"] == "doomed"]
    refused = sim.kubectl("delete", "namespace", "default", check=False)
    assert refused.returncode != 0 and "this namespace may not be deleted" in refused.stderr


def test_statefulset_partition_and_on_delete(sim, ns):
    """stateful_set_control.go: with partition 2 only the pods at ordinals >= 2 are updated and
    currentRevision stays behind updateRevision; kubectl rollout status reports the partitioned rollout.
    OnDelete never replaces a pod: the one the user deletes comes back at the new revision."""
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                                 "spec": {"containers": [{"name": "db", "image": "db:1"}]}}}}
    create(sim, ns, sts)
    sim.kubectl("rollout", "status", "-n", ns, "statefulset/db", "--timeout=30s")
    sim.kubectl("set", "image", "-n", ns, "statefulset/db", "db=db:2")
    done = sim.kubectl("rollout", "status", "-n", ns, "statefulset/db", "--timeout=30s")
    assert "partitioned roll out complete: 1 new pods have been updated" in done.stdout, done.stdout
    images = dict((p["metadata"]["name"], p["spec"]["containers"][0]["image"]) for p in kget(sim, ns, "pods")["items"])
    assert images == {"db-0": "db:1", "db-1": "db:1", "db-2": "db:2"}
    status = kget(sim, ns, "statefulset", "db")["status"]
    assert status["currentRevision"] != status["updateRevision"] and status["updatedReplicas"] == 1

    on_delete = json.loads(json.dumps(sts).replace('"db"', '"od"'))
    on_delete["metadata"]["name"] = "od"
    on_delete["spec"]["updateStrategy"] = {"type": "OnDelete"}
    create(sim, ns, on_delete)
    assert wait_until(lambda: kget(sim, ns, "statefulset", "od")["status"].get("readyReplicas") == 3)
    sim.kubectl("set", "image", "-n", ns, "statefulset/od", "od=db:2")
    refused = sim.kubectl("rollout", "status", "-n", ns, "statefulset/od", check=False)
    assert "rollout status is only available for RollingUpdate strategy type" in refused.stderr
    assert wait_until(lambda: kget(sim, ns, "statefulset", "od")["status"].get("observedGeneration") == 2)
    assert kget(sim, ns, "pod", "od-1")["spec"]["containers"][0]["image"] == "db:1"
    sim.kubectl("delete", "-n", ns, "pod/od-1")

    def recreated():
        found = sim.kubectl("get", "-n", ns, "pod", "od-1", "-o", "json", check=False)
        pod = json.loads(found.stdout) if found.returncode == 0 else {}
        return not pod.get("metadata", {}).get("deletionTimestamp") and pod.get("spec", {}).get(
            "containers", [{}])[0].get("image") == "db:2"
    assert wait_until(recreated)
    assert kget(sim, ns, "pod", "od-0")["spec"]["containers"][0]["image"] == "db:1"


def test_daemonset_on_delete(sim, ns):
    """daemon/update.go: OnDelete leaves the pods on their old template until deleted."""
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}}, "updateStrategy": {"type": "OnDelete"},
                   "template": {"metadata": {"labels": {"app": "agent"}},
                                "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}}}
    create(sim, ns, ds)
    assert wait_until(lambda: kget(sim, ns, "daemonset", "agent")["status"].get("numberReady") == 2)
    sim.kubectl("set", "image", "-n", ns, "daemonset/agent", "a=agent:2")
    assert wait_until(lambda: kget(sim, ns, "daemonset", "agent")["status"].get("observedGeneration") == 2)
    pods = kget(sim, ns, "pods")["items"]
    assert sorted(p["spec"]["containers"][0]["image"] for p in pods) == ["agent:1", "agent:1"]
    sim.kubectl("delete", "-n", ns, "pod", pods[0]["metadata"]["name"])
    assert wait_until(lambda: sorted(p["spec"]["containers"][0]["image"] for p in kget(sim, ns, "pods")["items"]
                                     if not p["metadata"].get("deletionTimestamp")) == ["agent:1", "agent:2"])


def test_hpa_honours_min_replicas_and_is_disabled_at_zero(sim, ns):
    """podautoscaler/horizontal.go reconcileAutoscaler: below minReplicas the target is scaled up; a target
    scaled to 0 is left alone (ScalingActive=False, ScalingDisabled)."""
    create(sim, ns, deployment("h", replicas=1), {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "h"},
                 "minReplicas": 2, "maxReplicas": 4}})
    assert wait_until(lambda: kget(sim, ns, "deployment", "h")["spec"]["replicas"] == 2)
    sim.kubectl("scale", "-n", ns, "deployment/h", "--replicas=0")

    def disabled():
        conditions = kget(sim, ns, "hpa", "h").get("status", {}).get("conditions", [])
        return any(c["type"] == "ScalingActive" and c["reason"] == "ScalingDisabled" for c in conditions)
    assert wait_until(disabled)
    assert kget(sim, ns, "deployment", "h")["spec"]["replicas"] == 0
