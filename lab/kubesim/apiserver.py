"""The API server's request handling without HTTP: admission, the registry's create, update, patch and
delete, the /scale subresource and server-side dry-run (staging/src/k8s.io/apiserver/pkg/endpoints/
handlers/{create,update,patch,delete}.go and pkg/registry/generic/registry/store.go).

Every write, the controllers' too, goes through here, so they all get defaulting, the registry
strategy, validation and optimistic concurrency, as on a cluster.
"""

import random
import time

from . import defaults
from . import meta
from . import patch as patches
from . import strategy
from . import validation
from .resources import RESOURCES, api_version, by_kind
from .store import ApiError, Store, clone, conflict, not_found, now, qualified

NAMESPACES = RESOURCES[("", "v1", "namespaces")]
PODS = RESOURCES[("", "v1", "pods")]
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet")


def random_suffix(length=5):
    """utilrand.String: the generateName suffix alphabet."""
    return "".join(random.choice(meta.ALPHANUMS) for _index in range(length))


def status_success(resource, obj):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": obj["metadata"]["name"], "group": resource.group, "kind": resource.plural,
                        "uid": obj["metadata"]["uid"]}}


class ApiServer:
    def __init__(self, store=None):
        self.store = store or Store()

    # reads ------------------------------------------------------------------------------------------------
    def get(self, resource, namespace, name):
        return self.store.get(resource, namespace, name)

    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        labels = meta.parse_label_selector(label_selector) if label_selector else []
        fields = meta.parse_field_selector(resource.kind, field_selector) if field_selector else []
        return self.store.list(resource, namespace, lambda o: meta.matches(o["metadata"].get("labels"), labels)
                               and meta.field_matches(o, fields))

    # admission --------------------------------------------------------------------------------------------
    def _admit_namespace(self, resource, namespace, name):
        """NamespaceLifecycle admission: the namespace must exist and not be terminating."""
        if not resource.namespaced:
            return
        found = self.store.find(NAMESPACES, None, namespace)
        if found is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % namespace,
                           {"name": namespace, "kind": "namespaces"})
        if meta.terminating(found):
            raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content in namespace %s '
                           "because it is being terminated" % (qualified(resource), name, namespace),
                           {"name": name, "group": resource.group, "kind": resource.plural, "causes": [
                               {"reason": "NamespaceTerminating", "message": "namespace %s is being terminated"
                                % namespace, "field": "metadata.namespace"}]})

    @staticmethod
    def _check_body(resource, namespace, obj):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request is not a JSON object")
        version = obj.get("apiVersion")
        if version and version != api_version(resource):
            raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match the expected API "
                                              "version (%s)" % (version, api_version(resource)))
        if obj.get("kind") and obj["kind"] != resource.kind:
            raise ApiError(400, "BadRequest", "the kind in the data (%s) does not match the expected kind (%s)"
                           % (obj["kind"], resource.kind))
        obj["apiVersion"], obj["kind"] = api_version(resource), resource.kind
        body_namespace = (obj.get("metadata") or {}).get("namespace")
        if resource.namespaced and body_namespace and body_namespace != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")

    # writes -----------------------------------------------------------------------------------------------
    def create(self, resource, namespace, obj, dry_run=False):
        obj = clone(obj)
        self._check_body(resource, namespace, obj)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + random_suffix()
        if not metadata.get("name"):
            errors = validation.Errors()
            errors.required("metadata.name", "name or generateName is required")
            errors.raise_for(resource, "")
        with self.store.lock:
            self._admit_namespace(resource, namespace, metadata["name"])
            if resource.namespaced:
                metadata["namespace"] = namespace
            else:
                metadata.pop("namespace", None)
            defaults.apply(resource.kind, obj)
            strategy.prepare_create(resource.kind, obj)
            validation.validate_create(resource, obj)
            return self.store.create(resource, namespace, obj, dry_run=dry_run)

    def update(self, resource, namespace, name, obj, subresource=None, dry_run=False):
        obj = clone(obj)
        self._check_body(resource, namespace, obj)
        sent = (obj.get("metadata") or {}).get("name")
        if sent and sent != name:
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name on the URL (%s)"
                           % (sent, name))
        with self.store.lock:
            current = self.store.get(resource, namespace, name)
            return self._write(resource, namespace, name, obj, current, subresource, dry_run)

    def _write(self, resource, namespace, name, new, current, subresource, dry_run):
        rv = new.setdefault("metadata", {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(resource, name)
        defaults.apply(resource.kind, new)
        strategy.prepare_update(resource.kind, new, current, subresource)
        if subresource != "status":
            validation.validate_update(resource, new, current)
        if meta.terminating(current) and not new["metadata"].get("finalizers") and not (
                resource.kind == "Pod" and current["metadata"].get("deletionGracePeriodSeconds")):
            # The update that removes the last finalizer of a deleted object deletes it (store.go Update).
            return self.store.remove(resource, namespace, name, dry_run=dry_run)
        return self.store.update(resource, namespace, name, new, dry_run=dry_run)

    def patch(self, resource, namespace, name, patch_type, body, subresource=None, dry_run=False):
        with self.store.lock:
            current = self.store.get(resource, namespace, name)
            if subresource == "scale":
                return self._patch_scale(resource, namespace, name, patch_type, body, current, dry_run)
            patched = self._apply_patch(resource, current, patch_type, body)
            if patched.get("metadata", {}).get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the name on the URL "
                               "(%s)" % (patched["metadata"]["name"], name))
            return self._write(resource, namespace, name, patched, current, subresource, dry_run)

    @staticmethod
    def _apply_patch(resource, current, patch_type, body):
        try:
            if patch_type == "application/json-patch+json":
                return patches.json_patch(current, body)
            if patch_type == "application/merge-patch+json":
                if not isinstance(body, dict):
                    raise patches.PatchError(400, "json: cannot unmarshal into a merge patch: not an object")
                return patches.merge_patch(current, body)
            if patch_type == "application/strategic-merge-patch+json":
                return patches.strategic_merge_patch(current, body, resource.kind)
        except patches.PatchError as error:
            raise ApiError(error.code, "BadRequest" if error.code == 400 else "Invalid", error.message)
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                       "media types include: application/json-patch+json, application/merge-patch+json, "
                       "application/strategic-merge-patch+json")

    # /scale (autoscaling/v1 Scale, registry/apps/deployment/storage ScaleREST) -------------------------------
    def _scalable(self, resource):
        if resource.kind not in SCALABLE:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def get_scale(self, resource, namespace, name):
        self._scalable(resource)
        return self.scale_of(self.store.get(resource, namespace, name))

    @staticmethod
    def scale_of(obj):
        metadata = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": dict((k, metadata[k]) for k in ("name", "namespace", "uid", "resourceVersion",
                                                            "creationTimestamp") if k in metadata),
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": meta.selector_string(obj["spec"].get("selector") or {})}}

    def update_scale(self, resource, namespace, name, scale, dry_run=False):
        self._scalable(resource)
        with self.store.lock:
            current = self.store.get(resource, namespace, name)
            return self._set_scale(resource, namespace, name, scale, current, dry_run)

    def _patch_scale(self, resource, namespace, name, patch_type, body, current, dry_run):
        self._scalable(resource)
        scale = self.scale_of(current)
        scale_resource = RESOURCES[("autoscaling", "v2", "horizontalpodautoscalers")]._replace(kind="Scale")
        return self._set_scale(resource, namespace, name, self._apply_patch(scale_resource, scale, patch_type, body),
                               current, dry_run)

    def _set_scale(self, resource, namespace, name, scale, current, dry_run):
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            errors = validation.Errors()
            errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
            errors.raise_for(resource._replace(kind="Scale", group="autoscaling"), name)
        new = clone(current)
        new["metadata"]["resourceVersion"] = (scale.get("metadata") or {}).get("resourceVersion") or \
            current["metadata"]["resourceVersion"]
        new["spec"]["replicas"] = replicas
        return self.scale_of(self._write(resource, namespace, name, new, current, None, dry_run))

    # delete (registry/generic/registry/store.go Delete, BeforeDelete, and the GC finalizers) -----------------
    def delete(self, resource, namespace, name, options=None, dry_run=False):
        options = options or {}
        with self.store.lock:
            current = self.store.get(resource, namespace, name)
            self._preconditions(resource, current, options.get("preconditions") or {})
            if resource.kind == "Namespace" and name in PROTECTED_NAMESPACES:
                raise ApiError(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace may not be deleted'
                               % name, {"name": name, "kind": "namespaces"})
            policy = options.get("propagationPolicy")
            if policy is None and options.get("orphanDependents") is not None:
                policy = "Orphan" if options["orphanDependents"] else "Background"
            if policy not in (None, "Background", "Foreground", "Orphan"):
                errors = validation.Errors()
                errors.unsupported("propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"])
                errors.raise_for(resource, name)
            grace = self._grace_period(resource, current, options)
            if meta.terminating(current):
                if resource.kind == "Pod" and grace == 0 and not current["metadata"].get("finalizers"):
                    return 200, self.store.remove(resource, namespace, name, dry_run=dry_run)
                return 200, current
            new = clone(current)
            finalizers = list(new["metadata"].get("finalizers") or [])
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            if resource.kind == "Namespace":
                new["status"] = {"phase": "Terminating"}
            if not finalizers and not grace and resource.kind != "Namespace":
                gone = self.store.remove(resource, namespace, name, dry_run=dry_run)
                return 200, gone if resource.kind == "Pod" else status_success(resource, gone)
            new["metadata"]["finalizers"] = finalizers
            new["metadata"]["deletionTimestamp"] = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + (grace or 0)))
            new["metadata"]["deletionGracePeriodSeconds"] = grace or 0
            if not finalizers and not new["metadata"]["deletionGracePeriodSeconds"]:
                new["metadata"].pop("finalizers")
            updated = self.store.update(resource, namespace, name, new, dry_run=dry_run)
            return (202 if policy == "Foreground" else 200), updated

    @staticmethod
    def _preconditions(resource, current, preconditions):
        uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
        if uid and uid != current["metadata"]["uid"]:
            raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": Precondition failed: UID in "
                           "precondition: %s, UID in object meta: %s" % (
                               qualified(resource), current["metadata"]["name"], uid, current["metadata"]["uid"]))
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": Precondition failed: "
                           "ResourceVersion in precondition: %s, ResourceVersion in object meta: %s" % (
                               qualified(resource), current["metadata"]["name"], rv,
                               current["metadata"]["resourceVersion"]))

    @staticmethod
    def _grace_period(resource, current, options):
        """podStrategy.CheckGracefulDelete: the pod's terminationGracePeriodSeconds unless the options give one;
        an unscheduled or finished pod goes at once."""
        if resource.kind != "Pod":
            return 0
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = current["spec"].get("terminationGracePeriodSeconds", 30)
        if not current["spec"].get("nodeName") or (current.get("status") or {}).get("phase") in (
                "Succeeded", "Failed"):
            grace = 0
        return max(0, grace)

    def remove_now(self, resource, namespace, name):
        """The kubelet's final delete (grace period 0) and the GC's removals."""
        with self.store.lock:
            current = self.store.find(resource, namespace, name)
            if current is None:
                return None
            if current["metadata"].get("finalizers"):
                new = clone(current)
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new["metadata"].setdefault("deletionTimestamp", now())
                return self.store.update(resource, namespace, name, new)
            return self.store.remove(resource, namespace, name)

    def resource_for(self, obj):
        return by_kind(obj["kind"])


__all__ = ("ApiServer", "ApiError", "not_found", "PODS", "NAMESPACES")
