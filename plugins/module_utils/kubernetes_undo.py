# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``kubectl rollout undo`` for Deployments, StatefulSets and DaemonSets, then ``kubectl rollout status``.

Deployment (kubectl pkg/polymorphichelpers/rollback.go, DeploymentRollbacker and deploymentRevision):
the ReplicaSets the Deployment controls (ownerReferences, not only the selector); the revision to
return to is the second highest ReplicaSet revision (or exactly ``to_revision``), never one derived
from the Deployment's own revision annotation, which can be stale (exported YAML, a failed status
update); the revision's template without pod-template-hash and one JSON patch that replaces
spec.template and metadata.annotations (kubectl's annotation rule).

StatefulSet and DaemonSet (StatefulSetRollbacker, DaemonSetRollbacker): the ControllerRevisions they
control; the revision's data is the strategic merge patch kubectl sends. OnDelete is refused before
anything changes when the undo is to be waited for: the controller does not replace such pods.

In check mode the same patch goes to the API server as a server-side dry run, so RBAC, validation and
admission are proved before the real run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.rollback.core.plugins.module_utils import kubernetes_gitops as gitops
from ansible_collections.rollback.core.plugins.module_utils import undo_record
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import (
    HASH_LABEL, PLURAL, Kube, controlled_by, images, pruned, selector_of, template_without_hash)
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_wait import on_delete, wait_for_rollout
from ansible_collections.rollback.core.plugins.module_utils.wait import wait_until

REVISION = "deployment.kubernetes.io/revision"
# kubectl's annotationsToSkip: kept from the Deployment; every other annotation comes from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset([
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
    "apps.kubernetes.io/deprecated-deployment-rollback-to",
])


def undo(module, waiter):
    params = module.params
    kind, name, namespace = params["kind"], params["name"], params["namespace"]
    kube = Kube(params, dry_run=module.check_mode)
    what = "%s %s/%s" % (kind.lower(), namespace, name)
    obj = _observed(kube, kind, namespace, name, params, what)
    if kind == "Deployment" and obj["spec"].get("paused"):
        raise RollbackError("%s is paused: resume it first (kubectl rollout resume), then undo" % what)
    if kind != "Deployment" and on_delete(obj):
        if params["wait"]:
            raise RollbackError("%s has updateStrategy OnDelete: its pods change only when deleted, so the undo "
                                "cannot be waited for (kubectl rollout status refuses it too); give wait: false "
                                "and delete its pods, or switch it to RollingUpdate" % what)
        module.warn("%s has updateStrategy OnDelete: its pods keep the current version until deleted" % what)
    record = undo_record.decode((obj["metadata"].get("annotations") or {}).get(undo_record.ANNOTATION),
                                "annotation %s of %s" % (undo_record.ANNOTATION, what))
    now = dict(version=images(obj["spec"]["template"]), template=_fingerprint(obj["spec"]["template"]))
    if not params["to_revision"] and undo_record.settled(record, now):
        # Nothing deployed since this module's last undo: a second kubectl rollout undo would go forward again.
        return dict(changed=False, already_rolled_back=True, undo_record=record, from_version=now["version"],
                    to_version=now["version"], revision=record["to"].get("revision"),
                    from_revision=record["to"].get("revision"), api_server=kube.server)
    plan = _deployment_plan if kind == "Deployment" else _history_plan
    template, patch, target, current = plan(kube, obj, params["to_revision"], what)
    result = module.changed_result(pruned(obj["spec"]["template"]), pruned(template),
                                   from_version=now["version"], to_version=images(template),
                                   revision=target, from_revision=current, api_server=kube.server,
                                   already_rolled_back=False, undo_record=record)
    if not result["changed"]:
        return result
    gitops.guard(module, kube, obj, what)
    result["undo_record"] = undo_record.make(
        dict(now, revision=current),
        dict(version=images(template), template=_fingerprint(template), revision=target), params["run_id"])
    kube.patch(PLURAL[kind], namespace, name, _recorded(kind, patch, result["undo_record"]))  # check mode: dry run
    if not module.check_mode:
        wait_for_rollout(kube, waiter, kind, namespace, name)
    return result


def _fingerprint(template):
    return undo_record.fingerprint(template_without_hash(template))


