"""The DaemonSet controller (pkg/controller/daemon/daemon_controller.go manage, update.go rollingUpdate,
constructHistory, cleanupHistory; updateDaemonSetStatus).

One pod per ready node, pinned by node affinity, labelled controller-revision-hash with the template's
hash. RollingUpdate (maxSurge 0) deletes old pods while fewer than maxUnavailable nodes are unavailable;
a node gets its new pod once the old one has terminated. OnDelete never deletes a pod.
"""


from . import history
from . import meta
from . import ownership
from .pods import PODS, is_available, is_ready, ready_nodes
from .replicaset import new_pod
from .resources import RESOURCES
from .store import clone

DAEMONSETS = RESOURCES[("apps", "v1", "daemonsets")]
REVISION_LABEL = "controller-revision-hash"


def _node_of(pod):
    if pod["spec"].get("nodeName"):
        return pod["spec"]["nodeName"]
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name":
                return (field.get("values") or [None])[0]
    return None


class DaemonSetController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.api = cluster.api

    def sync(self):
        self.cluster.each(DAEMONSETS, self.sync_set)

    def construct_history(self, ds):
        """constructHistory: the current revision (renumbered to the newest when it comes back)."""
        revisions = history.owned(self.api, ds)
        digest = meta.compute_hash(ds["spec"]["template"], (ds.get("status") or {}).get("collisionCount"))
        current = [r for r in revisions if (r["metadata"].get("labels") or {}).get(REVISION_LABEL) == digest
                   or r.get("data") == history.patch_of(ds)]
        number = history.next_revision([r for r in revisions if r not in current])
        if current:
            return history.renumber(self.api, current[-1], max(number, current[-1].get("revision", 0))), digest
        labels = dict((ds["spec"]["template"].get("metadata") or {}).get("labels") or {}, **{REVISION_LABEL: digest})
        return history.create(self.api, ds, "%s-%s" % (ds["metadata"]["name"], digest), labels,
                              history.patch_of(ds), number, ds["metadata"].get("annotations")), digest

    def sync_set(self, ds):
        namespace = ds["metadata"]["namespace"]
        current, digest = self.construct_history(ds)
        pods = ownership.claim(self.api, PODS, ds, self.api.store.list(PODS, namespace, copy=False)[0])
        nodes = [n["metadata"]["name"] for n in ready_nodes(self.api)]
        if not meta.terminating(ds):
            self.manage(ds, pods, nodes, digest)
            pods = [p for p in self.api.store.list(PODS, namespace)[0] if meta.owned_by(p, ds)]
            if (ds["spec"].get("updateStrategy") or {}).get("type") == "RollingUpdate":
                self.rolling_update(ds, pods, nodes, digest)
                pods = [p for p in self.api.store.list(PODS, namespace)[0] if meta.owned_by(p, ds)]
        self.write_status(ds, pods, nodes, digest)
        live = set([current["metadata"]["name"]] + ["%s-%s" % (ds["metadata"]["name"], (
            p["metadata"].get("labels") or {}).get(REVISION_LABEL)) for p in pods])
        history.truncate(self.api, history.owned(self.api, ds), live, ds["spec"].get("revisionHistoryLimit"))

    def manage(self, ds, pods, nodes, digest):
        namespace = ds["metadata"]["namespace"]
        by_node = {}
        for pod in pods:
            by_node.setdefault(_node_of(pod), []).append(pod)
        for node in nodes:
            if not by_node.get(node):
                template = clone(ds["spec"]["template"])
                pod = new_pod(ds, template, ds["metadata"]["name"] + "-", {REVISION_LABEL: digest})
                pod["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                            "values": [node]}]}]}}}
                created = self.api.create(PODS, namespace, pod)
                self.cluster.recorder.event(ds, "Normal", "SuccessfulCreate", "Created pod: %s"
                                            % created["metadata"]["name"], "daemonset-controller")
        for node, on_node in by_node.items():
            alive = [p for p in on_node if not meta.terminating(p)]
            extra = alive if node not in nodes else alive[1:]
            for pod in extra:
                self.api.delete(PODS, namespace, pod["metadata"]["name"])

    def rolling_update(self, ds, pods, nodes, digest):
        """update.go rollingUpdate without surge: delete old pods within maxUnavailable."""
        rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = meta.scaled_value(rolling.get("maxUnavailable", 1), len(nodes), True)
        min_ready = ds["spec"].get("minReadySeconds", 0)
        unavailable, replace, candidates = 0, [], []
        for node in nodes:
            on_node = [p for p in pods if _node_of(p) == node and not meta.terminating(p)]
            new = [p for p in on_node if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == digest]
            old = [p for p in on_node if p not in new]
            if (not new and not old) or (new and old) or len(on_node) > 1:
                unavailable += 1
            elif new:
                unavailable += 0 if is_available(new[0], min_ready) else 1
            elif not is_available(old[0], min_ready):
                replace.append(old[0])
            elif unavailable < max_unavailable:
                candidates.append(old[0])
        room = min(max(0, max_unavailable - unavailable), len(candidates))
        for pod in replace + candidates[:room]:
            self.api.delete(PODS, ds["metadata"]["namespace"], pod["metadata"]["name"])

    def write_status(self, ds, pods, nodes, digest):
        min_ready = ds["spec"].get("minReadySeconds", 0)
        alive = [p for p in pods if not meta.terminating(p)]
        scheduled = [p for p in alive if _node_of(p) in nodes]
        updated = [p for p in scheduled if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == digest]
        available = sum(1 for p in scheduled if is_available(p, min_ready))
        status = {"currentNumberScheduled": len(set(_node_of(p) for p in scheduled)),
                  "numberMisscheduled": len([p for p in alive if _node_of(p) not in nodes]),
                  "desiredNumberScheduled": len(nodes), "numberReady": sum(1 for p in scheduled if is_ready(p)),
                  "observedGeneration": ds["metadata"].get("generation", 1),
                  "updatedNumberScheduled": len(updated), "numberAvailable": available,
                  "numberUnavailable": len(nodes) - available}
        for field in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
            if not status[field]:
                del status[field]
        if (ds.get("status") or {}).get("collisionCount") is not None:
            status["collisionCount"] = ds["status"]["collisionCount"]
        if status != (ds.get("status") or {}):
            updated_ds = clone(ds)
            updated_ds["status"] = status
            self.api.update(DAEMONSETS, ds["metadata"]["namespace"], ds["metadata"]["name"], updated_ds,
                            subresource="status")
