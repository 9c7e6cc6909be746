# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop and resume a Deployment's or StatefulSet's traffic around a database restore.

Stopped means no pod of the workload exists any more, not only ``status.replicas == 0``: a
Terminating pod still holds its database connections for its grace period. The stop then checks
that nothing scaled the workload back (an autoscaler, a GitOps controller) while it waited.

Autoscalers it knows: a HorizontalPodAutoscaler stops acting on a target scaled to 0
(pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler: "scale.Spec.Replicas == 0 &&
minReplicas != 0" -> ScalingDisabled), except one allowed to scale to zero (minReplicas 0), which is
refused; a KEDA ScaledObject is paused with ``autoscaling.keda.sh/paused-replicas: "0"`` (kedacore/keda
controllers/keda/scaledobject_controller.go handlePause deletes its HPA and holds the target at that
count) and unpaused on resume, unless someone else had paused it. Replicas change through the
``/scale`` subresource, as the autoscalers change them.

The saved count is the count at the latest stop. It is kept in a label on the workload's own
metadata: the Deployment controller copies a Deployment's annotations to its ReplicaSets and
``kubectl rollout undo`` copies a ReplicaSet's annotations back (deployment/util
CopyDeploymentAnnotationsToReplicaSet, kubectl DeploymentRollbacker), so an annotation would come
back stale after a later undo; labels are copied neither way. With ``state_file`` the run keeps it
too. Resuming never scales a running workload down.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import tempfile

from ansible_collections.rollback.core.plugins.module_utils import kubernetes_gitops as gitops
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import (
    PLURAL, Kube, KubeError, controlled_by, selector_of)
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_wait import (
    on_delete, wait_for_rollout, wait_until_done)

SAVED = "rollback.core/replicas-before-stop"  # a label on the workload (an annotation in earlier versions)
KEDA_PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
KEDA_PAUSED = "autoscaling.keda.sh/paused"
PAUSED_BY_US = "rollback.core/paused-by-traffic"  # on a ScaledObject this module paused: it unpauses it


def kubernetes_traffic(module, waiter):
    params = module.params
    kind, name, namespace = params["kind"], params["name"], params["namespace"]
    kube = Kube(params, dry_run=module.check_mode)
    workload = Workload(kube, kind, namespace, name)
    obj = workload.read()
    state = StateFile(module, params["state_file"], workload.key) if params["state_file"] else None
    hpas, scaled_objects = _autoscalers(kube, obj, kind)
    if params["state"] == "stopped":
        result = _stop(module, waiter, workload, obj, hpas, scaled_objects, state)
    else:
        result = _start(module, waiter, workload, obj, scaled_objects, state)
    result["api_server"] = kube.server
    return result


class Workload:
    def __init__(self, kube, kind, namespace, name):
        self.kube, self.kind, self.namespace, self.name = kube, kind, namespace, name
        self.plural = PLURAL[kind]
        self.what = "%s %s/%s" % (kind.lower(), namespace, name)
        self.key = "%s/%s/%s" % (namespace, kind, name)

    def read(self):
        return self.kube.get(self.plural, self.namespace, self.name)

    def scale(self, replicas):
        self.kube.patch(self.plural, self.namespace, self.name, {"spec": {"replicas": replicas}}, "merge", sub="scale")

    def mark(self, saved, obj):
        """Write (or with None, remove) the saved-count label; drop the annotation earlier versions wrote."""
        patch = {"metadata": {"labels": {SAVED: None if saved is None else str(saved)}}}
        if SAVED in (obj["metadata"].get("annotations") or {}):
            patch["metadata"]["annotations"] = {SAVED: None}
        self.kube.patch(self.plural, self.namespace, self.name, patch, "merge")

    def pods(self, obj):
        """The pods this workload owns (through its ReplicaSets for a Deployment), Terminating ones included."""
        owners = [obj]
        if self.kind == "Deployment":
            owners = [rs for rs in self.kube.list("replicasets", self.namespace, selector_of(obj)).get("items", [])
                      if controlled_by(rs, obj)]
        listed = self.kube.list("pods", self.namespace, selector_of(obj)).get("items", [])
        return [pod for pod in listed if any(controlled_by(pod, owner) for owner in owners)]