def _recorded(kind, patch, record):
    """The undo's patch with its record as the annotation, so the change and its record are one write."""
    text = undo_record.encode(record)
    if kind == "Deployment":  # a JSON patch replacing metadata.annotations (kubectl's annotation rule)
        patch = copy.deepcopy(patch)
        next(op for op in patch if op["path"] == "/metadata/annotations")["value"][undo_record.ANNOTATION] = text
        return patch
    return dict(patch, metadata=dict(annotations={undo_record.ANNOTATION: text}))  # a strategic merge patch


def _observed(kube, kind, namespace, name, params, what):
    """The object once its controller has seen its latest spec (status.observedGeneration, what kubectl
    rollout status checks first). Right after a deploy the new ReplicaSet or ControllerRevision may not
    exist yet: the 'previous' revision would then be the release being rolled back to itself."""
    seen = {}

    def probe():
        seen["obj"] = obj = kube.get(PLURAL[kind], namespace, name)
        observed = (obj.get("status") or {}).get("observedGeneration", 0)
        generation = obj["metadata"].get("generation", 0)
        return observed >= generation, "generation %s, observed %s" % (generation, observed)

    wait_until(probe, "the controller to observe the latest spec of " + what, params["wait_timeout"],
               params["wait_sleep"])
    return seen["obj"]


def _deployment_plan(kube, deployment, to_revision, what):
    owned = [rs for rs in kube.list("replicasets", deployment["metadata"]["namespace"],
                                    selector_of(deployment)).get("items", []) if controlled_by(rs, deployment)]
    by_revision = {}
    for rs in owned:
        revision = _revision(rs)
        if revision is not None:
            by_revision.setdefault(revision, rs)
    latest = sorted(by_revision, reverse=True)
    current = _current_revision(deployment, by_revision) or (latest[0] if latest else None)
    if to_revision:
        target = to_revision
    elif len(latest) < 2:
        raise RollbackError("%s has no revision before %s to roll back to" % (what, latest[0] if latest else 0))
    else:
        target = latest[1]  # kubectl: the second highest revision, whatever the Deployment's annotation says
    if target not in by_revision:
        raise RollbackError("revision %d of %s not found; available: %s" % (
            target, what, ", ".join(str(r) for r in sorted(by_revision)) or "none"))
    replicaset = by_revision[target]
    template = copy.deepcopy(replicaset["spec"]["template"])
    (template.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    annotations = dict((k, v) for k, v in (deployment["metadata"].get("annotations") or {}).items()
                       if k in ANNOTATIONS_TO_SKIP)
    annotations.update((k, v) for k, v in (replicaset["metadata"].get("annotations") or {}).items()
                       if k not in ANNOTATIONS_TO_SKIP)
    patch = [{"op": "replace", "path": "/spec/template", "value": template},
             {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
    return template, patch, target, current


def _revision(replicaset):
    """deploymentutil.Revision: no annotation is revision 0, an unreadable one is skipped."""
    try:
        return int((replicaset["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return None


def _current_revision(deployment, by_revision):
    """The revision of the ReplicaSet whose template is the Deployment's (kubectl's FindNewReplicaSet)."""
    wanted = template_without_hash(deployment["spec"]["template"])
    return next((revision for revision, rs in sorted(by_revision.items())
                 if template_without_hash(rs["spec"]["template"]) == wanted), None)


def _history_plan(kube, obj, to_revision, what):
    listed = kube.list("controllerrevisions", obj["metadata"]["namespace"], selector_of(obj))
    history = sorted((r for r in listed.get("items", []) if controlled_by(r, obj)), key=lambda r: r.get("revision", 0))
    by_revision = dict((r.get("revision", 0), r) for r in history)
    wanted = pruned(obj["spec"]["template"])
    current = next((number for number, r in sorted(by_revision.items(), reverse=True)
                    if pruned(_without_directive(r["data"]["spec"]["template"])) == wanted),
                   history[-1].get("revision") if history else None)
    if to_revision:
        target = to_revision
    elif len(history) < 2:
        raise RollbackError("%s has no revision before %s to roll back to" % (
            what, history[-1].get("revision") if history else "the current one"))
    else:
        target = history[-2].get("revision")  # kubectl findHistory: the second highest revision
    if target not in by_revision:
        raise RollbackError("revision %d of %s not found; available: %s" % (
            target, what, ", ".join(str(r) for r in sorted(by_revision)) or "none"))
    data = by_revision[target]["data"]
    return _without_directive(data["spec"]["template"]), data, target, current


def _without_directive(template):
    return dict((k, v) for k, v in template.items() if k != "$patch")
