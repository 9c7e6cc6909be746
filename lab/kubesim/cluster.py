"""The simulated cluster: the API server's logic plus the controllers, on one clock.

The controllers run in a background thread, never inside a request: a PATCH returns before any
controller has seen it (status.observedGeneration lags metadata.generation, as on a cluster). After
every change they run again until nothing changes, and they sleep until the next change or the next
time something is due (a pod turning Ready, a container stopping, a progress deadline, the HPA period).
"""

import sys
import threading
import time

from .apiserver import ApiServer
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .events import Recorder
from .collector import GarbageCollector
from .hpa import HpaController
from .pods import NODES, Kubelet, node_object
from .replicaset import ReplicaSetController
from .resources import RESOURCES
from .settings import Settings
from .statefulset import StatefulSetController
from .store import ApiError

MAX_PASSES = 50  # controller passes per wake-up before sleeping until the next change or due time


def handle_error(error, where):
    """A controller's handleErr: a vanished object or a conflict (404, 409) is retried on the next pass; a
    refusal because the namespace is terminating is dropped (replica_set.go and the controllers' handleErr:
    HasStatusCause(err, NamespaceTerminatingCause)); anything else is reported (utilruntime.HandleError) and
    retried. The controller loop itself never stops on an API error."""
    causes = (error.details or {}).get("causes") or []
    if error.code in (404, 409) or any(cause.get("reason") == "NamespaceTerminating" for cause in causes):
        return
    sys.stderr.write("kubesim: %s: %s %s\n" % (where, error.code, error.message))


class Cluster:
    def __init__(self, settings=None):
        self.settings = settings or Settings()
        self.api = ApiServer()
        self.recorder = Recorder(self.api)
        self._due = {}  # controller -> monotonic time it asked for its next pass
        self._syncing = None
        self._stopped = threading.Event()
        namespaces = RESOURCES[("", "v1", "namespaces")]
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(namespaces, None, {"metadata": {"name": name}})
        for index in range(1, self.settings.nodes + 1):
            self.api.create(NODES, None, node_object("kubesim-node-%d" % index))
        self.controllers = [DeploymentController(self), ReplicaSetController(self), StatefulSetController(self),
                            DaemonSetController(self), Kubelet(self), HpaController(self), GarbageCollector(self)]
        self.thread = threading.Thread(target=self._run, name="kubesim-controllers", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self._stopped.set()
        with self.api.store.changed:
            self.api.store.changed.notify_all()

    def requeue_at(self, monotonic):
        """Ask for a pass of the controller being synced at this time (controllers' enqueueAfter)."""
        due = self._due.get(self._syncing)
        if due is None or monotonic < due:
            self._due[self._syncing] = monotonic

    def each(self, resource, sync):
        """sync(obj) for every object of a kind; one that vanished or changed meanwhile (404, 409) is synced
        again on the next pass, as a controller's work queue retries."""
        for obj in self.api.store.list(resource)[0]:
            try:
                sync(obj)
            except ApiError as error:
                handle_error(error, "%s %s" % (resource.plural, obj["metadata"]["name"]))

    def run_once(self, only=None):
        """Controller passes until the store stops changing; returns the revision the last pass saw. ``only``: the
        controllers whose time came (nothing changed since), for the first pass; a change wakes them all, as it
        reaches every informer. Each controller's sync holds the store; requests waiting for it go first between
        two syncs, as the API server answers while the controllers work (they are other processes on a cluster).
        Held across every pass, a 100-Deployment store kept each GET waiting 0.5-1.3 s."""
        store = self.api.store
        for _pass in range(MAX_PASSES):
            before = store.revision
            for controller in self.controllers:
                if only is not None and controller not in only:
                    continue
                with store.lock:
                    self._due.pop(controller, None)  # it asks again if it still needs a pass
                    self._syncing = controller
                    try:
                        controller.sync()
                    except ApiError as error:
                        handle_error(error, type(controller).__name__)
                    finally:
                        self._syncing = None
                # The lock is not fair: a request woken by its release gets it only if this thread lets go of the
                # interpreter before it takes the lock again.
                time.sleep(0)
            if store.revision == before:
                # The revision this pass saw unchanged: a request that comes after the check is still to be seen
                # (the store is not held here, so the revision read now could include it).
                return before
            only = None
        return store.revision

    def _run(self):
        """Woken by a change, every controller looks; woken by a time a controller asked for (the HPA period, a pod
        turning Ready), only the controllers whose time came: an idle cluster holding many objects costs a pass of
        one controller per period, not of all of them (each upstream controller has its own work queue)."""
        store = self.api.store
        seen, only = 0, None
        while not self._stopped.is_set():
            seen = self.run_once(only)
            with store.changed:
                if store.revision != seen or self._stopped.is_set():
                    only = None
                    continue
                due = min(self._due.values()) if self._due else None
                store.changed.wait(max(0.0, due - time.monotonic()) if due is not None else 5.0)
                now = time.monotonic()
                timed = [controller for controller, at in self._due.items() if at <= now + 0.001]
                only = None if store.revision != seen or not timed else timed
