"""Patches: the simulator applies strategic merge, merge and JSON patches as the API server does.

The oracle is kubectl itself: ``kubectl patch --local`` applies a patch client-side with apimachinery's
strategicpatch (StrategicMergePatch, the same code the API server's patch handler calls:
staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go strategicPatchObject), so the server's
result must equal kubectl's local result on the same object.
"""

import json

import pytest
from support.kube import wait_until
from support.kube_conformance import create, deployment, kget

PATCHES = [
    # kubectl set image's patch shape: containers merged by name (patchMergeKey "name"), others kept.
    {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "app:2"}]}}}},
    # env merged by name, ports by containerPort.
    {"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "B", "value": "2"}],
                                                    "ports": [{"containerPort": 9090}]}]}}}},
    # $patch: delete removes one element of a merging list.
    {"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}},
    # $patch: replace inside a list replaces the whole list.
    {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "one:1"}, {"$patch": "replace"}]}}}},
    # $setElementOrder orders the merged list (kubectl apply sends it).
    {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "proxy"}, {"name": "web"}],
                                    "containers": [{"name": "web", "image": "app:3"}]}}}},
    # $retainKeys (DeploymentStrategy has patchStrategy retainKeys): switching to Recreate drops rollingUpdate.
    {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    # null deletes a key; maps (labels, annotations) merge.
    {"metadata": {"annotations": {"team": "payments", "gone": None}, "labels": {"tier": "web"}}},
    # $deleteFromPrimitiveList on a merging list of scalars (finalizers, patchStrategy merge).
    {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}},
    # a list without patch strategy (command) is replaced.
    {"spec": {"template": {"spec": {"containers": [{"name": "web", "command": ["b"]}]}}}},
]


def _comparable(obj):
    obj = json.loads(json.dumps(obj))
    for field in ("resourceVersion", "generation", "managedFields", "uid", "creationTimestamp"):
        obj["metadata"].pop(field, None)
    obj.pop("status", None)
    return obj


@pytest.mark.parametrize("patch", PATCHES, ids=range(len(PATCHES)))
def test_strategic_merge_patch_equals_kubectl_local(sim, ns, tmp_path, patch):
    base = deployment("p")
    base["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    base["metadata"]["annotations"] = {"gone": "x"}
    base["spec"]["template"]["spec"]["containers"][0]["command"] = ["a"]
    create(sim, ns, base)
    live = tmp_path / "live.json"
    live.write_text(json.dumps(kget(sim, ns, "deployment", "p")))
    local = sim.kubectl("patch", "--local", "-f", str(live), "--type", "strategic", "-p", json.dumps(patch),
                        "-o", "json", check=False)
    served = sim.kubectl("patch", "-n", ns, "deployment", "p", "--type", "strategic", "-p", json.dumps(patch),
                         "-o", "json", check=False)
    assert local.returncode == 0, local.stderr
    assert served.returncode == 0, served.stderr
    # kubectl's local result lacks the server's defaulting of new elements (protocol, imagePullPolicy, ...):
    # a server-side dry-run replace defaults it without storing anything.
    patched = json.loads(local.stdout)
    patched["metadata"].pop("resourceVersion")
    live.write_text(json.dumps(patched))
    # kubectl replace reads the live resourceVersion first (resource.Helper.Replace with overwrite): a status
    # write of the rollout controllers in between is a 409, as on a cluster; the answer is to try again.
    defaulted = wait_until(lambda: _replaced(sim, live), timeout=20)
    assert defaulted is not None and defaulted.returncode == 0, defaulted and defaulted.stderr
    assert _comparable(json.loads(served.stdout)) == _comparable(json.loads(defaulted.stdout))


def _replaced(sim, path):
    """The dry-run replace, or None after a Conflict (to be tried again)."""
    done = sim.kubectl("replace", "--dry-run=server", "-f", str(path), "-o", "json", check=False)
    return None if done.returncode and "the object has been modified" in done.stderr else done


def test_set_image_keeps_the_other_containers_env_and_ports(sim, ns):
    """The issue's reproduction: kubectl set image on a template with env, ports and a sidecar."""
    create(sim, ns, deployment("x"))
    sim.kubectl("set", "image", "-n", ns, "deployment/x", "web=app:2")
    containers = kget(sim, ns, "deployment", "x")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "app:2"), ("proxy", "proxy:1")]
    assert containers[0]["env"] == [{"name": "A", "value": "1"}]
    assert containers[0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


def test_merge_patch_replaces_lists(sim, ns):
    """RFC 7386 (patch.go applyPatch, MergePatchType): lists are replaced, not merged."""
    create(sim, ns, deployment("m"))
    sim.kubectl("patch", "-n", ns, "deployment/m", "--type", "merge", "-p",
                json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "app:9"}]}}}}))
    containers = kget(sim, ns, "deployment", "m")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "app:9")]


def test_json_patch_test_operation_failure_is_422(sim, ns):
    """patch.go jsonPatcher.applyJSPatch: a patch that does not apply is 422 and changes nothing."""
    create(sim, ns, deployment("j"))
    failing = [{"op": "test", "path": "/spec/replicas", "value": 5},
               {"op": "replace", "path": "/spec/replicas", "value": 7}]
    failed = sim.kubectl("patch", "-n", ns, "deployment/j", "--type", "json", "-p", json.dumps(failing), check=False)
    assert failed.returncode != 0, failed.stdout
    assert kget(sim, ns, "deployment", "j")["spec"]["replicas"] == 2
    passing = [{"op": "test", "path": "/spec/replicas", "value": 2},
               {"op": "replace", "path": "/spec/replicas", "value": 3}]
    sim.kubectl("patch", "-n", ns, "deployment/j", "--type", "json", "-p", json.dumps(passing))
    assert kget(sim, ns, "deployment", "j")["spec"]["replicas"] == 3


def test_apply_of_a_changed_manifest_gives_the_manifest(sim, ns):
    """kubectl apply computes a three-way strategic merge patch client-side (CreateThreeWayMergePatch, with
    $setElementOrder and $patch: delete for the removed sidecar); the server's result is the new manifest."""
    first = deployment("a")
    sim.apply(first, namespace=ns)
    second = deployment("a", image="app:2")
    second["spec"]["template"]["spec"]["containers"] = [
        {"name": "init-like", "image": "helper:1"},
        dict(second["spec"]["template"]["spec"]["containers"][0], env=[{"name": "B", "value": "2"}])]
    sim.apply(second, namespace=ns)
    containers = kget(sim, ns, "deployment", "a")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"], c.get("env")) for c in containers] == [
        ("init-like", "helper:1", None), ("web", "app:2", [{"name": "B", "value": "2"}])]
