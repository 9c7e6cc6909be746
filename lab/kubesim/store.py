"""The simulator's storage: objects in memory with etcd3's bookkeeping as the API server sees it.

One resourceVersion counter for everything (etcd's revision), optimistic concurrency (an update
carrying a stale resourceVersion is a 409 Conflict, as in apiserver's registry/generic/registry
store.go Update), an update that changes nothing writes nothing (GuaranteedUpdate's no-op
short-cut: the resourceVersion stays), and an event log that watches replay from a
resourceVersion (410 Gone when it is older than the log, as the watch cache answers).
"""

import calendar
import collections
import functools
import marshal
import threading
import time
import uuid

EVENT_LOG = 20000


class ApiError(Exception):
    """A Status answer: code, reason, message and optional details (causes)."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


def clone(obj):
    """A deep copy of a JSON value (dicts, lists, strings, numbers, booleans, None), ten times faster than
    copy.deepcopy: the controllers copy every object they read."""
    return marshal.loads(marshal.dumps(obj))


def now():
    """metav1.Time as the API serialises it (RFC 3339, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@functools.lru_cache(maxsize=4096)
def parse_time(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) if text else 0.0


def qualified(resource):
    return "%s.%s" % (resource.plural, resource.group) if resource.group else resource.plural


def not_found(resource, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(resource), name),
                    {"name": name, "group": resource.group, "kind": resource.plural})


def conflict(resource, name):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again" % (qualified(resource), name),
                    {"name": name, "group": resource.group, "kind": resource.plural})


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # resource -> {(namespace, name): object}: a list reads its kind only. Scanning every stored object (events,
        # pods, every ReplicaSet revision) for each Deployment of a controller pass grew with the store's age: on a
        # lab that had run the benches it took a whole core, and a 100-service setup did not end in 23 minutes.
        self.kinds = collections.defaultdict(dict)
        self.revision = 1
        self.log = collections.deque(maxlen=EVENT_LOG)  # (revision, type, resource, object)

    @staticmethod
    def _key(resource, namespace, name):
        return (namespace if resource.namespaced else None, name)

    def everything(self):
        """(resource, object) for every stored object: the stored objects themselves, for a reader of the whole store
        (the garbage collector), under the lock."""
        with self.lock:
            return [(resource, obj) for resource, objects in self.kinds.items() for obj in objects.values()]

    def _record(self, kind, resource, obj):
        self.log.append((int(obj["metadata"]["resourceVersion"]), kind, resource, clone(obj)))
        self.changed.notify_all()

    def get(self, resource, namespace, name):
        with self.lock:
            found = self.kinds[resource].get(self._key(resource, namespace, name))
            if found is None:
                raise not_found(resource, name)
            return clone(found)

    def find(self, resource, namespace, name):
        try:
            return self.get(resource, namespace, name)
        except ApiError:
            return None

    def list(self, resource, namespace=None, predicate=None, copy=True):
        """The objects of a kind, sorted, and the store revision. copy=False: the stored objects themselves, for a
        caller that only reads them (an informer's lister hands out its cache the same way): every write replaces
        a stored object, never changes it, so they stay as they were; a controller pass reads every ReplicaSet
        for each Deployment, and copying them all made a pass cost O(n^2) copies (100 Deployments: seconds)."""
        with self.lock:
            items = [clone(obj) if copy else obj for (ns, _name), obj in self.kinds[resource].items()
                     if (namespace is None or ns == namespace) and (
                         predicate is None or predicate(obj))]
            return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])), \
                str(self.revision)

    def create(self, resource, namespace, obj, dry_run=False):
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        with self.lock:
            key = self._key(resource, namespace, meta["name"])
            if key in self.kinds[resource]:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(resource), meta["name"]),
                               {"name": meta["name"], "group": resource.group, "kind": resource.plural})
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
            if dry_run:
                meta.pop("resourceVersion", None)
                return obj
            self.revision += 1
            meta["resourceVersion"] = str(self.revision)
            self.kinds[resource][key] = obj
            self._record("ADDED", resource, obj)
            return clone(obj)

    def update(self, resource, namespace, name, obj, dry_run=False):
        """Write obj over the stored object; its resourceVersion, when set, must be the stored one."""
        obj = clone(obj)
        with self.lock:
            key = self._key(resource, namespace, name)
            current = self.kinds[resource].get(key)
            if current is None:
                raise not_found(resource, name)
            sent = obj["metadata"].get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            if obj == current or dry_run:
                return obj
            self.revision += 1
            obj["metadata"]["resourceVersion"] = str(self.revision)
            self.kinds[resource][key] = obj
            self._record("MODIFIED", resource, obj)
            return clone(obj)

    def remove(self, resource, namespace, name, dry_run=False):
        """The final removal from storage (after finalizers and grace periods)."""
        with self.lock:
            key = self._key(resource, namespace, name)
            current = self.kinds[resource].get(key)
            if current is None:
                raise not_found(resource, name)
            if dry_run:
                return clone(current)
            del self.kinds[resource][key]
            self.revision += 1
            gone = clone(current)
            gone["metadata"]["resourceVersion"] = str(self.revision)
            self._record("DELETED", resource, gone)
            return gone

    def events_after(self, revision):
        """Events newer than revision, or None when the log no longer reaches back that far (410 Gone)."""
        with self.lock:
            if len(self.log) == self.log.maxlen and revision < self.log[0][0] - 1:
                return None
            return [event for event in self.log if event[0] > revision]
