"""core/v1 Events as client-go's EventRecorder writes them: one per object, reason and message, with a
count and lastTimestamp when the same event repeats (the recorder's EventCorrelator aggregation)."""

from . import meta
from .resources import RESOURCES
from .store import ApiError, now

EVENTS = RESOURCES[("", "v1", "events")]


class Recorder:
    def __init__(self, api):
        self.api = api

    def event(self, obj, kind, reason, message, component):
        """Writes the event; one the API server rejects is dropped, never raised to the controller: client-go's
        recordToSink logs a StatusError as "Server rejected event ... (will not retry!)" and goes on (a pod that
        starts while its namespace is terminating is refused its Started event, with cause NamespaceTerminating)."""
        try:
            return self._write(obj, kind, reason, message, component)
        except ApiError:
            return None

    def _write(self, obj, kind, reason, message, component):
        namespace = obj["metadata"].get("namespace") or "default"
        involved = {"kind": obj["kind"], "namespace": obj["metadata"].get("namespace", ""),
                    "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"], "apiVersion": obj["apiVersion"],
                    "resourceVersion": obj["metadata"].get("resourceVersion", "")}
        # The name is made from what aggregates (the object's uid, the reason, the message), so the event to count
        # again is found by name, as the correlator finds it in its cache by that key (events_cache.go
        # eventObserve): not by listing every event of the namespace for each one written.
        name = "%s.%x" % (obj["metadata"]["name"], int(meta.fnv32a((involved["uid"] + reason + message).encode())))
        event = self.api.store.find(EVENTS, namespace, name)
        stamp = now()
        if event is not None and event["involvedObject"].get("uid") == involved["uid"] and (
                event.get("reason"), event.get("message")) == (reason, message):
            event["count"] = event.get("count", 1) + 1
            event["lastTimestamp"] = stamp
            event["metadata"].pop("resourceVersion", None)
            return self.api.update(EVENTS, namespace, name, event)
        return self.api.create(EVENTS, namespace, {
            "metadata": {"name": name, "namespace": namespace}, "involvedObject": involved, "reason": reason,
            "message": message, "type": kind, "count": 1, "firstTimestamp": stamp, "lastTimestamp": stamp,
            "source": {"component": component}, "reportingComponent": component, "reportingInstance": ""})
