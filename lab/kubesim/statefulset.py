"""The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go updateStatefulSet,
getStatefulSetRevisions, truncateHistory; stateful_set_utils.go newVersionedStatefulSetPod).

Pods <name>-<ordinal>, labelled with the ControllerRevision they were made from. With OrderedReady
they are created (and deleted on scale-down) one at a time, each waiting for the previous one to be
Running and Ready. RollingUpdate replaces pods from the highest ordinal down to the partition, one at
a time; pods below the partition keep the current revision, so currentRevision only becomes
updateRevision once every replica is updated and ready (completeRollingUpdate). OnDelete never deletes
a pod: a pod the user deletes comes back at the update revision.
"""

import json

from . import history
from . import meta
from . import ownership
from .pods import PODS, is_available, is_ready
from .replicaset import new_pod
from .resources import RESOURCES
from .store import clone

STATEFULSETS = RESOURCES[("apps", "v1", "statefulsets")]
REVISION_LABEL = "controller-revision-hash"


def _ordinal(set_name, pod):
    name = pod["metadata"]["name"]
    prefix = set_name + "-"
    if not name.startswith(prefix) or not name[len(prefix):].isdigit():
        return None
    return int(name[len(prefix):])


def running_and_ready(pod):
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


class StatefulSetController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.api = cluster.api

    def sync(self):
        self.cluster.each(STATEFULSETS, self.sync_set)

    def revisions(self, sts, revisions):
        """getStatefulSetRevisions: (current, update) revisions, creating or renumbering the update one."""
        data = history.patch_of(sts)
        collisions = (sts.get("status") or {}).get("collisionCount") or 0
        digest = meta.compute_hash(json.loads(json.dumps(data)), collisions)
        equal = history.find_equal(revisions, data)
        if equal and revisions and equal[-1]["metadata"]["name"] == revisions[-1]["metadata"]["name"]:
            update = revisions[-1]
        elif equal:
            update = history.renumber(self.api, equal[-1], history.next_revision(revisions))
        else:
            labels = dict((sts["spec"]["template"].get("metadata") or {}).get("labels") or {})
            labels[history.HASH_LABEL] = digest
            update = history.create(self.api, sts, "%s-%s" % (sts["metadata"]["name"], digest), labels, data,
                                    history.next_revision(revisions))
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), None) or update
        return current, update

    def sync_set(self, sts):
        namespace = sts["metadata"]["namespace"]
        revisions = history.owned(self.api, sts)
        current, update = self.revisions(sts, revisions)
        candidates = self.api.store.list(PODS, namespace, copy=False)[0]
        pods = ownership.claim(self.api, PODS, sts, candidates)
        if not meta.terminating(sts):
            self.update_pods(sts, pods, current, update)
            pods = [p for p in self.api.store.list(PODS, namespace)[0] if meta.owned_by(p, sts)]
        self.write_status(sts, pods, current, update)
        live = set([current["metadata"]["name"], update["metadata"]["name"]] + [
            (p["metadata"].get("labels") or {}).get(REVISION_LABEL) for p in pods])
        history.truncate(self.api, history.owned(self.api, sts), live, sts["spec"].get("revisionHistoryLimit"))

    def _new_pod(self, sts, ordinal, current, update):
        """newVersionedStatefulSetPod: below the partition a RollingUpdate set creates the current revision."""
        strategy = sts["spec"].get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0) or 0
        revision = current if strategy.get("type") == "RollingUpdate" and ordinal < partition else update
        template = revision["data"]["spec"]["template"]
        template = dict((k, v) for k, v in template.items() if k != "$patch")
        pod = new_pod(sts, template, None, {
            REVISION_LABEL: revision["metadata"]["name"],
            "statefulset.kubernetes.io/pod-name": "%s-%d" % (sts["metadata"]["name"], ordinal),
            "apps.kubernetes.io/pod-index": str(ordinal)})
        del pod["metadata"]["generateName"]
        pod["metadata"]["name"] = "%s-%d" % (sts["metadata"]["name"], ordinal)
        pod["spec"]["hostname"] = pod["metadata"]["name"]
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        return pod

    def update_pods(self, sts, pods, current, update):
        namespace = sts["metadata"]["namespace"]
        replica_count = sts["spec"].get("replicas", 1)
        monotonic = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        by_ordinal = dict((_ordinal(sts["metadata"]["name"], p), p) for p in pods)
        condemned = sorted((o for o in by_ordinal if o is not None and o >= replica_count), reverse=True)
        for ordinal in range(replica_count):
            pod = by_ordinal.get(ordinal)
            if pod is not None and (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded") and not \
                    meta.terminating(pod):
                self.api.delete(PODS, namespace, pod["metadata"]["name"])
                return
            if pod is None:
                created = self.api.create(PODS, namespace, self._new_pod(sts, ordinal, current, update))
                self.cluster.recorder.event(sts, "Normal", "SuccessfulCreate", "create Pod %s in StatefulSet %s "
                                            "successful" % (created["metadata"]["name"], sts["metadata"]["name"]),
                                            "statefulset-controller")
                if monotonic:
                    return
                continue
            if monotonic and (meta.terminating(pod) or not running_and_ready(pod)):
                return
        for ordinal in condemned:
            pod = by_ordinal[ordinal]
            if meta.terminating(pod):
                if monotonic:
                    return
                continue
            if monotonic and any(not running_and_ready(by_ordinal[o]) for o in by_ordinal
                                 if o is not None and o < ordinal):
                return
            self.api.delete(PODS, namespace, pod["metadata"]["name"])
            self.cluster.recorder.event(sts, "Normal", "SuccessfulDelete", "delete Pod %s in StatefulSet %s "
                                        "successful" % (pod["metadata"]["name"], sts["metadata"]["name"]),
                                        "statefulset-controller")
            if monotonic:
                return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type") != "RollingUpdate":
            return  # OnDelete: the user deletes pods; they come back at the update revision
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0) or 0
        for ordinal in range(replica_count - 1, partition - 1, -1):
            pod = by_ordinal.get(ordinal)
            if pod is None:
                return
            revision = (pod["metadata"].get("labels") or {}).get(REVISION_LABEL)
            if revision != update["metadata"]["name"] and not meta.terminating(pod):
                self.api.delete(PODS, namespace, pod["metadata"]["name"])
                return
            if meta.terminating(pod) or not running_and_ready(pod):
                return

    def write_status(self, sts, pods, current, update):
        min_ready = sts["spec"].get("minReadySeconds", 0)
        status = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": 0, "readyReplicas": 0,
                  "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0,
                  "currentRevision": current["metadata"]["name"], "updateRevision": update["metadata"]["name"],
                  "collisionCount": (sts.get("status") or {}).get("collisionCount") or 0}
        for pod in pods:
            status["replicas"] += 1
            if running_and_ready(pod):
                status["readyReplicas"] += 1
                if is_available(pod, min_ready):
                    status["availableReplicas"] += 1
            if not meta.terminating(pod):
                revision = (pod["metadata"].get("labels") or {}).get(REVISION_LABEL)
                status["currentReplicas"] += revision == current["metadata"]["name"]
                status["updatedReplicas"] += revision == update["metadata"]["name"]
        strategy = (sts["spec"].get("updateStrategy") or {}).get("type")
        if strategy == "RollingUpdate" and status["updatedReplicas"] == status["replicas"] == status["readyReplicas"]:
            status["currentReplicas"], status["currentRevision"] = status["updatedReplicas"], status["updateRevision"]
        for field in ("readyReplicas", "currentReplicas", "updatedReplicas", "observedGeneration"):
            if not status[field]:
                del status[field]
        if status != (sts.get("status") or {}):
            updated = clone(sts)
            updated["status"] = status
            self.api.update(STATEFULSETS, sts["metadata"]["namespace"], sts["metadata"]["name"], updated,
                            subresource="status")
