"""pkg/controller/deployment/util/deployment_util.go (and progress.go's calculateStatus): revisions, the
new ReplicaSet's annotations, maxSurge/maxUnavailable, completeness, progress and timeout checks."""

import time

from . import meta
from .resources import RESOURCES
from .store import clone, parse_time

DEPLOYMENTS = RESOURCES[("apps", "v1", "deployments")]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
# deployment_util.go annotationsToSkip: never copied from the Deployment to its ReplicaSets.
SKIP_COPY = ("kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED, MAX,
             "deprecated.deployment.rollback.to")
MAX_REV_HISTORY_CHARS = 2000  # sync.go maxRevHistoryLengthInChars


def revision(rs):
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def replicas(rs):
    return rs["spec"].get("replicas", 1) if rs else 0


def rs_status(rs, field):
    return (rs.get("status") or {}).get(field, 0) if rs else 0


def template_key(template):
    template = _semantic(template or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    if not labels:
        (template.get("metadata") or {}).pop("labels", None)
    if not template.get("metadata"):
        template.pop("metadata", None)
    return template


def _semantic(value):
    """apiequality.Semantic: empty and nil maps and slices are equal."""
    if isinstance(value, dict):
        return dict((k, _semantic(v)) for k, v in value.items() if v not in ({}, [], None))
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def equal_ignore_hash(a, b):
    return template_key(a) == template_key(b)


def by_creation(rss):
    """controller.ReplicaSetsByCreationTimestamp: creation time, then name."""
    return sorted(rss, key=lambda rs: (parse_time(rs["metadata"].get("creationTimestamp")), rs["metadata"]["name"]))


def find_new(d, rss):
    """FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's (EqualIgnoreHash)."""
    wanted = template_key(d["spec"]["template"])
    return next((rs for rs in by_creation(rss) if template_key(rs["spec"]["template"]) == wanted), None)


def resolve_fenceposts(d):
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = d["spec"].get("replicas", 1)
    surge = meta.scaled_value(rolling.get("maxSurge", 0), desired, True)
    unavailable = meta.scaled_value(rolling.get("maxUnavailable", 0), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d):
    return (d["spec"].get("strategy") or {}).get("type") == "RollingUpdate"


def max_surge(d):
    return resolve_fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d):
    if not is_rolling(d) or d["spec"].get("replicas", 1) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], d["spec"].get("replicas", 1))


def has_progress_deadline(d):
    deadline = d["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != 2 ** 31 - 1


def set_replicas_annotations(rs, desired, maximum):
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = annotations.get(DESIRED) != str(desired) or annotations.get(MAX) != str(maximum)
    annotations[DESIRED], annotations[MAX] = str(desired), str(maximum)
    return changed


def set_new_rs_annotations(d, rs, new_revision, exists):
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations (only add or overwrite), raise the
    revision, keep the replaced revisions in revision-history when an old ReplicaSet becomes new again."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key in SKIP_COPY or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    old = annotations.get(REVISION)
    try:
        old_value = int(old) if old else 0
    except ValueError:
        return changed
    if old_value < int(new_revision):
        annotations[REVISION] = new_revision
        changed = True
        if old:
            history = annotations.get(REVISION_HISTORY, "")
            entries = history.split(",") if history else []
            total = len(history) + len(old) + 1
            while total > MAX_REV_HISTORY_CHARS and entries:
                total -= len(entries.pop(0)) + 1
            if total <= MAX_REV_HISTORY_CHARS:
                annotations[REVISION_HISTORY] = ",".join(entries + [old])
    if not exists and set_replicas_annotations(rs, d["spec"].get("replicas", 1),
                                               d["spec"].get("replicas", 1) + max_surge(d)):
        changed = True
    return changed


def new_rs_new_replicas(d, all_rss, new_rs):
    if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
        return d["spec"].get("replicas", 1)
    desired = d["spec"].get("replicas", 1)
    surge = meta.scaled_value(((d["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", 0),
                              desired, True)
    current = sum(replicas(rs) for rs in all_rss if rs)
    most = desired + surge
    if current >= most:
        return replicas(new_rs)
    return replicas(new_rs) + min(most - current, desired - replicas(new_rs))


def deployment_complete(d, status):
    desired = d["spec"].get("replicas", 1)
    return (status.get("updatedReplicas", 0) == desired and status.get("replicas", 0) == desired
            and status.get("availableReplicas", 0) == desired
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))


def deployment_progressing(d, new):
    old = d.get("status") or {}
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
            or new.get("replicas", 0) - new.get("updatedReplicas", 0) < old.get("replicas", 0) - old.get(
                "updatedReplicas", 0)
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def deployment_timed_out(d, new):
    if not has_progress_deadline(d):
        return False
    found = meta.condition(new, "Progressing")
    if not found or found.get("reason") == "NewReplicaSetAvailable":
        return False
    if found.get("reason") == "ProgressDeadlineExceeded":
        return True
    return parse_time(found.get("lastUpdateTime")) + d["spec"]["progressDeadlineSeconds"] < time.time()


def calculate_status(all_rss, new_rs, d):
    """progress.go calculateStatus (sync.go in older trees)."""
    rss = [rs for rs in all_rss if rs]
    available = sum(rs_status(rs, "availableReplicas") for rs in rss)
    total = sum(replicas(rs) for rs in rss)
    status = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": sum(rs_status(rs, "replicas") for rs in rss),
        "updatedReplicas": rs_status(new_rs, "replicas"),
        "readyReplicas": sum(rs_status(rs, "readyReplicas") for rs in rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
        "terminatingReplicas": sum(rs_status(rs, "terminatingReplicas") for rs in rss),
        "conditions": clone((d.get("status") or {}).get("conditions") or []),
    }
    collisions = (d.get("status") or {}).get("collisionCount")
    if collisions is not None:
        status["collisionCount"] = collisions
    if available >= d["spec"].get("replicas", 1) - max_unavailable(d):
        meta.set_condition(status, meta.new_condition("Available", "True", "MinimumReplicasAvailable",
                                                      "Deployment has minimum availability."))
    else:
        meta.set_condition(status, meta.new_condition("Available", "False", "MinimumReplicasUnavailable",
                                                      "Deployment does not have minimum availability."))
    return status


def omit_empty(status):
    """The API's omitempty: zero counts and empty conditions are not serialised."""
    for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
                  "observedGeneration"):
        if not status.get(field):
            status.pop(field, None)
    if not status.get("conditions"):
        status.pop("conditions", None)
    return status
