"""The ReplicaSet controller (pkg/controller/replicaset/replica_set.go syncReplicaSet, manageReplicas;
replica_set_utils.go calculateStatus).

It claims the pods its selector matches (adopting orphans, releasing pods that no longer match:
controller_ref_manager.go ClaimPods), creates or deletes pods to reach spec.replicas (the pods to
delete ranked as controller.ActivePodsWithRanks: unscheduled, pending, not ready, ready for less time,
newer first) and writes status: replicas (active pods), fully labeled, ready, available (ready for
minReadySeconds) and terminating replicas (DeploymentReplicaSetTerminatingReplicas, beta since 1.35).
"""

import time

from . import meta
from . import ownership
from .pods import PODS, is_active, is_available, is_ready
from .resources import RESOURCES
from .store import clone, parse_time

REPLICASETS = RESOURCES[("apps", "v1", "replicasets")]
POD_TEMPLATE_FIELDS = ("labels", "annotations")


def _delete_rank(pod):
    status = pod.get("status") or {}
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase"), 0)
    ready_since = parse_time((meta.condition(status, "Ready") or {}).get("lastTransitionTime")) if is_ready(
        pod) else 0
    return (1 if pod["spec"].get("nodeName") else 0, phase, 1 if is_ready(pod) else 0, -ready_since,
            -parse_time(pod["metadata"].get("creationTimestamp")))


def new_pod(owner, template, name_prefix, extra_labels=None):
    """controller.GetPodFromTemplate: the template's labels, annotations and spec, owned by the controller."""
    metadata = dict((k, clone(v)) for k, v in (template.get("metadata") or {}).items()
                    if k in POD_TEMPLATE_FIELDS)
    metadata["labels"] = dict(metadata.get("labels") or {}, **(extra_labels or {}))
    metadata["generateName"] = name_prefix
    metadata["ownerReferences"] = [meta.controller_ref(owner)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": clone(template.get("spec"))}


class ReplicaSetController:
    def __init__(self, cluster):
        self.cluster = cluster

    def sync(self):
        api = self.cluster.api
        replicasets = api.store.list(REPLICASETS)[0]
        pods = api.store.list(PODS, copy=False)[0]
        for rs in replicasets:
            namespace = rs["metadata"]["namespace"]
            mine = ownership.claim(api, PODS, rs, [p for p in pods if p["metadata"]["namespace"] == namespace])
            if not meta.terminating(rs):
                self._manage(rs, mine)
                mine = [p for p in api.store.list(PODS, namespace, copy=False)[0] if meta.owned_by(p, rs)]
            self._status(rs, mine)

    def _manage(self, rs, pods):
        api = self.cluster.api
        active = [p for p in pods if is_active(p)]
        diff = len(active) - rs["spec"].get("replicas", 1)
        namespace = rs["metadata"]["namespace"]
        if diff < 0:
            for _count in range(-diff):
                pod = api.create(PODS, namespace, new_pod(rs, rs["spec"]["template"], rs["metadata"]["name"] + "-"))
                self.cluster.recorder.event(rs, "Normal", "SuccessfulCreate", "Created pod: %s"
                                            % pod["metadata"]["name"], "replicaset-controller")
        elif diff > 0:
            for pod in sorted(active, key=_delete_rank)[:diff]:
                api.delete(PODS, namespace, pod["metadata"]["name"])
                self.cluster.recorder.event(rs, "Normal", "SuccessfulDelete", "Deleted pod: %s"
                                            % pod["metadata"]["name"], "replicaset-controller")

    def _status(self, rs, pods):
        min_ready = rs["spec"].get("minReadySeconds", 0)
        active = [p for p in pods if is_active(p)]
        template_labels = (rs["spec"]["template"].get("metadata") or {}).get("labels") or {}
        status = dict(rs.get("status") or {})
        status.update(
            replicas=len(active),
            fullyLabeledReplicas=sum(1 for p in active if all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())),
            readyReplicas=sum(1 for p in active if is_ready(p)),
            availableReplicas=sum(1 for p in active if is_available(p, min_ready)),
            terminatingReplicas=sum(1 for p in pods if meta.terminating(p)),
            observedGeneration=rs["metadata"].get("generation", 1))
        for field in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas", "terminatingReplicas"):
            if not status[field] and field != "terminatingReplicas":
                status.pop(field)
        if min_ready:
            waiting = [parse_time(meta.condition(p["status"], "Ready")["lastTransitionTime"]) + min_ready
                       for p in active if is_ready(p) and not is_available(p, min_ready)]
            if waiting:
                self.cluster.requeue_at(time.monotonic() + max(0.05, min(waiting) - time.time()))
        if status != rs.get("status"):
            updated = clone(rs)
            updated["status"] = status
            self.cluster.api.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], updated,
                                    subresource="status")
