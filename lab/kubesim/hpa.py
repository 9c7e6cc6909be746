"""The HorizontalPodAutoscaler controller (pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler),
every Settings.hpa_interval seconds (15 s on a cluster).

Through the target's /scale: a target at 0 replicas with minReplicas > 0 is left alone (ScalingActive
False, ScalingDisabled); above maxReplicas or below minReplicas it is scaled into range. The simulator
has no metrics API (like a cluster without metrics-server), so within range the metric cannot be read:
ScalingActive False (FailedGetResourceMetric) and no change, as upstream does then.
"""

import time

from . import meta
from .resources import RESOURCES
from .store import ApiError, clone, now

HPAS = RESOURCES[("autoscaling", "v2", "horizontalpodautoscalers")]
TARGETS = {"Deployment": ("apps", "v1", "deployments"), "StatefulSet": ("apps", "v1", "statefulsets"),
           "ReplicaSet": ("apps", "v1", "replicasets")}
COMPONENT = "horizontal-pod-autoscaler"


class HpaController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.api = cluster.api
        self.last = {}  # hpa uid -> monotonic time of its last reconcile

    def sync(self):
        interval = self.cluster.settings.hpa_interval
        clock = time.monotonic()
        for hpa in self.api.store.list(HPAS)[0]:
            uid = hpa["metadata"]["uid"]
            due = self.last.get(uid, 0) + interval
            if clock < due:
                self.cluster.requeue_at(due)
                continue
            self.last[uid] = clock
            self.cluster.requeue_at(clock + interval)
            self.reconcile(hpa)

    def reconcile(self, hpa):
        spec, namespace = hpa["spec"], hpa["metadata"]["namespace"]
        status = clone(hpa.get("status") or {})
        status.setdefault("conditions", [])
        ref = spec.get("scaleTargetRef") or {}
        resource = RESOURCES.get(TARGETS.get(ref.get("kind"), ("", "", "")))
        try:
            if resource is None:
                raise ApiError(404, "NotFound", "no scale subresource for %s" % ref.get("kind"))
            scale = self.api.get_scale(resource, namespace, ref.get("name"))
        except ApiError as error:
            meta.set_condition(status, meta.new_condition("AbleToScale", "False", "FailedGetScale",
                                                          "the HPA controller was unable to get the target's "
                                                          "current scale: %s" % error.message, False))
            return self._write(hpa, status)
        current = scale["spec"]["replicas"]
        low, high = spec.get("minReplicas", 1), spec["maxReplicas"]
        status["currentReplicas"] = scale["status"]["replicas"]
        meta.set_condition(status, meta.new_condition("AbleToScale", "True", "SucceededGetScale",
                                                      "the HPA controller was able to get the target's current "
                                                      "scale", False))
        desired, reason = current, None
        if current == 0 and low != 0:
            desired = 0
            meta.set_condition(status, meta.new_condition("ScalingActive", "False", "ScalingDisabled",
                                                          "scaling is disabled since the replica count of the "
                                                          "target is zero", False))
        elif current > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif current < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        else:
            meta.set_condition(status, meta.new_condition(
                "ScalingActive", "False", "FailedGetResourceMetric",
                "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get "
                "metrics for resource cpu: no metrics returned from resource metrics API", False))
        status["desiredReplicas"] = desired
        if reason and desired != current:
            self.api.update_scale(resource, namespace, ref["name"], dict(scale, spec={"replicas": desired}))
            status["lastScaleTime"] = now()
            self.cluster.recorder.event(hpa, "Normal", "SuccessfulRescale", "New size: %d; reason: %s" % (
                desired, reason), COMPONENT)
        self._write(hpa, status)

    def _write(self, hpa, status):
        status["conditions"] = [dict((k, v) for k, v in c.items() if v is not None) for c in status["conditions"]]
        if status != hpa.get("status"):
            updated = clone(hpa)
            updated["status"] = status
            self.api.update(HPAS, hpa["metadata"]["namespace"], hpa["metadata"]["name"], updated,
                            subresource="status")
