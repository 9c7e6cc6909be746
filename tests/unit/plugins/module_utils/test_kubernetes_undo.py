"""The revision a Deployment undo returns to, as kubectl pkg/polymorphichelpers/rollback.go deploymentRevision
derives it: from the ReplicaSets the Deployment controls, never from the Deployment's own revision annotation
(stale when YAML exported at an older revision is applied back, or while the controller lags)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_undo import _deployment_plan, _observed
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

UID = "deployment-uid"


def template(image, hashed=None):
    labels = {"app": "demo"}
    if hashed:
        labels["pod-template-hash"] = hashed
    return {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}]}}


def replicaset(name, revision, image, owner=UID, annotations=None):
    annotations = dict({"deployment.kubernetes.io/revision": revision}, **(annotations or {}))
    return {"metadata": {"name": name, "annotations": annotations,
                         "ownerReferences": [{"uid": owner, "controller": True}]},
            "spec": {"template": template(image, name[-3:])}}


class FakeKube:
    def __init__(self, items):
        self.items = items

    def list(self, resource, namespace, selector):
        assert (resource, selector) == ("replicasets", "app=demo")
        return {"items": self.items}


DEPLOYMENT = {"metadata": {"name": "demo", "namespace": "default", "uid": UID,
                           "annotations": {"deployment.kubernetes.io/revision": "1", "team": "payments"}},
              "spec": {"selector": {"matchLabels": {"app": "demo"}}, "template": template("app:1.0.2")}}
HISTORY = [replicaset("demo-aaa", "1", "app:1.0.0", annotations={"team": "payments"}),
           replicaset("demo-bbb", "2", "app:1.0.1", annotations={"change-cause": "1.0.1"}),
           replicaset("demo-ccc", "3", "app:1.0.2"),
           replicaset("other-ddd", "9", "evil:1", owner="another-deployment"),
           replicaset("demo-eee", "x", "app:unreadable")]


def test_a_stale_revision_annotation_does_not_change_the_target():
    template_, patch, target, current = _deployment_plan(FakeKube(HISTORY), DEPLOYMENT, None, "deployment default/demo")
    assert (target, current) == (2, 3), "second highest of the owned revisions 1, 2, 3; 9 is not ours, x unreadable"
    assert template_["spec"]["containers"][0]["image"] == "app:1.0.1"
    assert "pod-template-hash" not in template_["metadata"]["labels"]
    assert patch[1] == {"op": "replace", "path": "/metadata/annotations", "value": {
        "deployment.kubernetes.io/revision": "1", "change-cause": "1.0.1"}}, "kubectl's annotation rule"


def test_to_revision_and_missing_history():
    assert _deployment_plan(FakeKube(HISTORY), DEPLOYMENT, 1, "d")[2] == 1
    with pytest.raises(RollbackError, match="revision 9 of d not found; available: 1, 2, 3"):
        _deployment_plan(FakeKube(HISTORY), DEPLOYMENT, 9, "d")
    with pytest.raises(RollbackError, match="d has no revision before 3 to roll back to"):
        _deployment_plan(FakeKube(HISTORY[2:3]), DEPLOYMENT, None, "d")


class LaggingKube:
    """A Deployment patched a moment ago: the controller observes generation 2 on the third read
    (deployment controller syncDeployment writes status.observedGeneration after creating the new ReplicaSet)."""

    def __init__(self):
        self.reads = 0

    def get(self, resource, namespace, name):
        self.reads += 1
        observed = 2 if self.reads >= 3 else 1
        return {"metadata": {"name": name, "generation": 2}, "status": {"observedGeneration": observed}}


def test_the_plan_waits_until_the_controller_has_observed_the_latest_spec():
    kube = LaggingKube()
    obj = _observed(kube, "Deployment", "default", "demo", dict(wait_timeout=5, wait_sleep=0.01), "d")
    assert kube.reads == 3 and obj["status"]["observedGeneration"] == 2


def test_a_controller_that_never_observes_the_spec_times_out_naming_the_generations():
    kube = LaggingKube()
    kube.reads = -10 ** 6
    with pytest.raises(WaitTimeout, match="the controller to observe the latest spec of d: generation 2, observed 1"):
        _observed(kube, "Deployment", "default", "demo", dict(wait_timeout=0.05, wait_sleep=0.01), "d")
