"""The garbage collector (pkg/controller/garbagecollector) and the namespace controller
(pkg/controller/namespace/deletion).

Background deletion: an object whose owners are all gone is deleted. Foreground: an owner with the
foregroundDeletion finalizer waits until its dependents are gone. Orphan: the owner's dependents lose
their owner reference, then the orphan finalizer is removed. A terminating namespace has its content
deleted, then its kubernetes finalizer removed, and goes. Events expire after Settings.event_ttl (the API
server's --event-ttl, one hour by default).
"""

import time

from . import meta
from .resources import RESOURCES
from .store import ApiError, parse_time

NAMESPACES = RESOURCES[("", "v1", "namespaces")]


class GarbageCollector:
    def __init__(self, cluster):
        self.cluster = cluster
        self.api = cluster.api

    def sync(self):
        everything = self.api.store.everything()  # read only
        uids = dict((obj["metadata"]["uid"], (resource, obj)) for resource, obj in everything)
        dependents = {}
        for resource, obj in everything:
            for ref in obj["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid"), []).append((resource, obj))
        expired = time.time() - self.cluster.settings.event_ttl
        for resource, obj in everything:
            if resource.kind == "Event" and parse_time(obj.get("lastTimestamp")) < expired:
                self.api.store.remove(resource, obj["metadata"]["namespace"], obj["metadata"]["name"])
                continue
            if not meta.terminating(obj):
                refs = obj["metadata"].get("ownerReferences") or []
                if refs and all(ref.get("uid") not in uids for ref in refs):
                    self._delete(resource, obj)
                continue
            finalizers = obj["metadata"].get("finalizers") or []
            mine = dependents.get(obj["metadata"]["uid"], [])
            if "orphan" in finalizers:
                for dep_resource, dep in mine:
                    self._drop_ref(dep_resource, dep, obj["metadata"]["uid"])
                self._remove_finalizer(resource, obj, "orphan")
            elif "foregroundDeletion" in finalizers:
                alive = [(r, d) for r, d in mine if self.api.store.find(r, d["metadata"].get("namespace"),
                                                                        d["metadata"]["name"])]
                for dep_resource, dep in alive:
                    if not meta.terminating(dep):
                        self._delete(dep_resource, dep, "Foreground")
                if not alive:
                    self._remove_finalizer(resource, obj, "foregroundDeletion")
            if resource.kind == "Namespace":
                self._finish_namespace(obj)

    def _delete(self, resource, obj, policy="Background"):
        try:
            self.api.delete(resource, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                            {"propagationPolicy": policy, "preconditions": {"uid": obj["metadata"]["uid"]}})
        except ApiError as error:
            if error.code not in (404, 409):
                raise

    def _drop_ref(self, resource, obj, uid):
        current = self.api.store.find(resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if current is None:
            return
        refs = [r for r in current["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            current["metadata"]["ownerReferences"] = refs
        else:
            current["metadata"].pop("ownerReferences", None)
        self.api.store.update(resource, current["metadata"].get("namespace"), current["metadata"]["name"], current)

    def _remove_finalizer(self, resource, obj, finalizer):
        current = self.api.store.find(resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if current is None:
            return
        current["metadata"]["finalizers"] = [f for f in current["metadata"].get("finalizers") or [] if f != finalizer]
        self.api.update(resource, current["metadata"].get("namespace"), current["metadata"]["name"], current)

    def _finish_namespace(self, namespace):
        """NamespacedResourcesDeleter: delete everything in it, then drop the kubernetes finalizer."""
        name = namespace["metadata"]["name"]
        left = [(r, o) for r, o in self.api.store.everything()
                if r.namespaced and o["metadata"].get("namespace") == name]
        for resource, obj in left:
            if not meta.terminating(obj):
                self._delete(resource, obj)
        current = self.api.store.find(NAMESPACES, None, name)
        if left or current is None:
            return
        if "kubernetes" in ((current.get("spec") or {}).get("finalizers") or []):
            current["spec"]["finalizers"] = [f for f in current["spec"]["finalizers"] if f != "kubernetes"]
            current = self.api.store.update(NAMESPACES, None, name, current)
        if not current["spec"].get("finalizers") and not current["metadata"].get("finalizers"):
            self.api.store.remove(NAMESPACES, None, name)
