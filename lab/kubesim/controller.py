"""A minimal Deployment controller, as the real one behaves for rollouts and undo.

On every change of a Deployment: find the owned ReplicaSet whose template
equals the Deployment's (ignoring pod-template-hash) or create one, give it the
next revision (deployment.kubernetes.io/revision, as the real controller does
when an old ReplicaSet becomes current again), scale it to the Deployment's
replicas and every other owned ReplicaSet to 0, and write status. Pods are not
simulated: a ReplicaSet is ready at once unless an image contains
"never-ready", which keeps the rollout stuck for wait-timeout tests.
"""

import copy
import hashlib
import json

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
DEPLOYMENTS = ("apps", "v1", "deployments")
REPLICASETS = ("apps", "v1", "replicasets")
# Deployment annotations the controller does not copy to its ReplicaSets (as in the real controller).
NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION,
              "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
              "deployment.kubernetes.io/max-replicas"}


def pruned(value):
    """Without null and empty fields: a real API server's defaulting makes such templates equal.

    The collection's kubernetes.py has its own copy on purpose: the simulator shares no code with
    the client it is used to check."""
    if isinstance(value, dict):
        value = dict((k, pruned(v)) for k, v in value.items())
        return dict((k, v) for k, v in value.items() if v not in (None, {}, []))
    if isinstance(value, list):
        return [pruned(item) for item in value]
    return value


def template_without_hash(template):
    template = pruned(copy.deepcopy(template or {}))
    template.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    return pruned(template)


def template_hash(template):
    digest = hashlib.sha256(json.dumps(template_without_hash(template), sort_keys=True).encode()).hexdigest()
    return digest[:10]


def owned_by(obj, owner):
    return any(ref.get("uid") == owner["metadata"]["uid"] and ref.get("controller")
               for ref in obj["metadata"].get("ownerReferences", []))


def never_ready(template):
    return any("never-ready" in c.get("image", "") for c in template.get("spec", {}).get("containers", []))


def reconcile_deployment(store, namespace, name):
    deployment = store.get(DEPLOYMENTS, namespace, name)
    spec = deployment.get("spec", {})
    if spec.get("paused"):
        return
    owned = [rs for rs in store.list(REPLICASETS, namespace) if owned_by(rs, deployment)]
    revisions = [int(rs["metadata"].get("annotations", {}).get(REVISION, "0")) for rs in owned]
    wanted = template_without_hash(spec.get("template"))
    current = [rs for rs in owned if template_without_hash(rs["spec"]["template"]) == wanted]
    replicas = spec.get("replicas", 1)
    annotations = dict((k, v) for k, v in (deployment["metadata"].get("annotations") or {}).items()
                       if k not in NOT_COPIED)
    if current:
        new_rs = current[0]
        revision = int(new_rs["metadata"].get("annotations", {}).get(REVISION, "0"))
        if revision != max(revisions):
            revision = max(revisions) + 1
    else:
        revision = max(revisions + [0]) + 1
        new_rs = _new_replicaset(deployment, spec, namespace)
    new_rs["metadata"]["annotations"] = dict(annotations, **{REVISION: str(revision)})
    for rs in owned:
        if rs["metadata"]["name"] != new_rs["metadata"]["name"] and rs["spec"].get("replicas", 0) != 0:
            rs["spec"]["replicas"] = 0
            rs = store.replace(REPLICASETS, namespace, rs["metadata"]["name"], rs)
            _replicaset_status(store, namespace, rs)
    new_rs["spec"]["replicas"] = replicas
    if current:
        new_rs = store.replace(REPLICASETS, namespace, new_rs["metadata"]["name"], new_rs)
    else:
        new_rs = store.create(REPLICASETS, namespace, new_rs)
    ready = _replicaset_status(store, namespace, new_rs)
    deployment = store.get(DEPLOYMENTS, namespace, name)
    deployment["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
    deployment = store.replace(DEPLOYMENTS, namespace, name, deployment)
    progress = "has successfully progressed" if ready == replicas else "is progressing"
    deployment["status"] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": replicas - ready,
        "conditions": [
            {"type": "Available", "status": "True" if ready == replicas else "False",
             "reason": "MinimumReplicasAvailable" if ready == replicas else "MinimumReplicasUnavailable",
             "message": "Deployment %s minimum availability." % ("has" if ready == replicas else "does not have")},
            {"type": "Progressing", "status": "True",
             "reason": "NewReplicaSetAvailable" if ready == replicas else "ReplicaSetUpdated",
             "message": 'ReplicaSet "%s" %s.' % (new_rs["metadata"]["name"], progress)},
        ],
    }
    store.replace(DEPLOYMENTS, namespace, name, deployment, subresource="status")


