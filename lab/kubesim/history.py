"""ControllerRevisions, as pkg/controller/history/controller_history.go keeps them for StatefulSets and
DaemonSets: the revision's data is the patch that restores the template ({"spec": {"template": {...,
"$patch": "replace"}}}, getPatch in both controllers), equal revisions are found by their data, an old
revision that becomes current again gets the next number (UpdateControllerRevision), and revisions no
live pod uses are pruned to revisionHistoryLimit (truncateHistory / cleanupHistory).
"""


from . import meta
from . import ownership
from .resources import RESOURCES
from .store import ApiError, clone

REVISIONS = RESOURCES[("apps", "v1", "controllerrevisions")]
HASH_LABEL = "controller.kubernetes.io/hash"


def patch_of(obj):
    template = clone(obj["spec"]["template"])
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def owned(api, owner):
    namespace = owner["metadata"]["namespace"]
    candidates = api.store.list(REVISIONS, namespace, copy=False)[0]
    return sorted(ownership.claim(api, REVISIONS, owner, candidates),
                  key=lambda r: (r.get("revision", 0), r["metadata"]["name"]))


def next_revision(revisions):
    return max([r.get("revision", 0) for r in revisions] + [0]) + 1


def find_equal(revisions, data):
    return [r for r in revisions if r.get("data") == data]


def create(api, owner, name, labels, data, number, annotations=None):
    namespace = owner["metadata"]["namespace"]
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {
        "name": name, "namespace": namespace, "labels": labels, "ownerReferences": [meta.controller_ref(owner)]},
        "data": data, "revision": number}
    if annotations:
        body["metadata"]["annotations"] = dict(annotations)
    try:
        return api.create(REVISIONS, namespace, body)
    except ApiError as error:
        if error.code != 409:
            raise
        found = api.store.get(REVISIONS, namespace, name)
        if found.get("data") == data and meta.owned_by(found, owner):
            return found
        raise


def renumber(api, revision, number):
    if revision.get("revision") == number:
        return revision
    updated = clone(revision)
    updated["revision"] = number
    return api.update(REVISIONS, revision["metadata"]["namespace"], revision["metadata"]["name"], updated)


def truncate(api, revisions, live_names, limit):
    history = [r for r in revisions if r["metadata"]["name"] not in live_names]
    for revision in history[:max(0, len(history) - (limit if limit is not None else 10))]:
        try:
            api.delete(REVISIONS, revision["metadata"]["namespace"], revision["metadata"]["name"])
        except ApiError as error:
            if error.code != 404:
                raise
