"""traffic's autoscaler handling on recorded objects (the simulator serves no KEDA; these pin the decisions).

KEDA (kedacore/keda controllers/keda/scaledobject_controller.go handlePause): with
autoscaling.keda.sh/paused-replicas the operator deletes its HPA and holds the target at that count; removing
the annotation resumes scaling. HPA (horizontal.go reconcileAutoscaler): a target at 0 with minReplicas != 0 is
left alone; with minReplicas 0 (HPAScaleToZero) it is not, so such an HPA is refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import copy

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import KubeError
from ansible_collections.rollback.core.plugins.module_utils import kubernetes_traffic
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_traffic import (
    KEDA_PAUSED_REPLICAS, PAUSED_BY_US, SAVED, Workload, _autoscalers, _start, _stop)
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter, WaitTimeout


class FakeKube:
    def __init__(self, objects):
        self.objects = objects  # (resource, name) -> object
        self.patches = []
        self.server = "fake"

    def get(self, resource, namespace, name, sub=None):
        return copy.deepcopy(self.objects[(resource, name)])

    def list(self, resource, namespace, selector=None, fields=None):
        if resource == "scaledobjects" and not any(r == "scaledobjects" for r, _n in self.objects):
            raise KubeError("listing scaledobjects failed: 404", status=404)
        return {"items": [copy.deepcopy(o) for (r, _n), o in sorted(self.objects.items()) if r == resource]}

    def patch(self, resource, namespace, name, body, patch_type=None, sub=None):
        self.patches.append((resource, name, sub, body))
        obj = self.objects[(resource, name)]
        if sub == "scale":
            obj["spec"]["replicas"] = body["spec"]["replicas"]
            return obj
        for field in ("labels", "annotations"):
            for key, value in ((body.get("metadata") or {}).get(field) or {}).items():
                values = obj["metadata"].setdefault(field, {})
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = value
        return obj

    @contextlib.contextmanager
    def until(self, deadline):
        yield


class KedaKube(FakeKube):
    """KEDA's reconcile of the ScaledObject (kedacore/keda controllers/keda/scaledobject_controller.go
    reconcileScaledObject): while paused, a target whose count differs from the paused count is scaled back to it
    (checkIfTargetResourceReachPausedCount); once the annotation is gone the Paused condition goes to False
    ("ScaledObjectUnpaused") and the scale loop, its trigger active, scales a target at 0 to
    max(minReplicaCount, 1). Here KEDA reconciles on every change of the target's scale and on every read of
    the ScaledObject; with acknowledges=False it is not running."""

    def __init__(self, objects, acknowledges=True):
        super().__init__(objects)
        self.acknowledges = acknowledges

    def reconcile(self):
        so, target = self.objects[("scaledobjects", "api-so")], self.objects[("deployments", "api")]["spec"]
        paused = so["metadata"]["annotations"].get(KEDA_PAUSED_REPLICAS)
        if paused is not None:
            target["replicas"] = int(paused)
            so["status"] = {"conditions": [{"type": "Paused", "status": "True"}]}
        elif so.get("status"):
            so["status"] = {"conditions": [{"type": "Paused", "status": "False", "reason": "ScaledObjectUnpaused"}]}
            target["replicas"] = target["replicas"] or max(so["spec"]["minReplicaCount"], 1)

    def get(self, resource, namespace, name, sub=None):
        if resource == "scaledobjects" and self.acknowledges:
            self.reconcile()
        return super().get(resource, namespace, name, sub)

    def patch(self, resource, namespace, name, body, patch_type=None, sub=None):
        obj = super().patch(resource, namespace, name, body, patch_type, sub)
        if sub == "scale" and self.acknowledges:
            self.reconcile()
        return obj


class FakeModule:
    check_mode, _diff = False, False

    def __init__(self, **params):
        self.params = dict(dict(force=False, argocd_namespace="argocd", replicas=None), **params)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    changed_result = RollbackModule.changed_result


class NoWait:
    enabled = False


def deployment(replicas=3, labels=None):
    return {"metadata": {"name": "api", "namespace": "shop", "uid": "u1", "labels": labels or {}, "annotations": {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "api"}}}}


def scaled_object(annotations=None):
    return {"metadata": {"name": "api-so", "annotations": annotations or {}},
            "spec": {"scaleTargetRef": {"name": "api"}, "minReplicaCount": 1}}


def hpa(name, min_replicas, owner=None):
    meta = {"name": name}
    if owner:
        meta["ownerReferences"] = [{"kind": "ScaledObject", "name": owner}]
    return {"metadata": meta, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"},
                                       "minReplicas": min_replicas, "maxReplicas": 9}}


def stop(kube, module):
    workload = Workload(kube, "Deployment", "shop", "api")
    obj = workload.read()
    hpas, scaled = _autoscalers(kube, obj, "Deployment")
    return _stop(module, NoWait(), workload, obj, hpas, scaled, None)


def start(kube, module, waiter=None):
    workload = Workload(kube, "Deployment", "shop", "api")
    obj = workload.read()
    return _start(module, waiter or NoWait(), workload, obj, _autoscalers(kube, obj, "Deployment")[1], None)


def waiting(timeout=5):
    return Waiter(FakeModule(wait=True, wait_timeout=timeout, wait_sleep=0.01), sleeper=lambda _s: None)


def test_keda_is_paused_at_stop_and_unpaused_at_resume():
    kube = FakeKube({("deployments", "api"): deployment(), ("scaledobjects", "api-so"): scaled_object(),
                     ("horizontalpodautoscalers", "keda-hpa-api-so"): hpa("keda-hpa-api-so", 1, owner="api-so")})
    stopped = stop(kube, FakeModule())
    assert stopped["autoscalers"] == ["KEDA ScaledObject api-so"], "KEDA's own HPA is KEDA's, not a plain HPA"
    resources = [(r, sub) for r, _n, sub, _b in kube.patches]
    assert resources == [("deployments", None), ("scaledobjects", None), ("deployments", "scale")], \
        "count saved first, then KEDA paused, then the scale"
    annotations = kube.objects[("scaledobjects", "api-so")]["metadata"]["annotations"]
    assert annotations == {KEDA_PAUSED_REPLICAS: "0", PAUSED_BY_US: "shop/Deployment/api"}
    started = start(kube, FakeModule())
    assert started["replicas_after"] == 3 and kube.objects[("deployments", "api")]["spec"]["replicas"] == 3
    assert kube.objects[("scaledobjects", "api-so")]["metadata"]["annotations"] == {}
    assert SAVED not in kube.objects[("deployments", "api")]["metadata"]["labels"]


def stopped_under_keda(acknowledges=True):
    kube = KedaKube({("deployments", "api"): deployment(), ("scaledobjects", "api-so"): scaled_object()}, acknowledges)
    stop(kube, FakeModule())
    kube.reconcile()  # KEDA saw the pause: Paused=True
    kube.patches = []
    return kube


def test_resume_scales_only_after_keda_reports_the_unpause(monkeypatch):
    """Scaled before the unpause, the count is put back to 0 by KEDA, and its scale from zero then gives 1."""
    monkeypatch.setattr(kubernetes_traffic, "wait_for_rollout", lambda *args: None)  # no pods in these objects
    kube = stopped_under_keda()
    started = start(kube, FakeModule(), waiting())
    assert [(r, sub) for r, _n, sub, _b in kube.patches] == [
        ("scaledobjects", None), ("deployments", "scale"), ("deployments", None)], "unpause, then scale, then label"
    assert kube.patches[1][3] == {"spec": {"replicas": 3}}, "from KEDA's 1 (scale from zero) to the saved 3"
    assert started["replicas_after"] == 3 and kube.objects[("deployments", "api")]["spec"]["replicas"] == 3


def test_resume_fails_clearly_when_keda_never_reports_the_unpause():
    kube = stopped_under_keda(acknowledges=False)
    with pytest.raises(WaitTimeout, match=r"KEDA to unpause the autoscaling of deployment shop/api: KEDA ScaledObject "
                                          r"api-so: Paused=True, the unpause is not reconciled yet \(is KEDA running"):
        start(kube, FakeModule(), waiting(timeout=0))
    assert [r for r, _n, _s, _b in kube.patches] == ["scaledobjects"], "not scaled under a KEDA still paused"


def test_a_scaled_object_paused_by_someone_else_stays_paused():
    kube = FakeKube({("deployments", "api"): deployment(),
                     ("scaledobjects", "api-so"): scaled_object({KEDA_PAUSED_REPLICAS: "2"})})
    module = FakeModule()
    stop(kube, module)
    assert "already paused by someone else" in module.warnings[0]
    assert not any(r == "scaledobjects" for r, _n, _s, _b in kube.patches)
    start(kube, FakeModule())
    assert kube.objects[("scaledobjects", "api-so")]["metadata"]["annotations"] == {KEDA_PAUSED_REPLICAS: "2"}


def test_an_hpa_that_scales_from_zero_is_refused_unless_force():
    objects = {("deployments", "api"): deployment(), ("horizontalpodautoscalers", "api"): hpa("api", 0)}
    kube = FakeKube(objects)
    with pytest.raises(RollbackError, match="HorizontalPodAutoscaler api with minReplicas 0"):
        stop(kube, FakeModule())
    assert kube.patches == [], "refused before any change"
    module = FakeModule(force=True)
    assert stop(kube, module)["replicas_after"] == 0 and "stopped anyway (force)" in module.warnings[0]


def test_a_cluster_without_keda_has_no_scaled_objects():
    kube = FakeKube({("deployments", "api"): deployment(), ("horizontalpodautoscalers", "api"): hpa("api", 2)})
    assert stop(kube, FakeModule())["autoscalers"] == ["HorizontalPodAutoscaler api (minReplicas 2)"]