def _new_replicaset(deployment, spec, namespace):
    template = copy.deepcopy(spec.get("template", {}))
    hash_value = template_hash(template)
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_value
    selector = copy.deepcopy(spec.get("selector", {}))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_value
    return {
        "metadata": {
            "name": "%s-%s" % (deployment["metadata"]["name"], hash_value),
            "namespace": namespace,
            "labels": dict(template["metadata"]["labels"]),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"],
                                 "uid": deployment["metadata"]["uid"], "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }


def _replicaset_status(store, namespace, rs):
    replicas = rs["spec"].get("replicas", 0)
    ready = 0 if never_ready(rs["spec"]["template"]) else replicas
    rs["status"] = {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                    "fullyLabeledReplicas": replicas, "observedGeneration": rs["metadata"].get("generation", 1)}
    store.replace(REPLICASETS, namespace, rs["metadata"]["name"], rs, subresource="status")
    return ready


REVISIONS = ("apps", "v1", "controllerrevisions")
HISTORY_KINDS = {("apps", "v1", "statefulsets"): "StatefulSet", ("apps", "v1", "daemonsets"): "DaemonSet"}


def reconcile_history(store, resource, namespace, name):
    """StatefulSets and DaemonSets keep their history in ControllerRevisions, as the real controllers do:
    data is a patch that replaces spec.template; an old revision that becomes current gets the next number."""
    obj = store.get(resource, namespace, name)
    owned = [r for r in store.list(REVISIONS, namespace) if owned_by(r, obj)]
    template = obj["spec"].get("template", {})
    wanted = template_without_hash(template)
    numbers = [r.get("revision", 0) for r in owned]
    same = [r for r in owned if template_without_hash(dict(
        (k, v) for k, v in r["data"]["spec"]["template"].items() if k != "$patch")) == wanted]
    if same:
        revision = same[0]
        if revision["revision"] != max(numbers):
            revision["revision"] = max(numbers) + 1
            revision = store.replace(REVISIONS, namespace, revision["metadata"]["name"], revision)
    else:
        data_template = copy.deepcopy(template)
        data_template["$patch"] = "replace"
        revision = store.create(REVISIONS, namespace, {
            "metadata": {"name": "%s-%s" % (name, template_hash(template)), "namespace": namespace,
                         "labels": dict((obj["spec"].get("selector") or {}).get("matchLabels", {})),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": HISTORY_KINDS[resource], "name": name,
                                              "uid": obj["metadata"]["uid"], "controller": True}]},
            "data": {"spec": {"template": data_template}}, "revision": max(numbers + [0]) + 1})
    ready = 0 if never_ready(template) else None
    obj = store.get(resource, namespace, name)
    generation = obj["metadata"]["generation"]
    if resource[2] == "statefulsets":
        replicas = obj["spec"].get("replicas", 1)
        ready = replicas if ready is None else ready
        obj["status"] = {"observedGeneration": generation, "replicas": replicas, "readyReplicas": ready,
                         "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": ready,
                         "currentRevision": revision["metadata"]["name"],
                         "updateRevision": revision["metadata"]["name"]}
    else:
        desired = 3  # nodes of the simulated cluster
        ready = desired if ready is None else ready
        obj["status"] = {"observedGeneration": generation, "desiredNumberScheduled": desired,
                         "currentNumberScheduled": desired, "updatedNumberScheduled": desired,
                         "numberReady": ready, "numberAvailable": ready, "numberMisscheduled": 0}
    store.replace(resource, namespace, name, obj, subresource="status")