def _stop(module, waiter, workload, obj, hpas, scaled_objects, state):
    replicas = obj["spec"].get("replicas", 1)
    label = _saved_label(obj)
    record = state.read(obj) if state else None
    saved = replicas if replicas > 0 else (label if label is not None else record)
    if replicas == 0 and saved is None:
        module.warn("%s already has 0 replicas and no saved count: resume will need replicas" % workload.what)
    for hpa in hpas:
        if (hpa["spec"].get("minReplicas", 1) or 0) == 0:
            text = ("%s is scaled by HorizontalPodAutoscaler %s with minReplicas 0, which keeps scaling a workload at "
                    "0 replicas" % (workload.what, hpa["metadata"]["name"]))
            if not module.params["force"]:
                raise RollbackError(text + ": set its minReplicas to 1 or delete it first, or give force: true")
            module.warn(text + ": stopped anyway (force)")
    to_pause = [so for so in scaled_objects if not _keda_paused(so)]
    for so in scaled_objects:
        if _keda_paused(so) and not _ours(so):
            module.warn("KEDA ScaledObject %s was already paused by someone else: left as it is, also on resume" %
                        so["metadata"]["name"])
    before = dict(replicas=replicas, saved=label, keda_paused=sorted(_name(so) for so in scaled_objects
                                                                     if _keda_paused(so)))
    after = dict(replicas=0, saved=saved, keda_paused=sorted(_name(so) for so in scaled_objects))
    result = module.changed_result(before, after, replicas_before=replicas, replicas_after=0, saved_replicas=saved,
                                   autoscalers=_describe(hpas, scaled_objects))
    if result["changed"]:
        gitops.guard(module, workload.kube, obj, workload.what)
        if saved is not None and (label != saved or SAVED in (obj["metadata"].get("annotations") or {})):
            workload.mark(saved, obj)  # first: a failure after it still knows the count
        if state and saved is not None and not module.check_mode:
            state.write(obj, saved)
        for so in to_pause:
            _keda_pause(workload, so, True)
        if replicas != 0:
            workload.scale(0)
    if module.check_mode:
        return result
    _wait_until_gone(workload, waiter)
    return result


def _wait_until_gone(workload, waiter):
    def read():
        obj = workload.read()
        return obj, workload.pods(obj)

    def check(found):
        obj, pods = found
        _still_stopped(workload, obj)
        if pods:
            terminating = sum(1 for pod in pods if pod["metadata"].get("deletionTimestamp"))
            return False, "%d pod(s) still exist (%d terminating): %s" % (
                len(pods), terminating, ", ".join(sorted(pod["metadata"]["name"] for pod in pods)[:5]))
        return True, "no pod left"

    if wait_until_done(workload.kube, waiter, read, check, "the pods of %s to be gone" % workload.what):
        _still_stopped(workload, workload.read())  # nothing scaled it back while the last pods ended


def _still_stopped(workload, obj):
    replicas = obj["spec"].get("replicas", 1)
    if replicas != 0:
        who = _replicas_manager(obj)
        raise RollbackError("%s was scaled back to %d replica(s) while stopping%s: an autoscaler or GitOps "
                            "controller is still acting on it; pause it and stop again" % (
                                workload.what, replicas, " (by %s)" % who if who else ""))


def _start(module, waiter, workload, obj, scaled_objects, state):
    replicas = obj["spec"].get("replicas", 1)
    label = _saved_label(obj)
    record = state.read(obj) if state else None
    if module.params["replicas"] is not None:
        target = module.params["replicas"]
    elif label is not None:
        target = label
    elif record is not None:
        target = record
    elif replicas > 0:
        target = replicas  # never stopped: nothing to resume
    else:
        raise RollbackError("%s has no saved replica count (label %s%s): give replicas to resume it" % (
            workload.what, SAVED, " or state_file" if state else ""))
    wanted = target
    if replicas > target:
        module.warn("%s runs %d replicas, more than the %d to resume with: left as it is (a resume never scales "
                    "down)" % (workload.what, replicas, target))
        wanted = replicas
    ours = [so for so in scaled_objects if _ours(so)]
    before = dict(replicas=replicas, saved=label, keda_paused=sorted(_name(so) for so in ours))
    after = dict(replicas=wanted, saved=None, keda_paused=[])
    result = module.changed_result(before, after, replicas_before=replicas, replicas_after=wanted,
                                   saved_replicas=label if label is not None else record)
    if result["changed"]:
        for so in ours:  # first: a KEDA still paused puts the paused count back (see _wait_until_unpaused)
            _keda_pause(workload, so, False)
        if ours and not module.check_mode:
            _wait_until_unpaused(workload, waiter, ours)
            replicas = workload.read()["spec"].get("replicas", 1)  # KEDA may have scaled it from zero meanwhile
        if wanted > replicas:
            workload.scale(wanted)
        if label is not None or SAVED in (obj["metadata"].get("annotations") or {}):
            workload.mark(None, obj)
    if state and record is not None and not module.check_mode:
        state.clear()
    if module.check_mode or wanted == 0:
        return result
    if workload.kind == "StatefulSet" and on_delete(obj):
        wait_until_done(workload.kube, waiter, workload.read, _pods_ready, "%s to be ready" % workload.what)
    else:
        wait_for_rollout(workload.kube, waiter, workload.kind, workload.namespace, workload.name)
    return result


