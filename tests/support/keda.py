"""KEDA in the simulator: its ScaledObject CRD and a stand-in for its operator, for the traffic tests.

KEDA cannot run here. The CRD is installed the way `kubectl apply -f keda-crds.yaml` would (the simulator
then stores ScaledObjects like any custom resource), and the operator's two behaviours that matter to a
rollback are modelled from kedacore/keda:

- controllers/keda/scaledobject_controller.go Reconcile: an unpaused ScaledObject owns an HPA named
  ``keda-hpa-<name>`` (getHPAName) and its scale loop activates the target: an active trigger scales a target at
  0 back to max(minReplicaCount, 1) (pkg/scaling/executor/scale_scaledobjects.go RequestScale, "scale from
  zero"). This stand-in's trigger is always active: the service has traffic, which is why it must be paused.
- handlePause: with ``autoscaling.keda.sh/paused-replicas`` the HPA is deleted, the target is scaled to that
  count through /scale (again whenever its count differs: checkIfTargetResourceReachPausedCount), and status
  gets Paused=True and pausedReplicaCount; without the annotation a Paused condition that was True goes to
  False ("ScaledObjectUnpaused") and scaling resumes. Like KEDA's informer cache, a pass acts on the
  ScaledObject as it listed it, which may be older than the target's count it then reads.
"""

import json
import os
import sys
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "lab"))

from kubesim import resources  # noqa: E402

SCALED_OBJECTS = ("keda.sh", "v1alpha1", "scaledobjects")
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"


def _paused_condition(scaled_object):
    return next((c.get("status") for c in (scaled_object.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Paused"), None)


def install_crd():
    resources.RESOURCES[SCALED_OBJECTS] = resources.Resource(
        "keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", True, ("so",), ("status",))


def remove_crd():
    resources.RESOURCES.pop(SCALED_OBJECTS, None)


class KedaOperator:
    def __init__(self, sim, namespace="default", period=0.2):
        self.base = "http://127.0.0.1:%d" % sim.server.server_address[1]
        self.namespace, self.period = namespace, period
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        self.thread.join()

    def _api(self, method, path, body=None, content_type="application/json"):
        request = urllib.request.Request(self.base + path, method=method, headers={"Content-Type": content_type},
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def _loop(self):
        while not self.stopped.wait(self.period):
            listed = self._api("GET", "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects" % self.namespace)
            for scaled_object in (listed or {}).get("items", []):
                self.reconcile(scaled_object)

    def reconcile(self, scaled_object):
        meta, spec = scaled_object["metadata"], scaled_object["spec"]
        ref = spec["scaleTargetRef"]
        plural = {"Deployment": "deployments", "StatefulSet": "statefulsets"}[ref.get("kind", "Deployment")]
        scale_path = "/apis/apps/v1/namespaces/%s/%s/%s/scale" % (self.namespace, plural, ref["name"])
        hpa_path = "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers" % self.namespace
        hpa_name = "keda-hpa-" + meta["name"]
        paused = (meta.get("annotations") or {}).get(PAUSED_REPLICAS)
        scale = self._api("GET", scale_path)
        if scale is None:
            return
        if paused is not None:
            if self._api("GET", hpa_path + "/" + hpa_name) is not None:
                self._api("DELETE", hpa_path + "/" + hpa_name)
            if scale["spec"].get("replicas", 0) != int(paused):
                self._api("PATCH", scale_path, {"spec": {"replicas": int(paused)}}, "application/merge-patch+json")
            self._status(scaled_object, "True", "ScaledObjectPaused", int(paused))
            return
        if self._api("GET", hpa_path + "/" + hpa_name) is None:
            trigger = {"metric": {"name": "s0-trigger"}, "target": {"type": "AverageValue", "averageValue": "1"}}
            self._api("POST", hpa_path, {
                "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": hpa_name, "ownerReferences": [{
                    "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": meta["name"], "uid": meta["uid"],
                    "controller": True, "blockOwnerDeletion": True}]},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": ref.get("kind", "Deployment"),
                                            "name": ref["name"]},
                         "minReplicas": max(spec.get("minReplicaCount", 0), 1),
                         "maxReplicas": spec.get("maxReplicaCount", 100),
                         "metrics": [{"type": "External", "external": trigger}]}})
        if scale["spec"].get("replicas", 0) == 0:  # active trigger: scale from zero
            self._api("PATCH", scale_path, {"spec": {"replicas": max(spec.get("minReplicaCount", 0), 1)}},
                      "application/merge-patch+json")
        if _paused_condition(scaled_object) == "True":  # reconcileScaledObject sets False only where it was True
            self._status(scaled_object, "False", "ScaledObjectUnpaused", None)

    def _status(self, scaled_object, paused, reason, count):
        status = dict(scaled_object.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Paused"]
        status["conditions"] = conditions + [{"type": "Paused", "status": paused, "reason": reason}]
        status["pausedReplicaCount"] = count
        if status != scaled_object.get("status"):
            self._api("PATCH", "/apis/keda.sh/v1alpha1/namespaces/%s/scaledobjects/%s/status" % (
                self.namespace, scaled_object["metadata"]["name"]), {"status": status}, "application/merge-patch+json")
