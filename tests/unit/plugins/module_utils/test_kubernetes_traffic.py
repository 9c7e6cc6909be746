"""traffic's autoscaler handling on recorded objects (the simulator serves no KEDA; these pin the decisions).

KEDA (kedacore/keda controllers/keda/scaledobject_controller.go handlePause): with
autoscaling.keda.sh/paused-replicas the operator deletes its HPA and holds the target at that count; removing
the annotation resumes scaling. HPA (horizontal.go reconcileAutoscaler): a target at 0 with minReplicas != 0 is
left alone; with minReplicas 0 (HPAScaleToZero) it is not, so such an HPA is refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import KubeError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_traffic import (
    KEDA_PAUSED_REPLICAS, PAUSED_BY_US, SAVED, Workload, _autoscalers, _start, _stop)


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


def start(kube, module):
    workload = Workload(kube, "Deployment", "shop", "api")
    obj = workload.read()
    return _start(module, NoWait(), workload, obj, _autoscalers(kube, obj, "Deployment")[1], None)


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
