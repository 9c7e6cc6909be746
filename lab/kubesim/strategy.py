"""The registry strategies: what a create or an update may set (pkg/registry/<group>/<kind>/strategy.go).

PrepareForCreate resets status and sets generation 1; PrepareForUpdate keeps the status on the main
resource and the spec on the status subresource (and for a Deployment its labels:
deploymentStatusStrategy.PrepareForUpdate), and bumps metadata.generation when the spec changes (for a
Deployment also when its annotations change, because the controller copies them to the ReplicaSet).
"""

import base64
from .store import clone

WITH_STATUS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "HorizontalPodAutoscaler", "Pod",
               "Namespace", "Node")
WITH_GENERATION = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "HorizontalPodAutoscaler")
SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name",
               "generation")


def _string_data(obj):
    """A Secret's write-only stringData is merged into data (core/v1 conversion) and never stored."""
    strings = obj.pop("stringData", None) or {}
    if strings:
        data = obj.setdefault("data", {})
        for key, value in strings.items():
            data[key] = base64.b64encode(value.encode()).decode()


def prepare_create(kind, obj):
    if kind == "Secret":
        _string_data(obj)
    meta = obj["metadata"]
    for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "uid"):
        meta.pop(field, None)
    if kind in WITH_GENERATION:
        meta["generation"] = 1
        obj["status"] = {}
    if kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    if kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    return obj


def prepare_update(kind, new, old, subresource=None):
    if kind == "Secret":
        _string_data(new)
    new_meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
    for field in SERVER_META:
        if field in old_meta:
            new_meta[field] = old_meta[field]
        else:
            new_meta.pop(field, None)
    if subresource == "status":
        new["spec"] = clone(old.get("spec"))
        if kind == "Deployment":
            new_meta["labels"] = clone(old_meta.get("labels"))
            if new_meta["labels"] is None:
                new_meta.pop("labels")
        return new
    if kind in WITH_STATUS:
        if "status" in old:
            new["status"] = clone(old["status"])
        else:
            new.pop("status", None)
    if kind in WITH_GENERATION:
        changed = new.get("spec") != old.get("spec")
        if kind == "Deployment":
            changed = changed or (new_meta.get("annotations") or {}) != (old_meta.get("annotations") or {})
        if changed:
            new_meta["generation"] = old_meta.get("generation", 1) + 1
    return new