def _wait_until_unpaused(workload, waiter, scaled_objects):
    """Wait until KEDA has reconciled the unpause: its Paused condition leaves True.

    KEDA's reconcile of a ScaledObject still paused scales the target back to the paused count when it
    differs, and a later one, unpaused, scales a target at 0 only to max(minReplicaCount, 1)
    (scaledobject_controller.go reconcileScaledObject: checkIfTargetResourceReachPausedCount; once the
    annotation is gone, SetPausedCondition(False, "ScaledObjectUnpaused")). A scale to the saved count before
    that acknowledgement can end at 1 replica. A ScaledObject without a Paused condition is not waited for.
    """
    pending = [_name(so) for so in scaled_objects if _paused_condition(so) == "True"]

    def read():
        return [workload.kube.get("scaledobjects", workload.namespace, name) for name in pending]

    def check(found):
        still = [_name(so) for so in found if _paused_condition(so) == "True"]
        if still:
            return False, "KEDA ScaledObject %s: Paused=True, the unpause is not reconciled yet (is KEDA running?)" % (
                ", ".join(still))
        return True, "KEDA unpaused %s" % ", ".join(pending)

    if pending:
        wait_until_done(workload.kube, waiter, read, check, "KEDA to unpause the autoscaling of %s" % workload.what)


def _paused_condition(so):
    return next((c.get("status") for c in (so.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Paused"), None)


def _pods_ready(obj):
    replicas, ready = obj["spec"].get("replicas", 1), (obj.get("status") or {}).get("readyReplicas", 0)
    return ready >= replicas, "%d of %d pods ready" % (ready, replicas)


def _saved_label(obj):
    value = (obj["metadata"].get("labels") or {}).get(SAVED)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise RollbackError("%s/%s has an unreadable saved replica count %r (label %s): give replicas" % (
            obj["metadata"]["namespace"], obj["metadata"]["name"], value, SAVED))


def _replicas_manager(obj):
    """The field manager that last wrote spec.replicas (server-side field tracking), if the server says."""
    latest = None
    for entry in obj["metadata"].get("managedFields") or []:
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            if latest is None or (entry.get("time") or "") >= (latest.get("time") or ""):
                latest = entry
    return latest.get("manager") if latest else None


def _autoscalers(kube, obj, kind):
    """(plain HPAs, KEDA ScaledObjects) that scale this workload; a cluster without KEDA has none."""
    namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]

    def targets(ref):
        return (ref or {}).get("name") == name and (ref or {}).get("kind", "Deployment") == kind

    hpas = [hpa for hpa in _listed(kube, "horizontalpodautoscalers", namespace)
            if targets(hpa["spec"].get("scaleTargetRef")) and not any(
                ref.get("kind") == "ScaledObject" for ref in hpa["metadata"].get("ownerReferences") or [])]
    scaled = [so for so in _listed(kube, "scaledobjects", namespace) if targets(so["spec"].get("scaleTargetRef"))]
    return hpas, scaled


def _listed(kube, resource, namespace):
    try:
        return kube.list(resource, namespace).get("items", [])
    except KubeError as error:
        if error.status == 404:  # the API (the KEDA CRD) is not installed
            return []
        raise


def _keda_paused(so):
    annotations = so["metadata"].get("annotations") or {}
    return KEDA_PAUSED_REPLICAS in annotations or annotations.get(KEDA_PAUSED, "false").lower() not in ("false", "0")


def _ours(so):
    return PAUSED_BY_US in (so["metadata"].get("annotations") or {})


def _keda_pause(workload, so, pause):
    value = {KEDA_PAUSED_REPLICAS: "0", PAUSED_BY_US: workload.key} if pause else {
        KEDA_PAUSED_REPLICAS: None, PAUSED_BY_US: None}
    workload.kube.patch("scaledobjects", workload.namespace, so["metadata"]["name"],
                        {"metadata": {"annotations": value}}, "merge")


def _name(obj):
    return obj["metadata"]["name"]


def _describe(hpas, scaled_objects):
    return (["HorizontalPodAutoscaler %s (minReplicas %s)" % (_name(h), h["spec"].get("minReplicas", 1)) for h in hpas]
            + ["KEDA ScaledObject %s" % _name(so) for so in scaled_objects])


class StateFile:
    """The run's own record of the saved counts (JSON, mode 0600), beside the label on the workload."""

    def __init__(self, module, path, key):
        self.module, self.path, self.key = module, path, key

    def _load(self):
        if not os.path.exists(self.path):
            return {}
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            raise RollbackError("state_file %s is unreadable: %s" % (self.path, error))
        if not isinstance(data, dict) or not isinstance(data.get("kubernetes", {}), dict):
            raise RollbackError("state_file %s does not hold saved replica counts" % self.path)
        return data

    def read(self, obj):
        entry = self._load().get("kubernetes", {}).get(self.key)
        if not entry or entry.get("uid") != obj["metadata"]["uid"]:
            return None  # another object of the same name (deleted and re-created) is not ours to resume
        return int(entry["replicas"])

    def write(self, obj, replicas):
        data = self._load()
        data.setdefault("kubernetes", {})[self.key] = dict(
            replicas=replicas, uid=obj["metadata"]["uid"],
            stopped_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self._save(data)

    def clear(self):
        data = self._load()
        if data.get("kubernetes", {}).pop(self.key, None) is not None:
            self._save(data)

    def _save(self, data):
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise RollbackError("state_file directory %s does not exist" % directory)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".rollback-traffic-")
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
        os.chmod(temporary, 0o600)
        self.module.atomic_move(temporary, os.path.abspath(self.path))
