"""The simulator's state: Kubernetes objects in memory, with the API server's bookkeeping."""

import copy
import threading
import time
import uuid

RESOURCES = {
    # (group, version, plural): (kind, namespaced)
    ("", "v1", "namespaces"): ("Namespace", False),
    ("", "v1", "configmaps"): ("ConfigMap", True),
    ("", "v1", "secrets"): ("Secret", True),
    ("", "v1", "pods"): ("Pod", True),
    ("apps", "v1", "deployments"): ("Deployment", True),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True),
    ("apps", "v1", "statefulsets"): ("StatefulSet", True),
    ("apps", "v1", "daemonsets"): ("DaemonSet", True),
    ("apps", "v1", "controllerrevisions"): ("ControllerRevision", True),
}


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def api_version(group, version):
    return "%s/%s" % (group, version) if group else version


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.objects = {}  # (group, version, plural, namespace, name) -> object
        self.revision = 1
        for namespace in ("default", "kube-system"):
            self.create(("", "v1", "namespaces"), None, {"metadata": {"name": namespace}})

    def _key(self, resource, namespace, name):
        return resource + (namespace if RESOURCES[resource][1] else None, name)

    def _bump(self):
        self.revision += 1
        return str(self.revision)

    def get(self, resource, namespace, name):
        with self.lock:
            found = self.objects.get(self._key(resource, namespace, name))
            if found is None:
                raise ApiError(404, "NotFound", '%s "%s" not found' % (resource[2], name))
            return copy.deepcopy(found)

    def list(self, resource, namespace, selector=None):
        with self.lock:
            items = [copy.deepcopy(obj) for key, obj in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                     if key[:3] == resource and (namespace is None or key[3] == namespace)
                     and matches(obj.get("metadata", {}).get("labels") or {}, selector)]
        return items

    def create(self, resource, namespace, body):
        kind, namespaced = RESOURCES[resource]
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        with self.lock:
            key = self._key(resource, namespace, meta["name"])
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (resource[2], meta["name"]))
            obj["apiVersion"], obj["kind"] = api_version(resource[0], resource[1]), kind
            if namespaced:
                meta["namespace"] = namespace
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), resourceVersion=self._bump())
            if "spec" in obj:
                meta["generation"] = 1
            self.objects[key] = obj
            return copy.deepcopy(obj)

    def replace(self, resource, namespace, name, body, subresource=None):
        with self.lock:
            current = self.get(resource, namespace, name)
            sent = body.get("metadata", {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "the object has been modified; please apply your changes to the "
                                                "latest version and try again")
            obj = copy.deepcopy(body)
            if subresource == "status":
                updated = copy.deepcopy(current)
                updated["status"] = obj.get("status", {})
                obj = updated
            else:
                obj["status"] = current.get("status", obj.get("status"))
                meta = obj.setdefault("metadata", {})
                for field in ("uid", "creationTimestamp", "namespace", "name"):
                    if field in current["metadata"]:
                        meta[field] = current["metadata"][field]
                meta["generation"] = current["metadata"].get("generation", 1)
                if obj.get("spec") != current.get("spec"):
                    meta["generation"] += 1
            obj["apiVersion"], obj["kind"] = current["apiVersion"], current["kind"]
            obj["metadata"]["resourceVersion"] = self._bump()
            self.objects[self._key(resource, namespace, name)] = obj
            return copy.deepcopy(obj)

    def delete(self, resource, namespace, name):
        with self.lock:
            obj = self.get(resource, namespace, name)
            del self.objects[self._key(resource, namespace, name)]
            return obj


def parse_selector(text):
    """Equality-based and ``key in (a,b)`` label selectors, as (key, op, values) triples."""
    if not text:
        return []
    terms, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    parsed = []
    for term in (t.strip() for t in terms if t.strip()):
        if " in " in term:
            key, values = term.split(" in ", 1)
            parsed.append((key.strip(), "in", [v.strip() for v in values.strip("() ").split(",")]))
        elif "!=" in term:
            key, value = term.split("!=", 1)
            parsed.append((key.strip(), "!=", [value.strip()]))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            parsed.append((key.strip(), "in", [value.strip()]))
        else:
            parsed.append((term.lstrip("!"), "absent" if term.startswith("!") else "exists", []))
    return parsed


def matches(labels, selector):
    for key, op, values in selector or []:
        if op == "in" and labels.get(key) not in values:
            return False
        if op == "!=" and labels.get(key) in values:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "absent" and key in labels:
            return False
    return True
