# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ConfigMaps and Secrets restored from a backup manifest (runbook 001 level 2), then a rollout restart.

Only the objects of the backup are touched and only their contents: each is compared on ``data``
and ``binaryData`` (Secrets on ``data``, ``stringData`` folded in, all base64 compared as bytes) and
changed by a merge patch of exactly those fields, carrying the resourceVersion read (a concurrent
change answers 409 instead of being overwritten). Labels, annotations (Helm's among them),
ownerReferences and finalizers stay as they are; a PUT would drop what the backup does not carry.

An immutable ConfigMap or Secret (``immutable: true``; a Secret's ``type`` too) cannot change: the
API server answers 422 (pkg/apis/core/validation ValidateConfigMapUpdate / ValidateSecretUpdate).
Such an object is deleted (preconditioned on its uid and resourceVersion) and created again with
the backup's contents and its own metadata only with ``replace_immutable``; otherwise the task
fails before any change, saying so. The current versions are saved before anything changes.
Secret values never appear in the diff or the result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import copy
import datetime
import time

from ansible_collections.rollback.core.plugins.module_utils import kubernetes_gitops as gitops
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.config_backup import MASK, Masker, check_save_dir, read_text
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import Kube, KubeError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_wait import wait_for_rollout
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write

try:
    import yaml
except ImportError:
    pass  # kubernetes.KUBERNETES_IMPORT_ERROR reports it (PyYAML comes with the kubernetes client)

KINDS = ("ConfigMap", "Secret")
PLURAL = {"ConfigMap": "configmaps", "Secret": "secrets"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "deletionTimestamp",
                 "deletionGracePeriodSeconds", "selfLink")


def load_manifest(path, default_namespace):
    """The ConfigMaps and Secrets of a backup (multi-document YAML or JSON, ``kind: List`` allowed)."""
    text = read_text(path, "backup")[1]
    try:
        documents = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as error:
        raise RollbackError("backup %s is not valid YAML/JSON: %s" % (path, str(error).splitlines()[0]))
    objects = []
    for document in documents:
        items = document.get("items", []) if isinstance(document, dict) and document.get("kind", "").endswith(
            "List") else [document]
        objects.extend(items)
    if not objects:
        raise RollbackError("backup %s holds no objects; refusing to restore an empty backup" % path)
    normalized = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
            raise RollbackError("backup %s object %d is %s: only ConfigMap and Secret are restored" % (
                path, index, obj.get("kind") if isinstance(obj, dict) else type(obj).__name__))
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            raise RollbackError("backup %s object %d (%s) has no metadata.name" % (path, index, obj["kind"]))
        what = "backup %s %s %s" % (path, obj["kind"], meta["name"])
        data, binary = _contents(obj, what)
        normalized.append(dict(kind=obj["kind"], name=meta["name"],
                               namespace=meta.get("namespace") or default_namespace,
                               labels=meta.get("labels") or {}, annotations=meta.get("annotations") or {},
                               type=obj.get("type"), immutable=obj.get("immutable"), data=data, binary=binary))
    return normalized


def _contents(obj, what):
    """(data, binaryData) as the API server stores them, base64 in canonical form so equal bytes compare equal."""
    if obj["kind"] == "Secret":
        data = dict((key, _canonical(value, what, key)) for key, value in (obj.get("data") or {}).items())
        for key, value in (obj.get("stringData") or {}).items():  # the API server folds stringData into data
            data[key] = base64.b64encode(_text(value, what, key).encode("utf-8")).decode("ascii")
        return data, {}
    data = dict((key, _text(value, what, key)) for key, value in (obj.get("data") or {}).items())
    binary = dict((key, _canonical(value, what, key)) for key, value in (obj.get("binaryData") or {}).items())
    return data, binary


def _text(value, what, key):
    if not isinstance(value, str):
        raise RollbackError("%s key %s is a %s, not a string (the API server refuses it; quote it)" % (
            what, key, type(value).__name__))
    return value


def _canonical(value, what, key):
    # Go's encoding/json decodes []byte with base64.StdEncoding, which skips \r and \n (YAML block scalars).
    text = _text(value, what, key).replace("\r", "").replace("\n", "")
    try:
        return base64.b64encode(base64.b64decode(text, validate=True)).decode("ascii")
    except (ValueError, binascii.Error):
        raise RollbackError("%s key %s is not base64 (use stringData for plain text)" % (what, key))


def _view(kind, data, binary, masker):
    view = dict((key, MASK if kind == "Secret" or masker.hides(key) else value) for key, value in data.items())
    view.update(("binaryData:" + key, "<%d bytes>" % len(base64.b64decode(value))) for key, value in binary.items())
    return view


def restore(module, waiter):
    params = module.params
    items = load_manifest(params["backup"], params["namespace"])
    check_save_dir(params["save_current_to"])
    kube = Kube(params, dry_run=module.check_mode)
    masker = Masker(params["mask"])
    plan, before, after = [], {}, {}
    for item in items:
        what = "%s %s/%s" % (item["kind"], item["namespace"], item["name"])
        current = _read(kube, item)
        contents = _contents(current, what) if current else None
        if contents == (item["data"], item["binary"]):
            continue
        action = "create" if current is None else ("replace" if _immutable_change(item, current) else "patch")
        plan.append((action, item, current, what))
        before[what] = None if current is None else _view(item["kind"], contents[0], contents[1], masker)
        after[what] = _view(item["kind"], item["data"], item["binary"], masker)
    refused = [what for action, _item, _current, what in plan if action == "replace"]
    if refused and not params["replace_immutable"]:
        raise RollbackError("immutable (immutable: true, or a Secret whose type differs), so the API server refuses "
                            "to change them (422): %s; give replace_immutable: true to delete and re-create them with "
                            "the backup's data (pods that mount them keep the old data until restarted)"
                            % ", ".join(refused))
    for _action, _item, current, what in plan:
        if current is not None:
            gitops.guard(module, kube, current, what)
    result = dict(created=[w for a, _i, _c, w in plan if a == "create"], updated=[w for a, _i, _c, w in plan
                                                                                  if a == "patch"],
                  replaced=[w for a, _i, _c, w in plan if a == "replace"], unchanged=len(items) - len(plan),
                  saved_to=None, restarted=[], changed=bool(plan), api_server=kube.server)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    if not plan:
        return result
    saved = [current for _a, _i, current, _w in plan if current is not None]
    if params["save_current_to"] and saved and not module.check_mode:
        result["saved_to"] = _save(saved, params["save_current_to"])
    for action, item, current, what in plan:
        if action == "create":
            kube.create(PLURAL[item["kind"]], item["namespace"], _new_object(item))
        elif action == "patch":
            kube.patch(PLURAL[item["kind"]], item["namespace"], item["name"], _contents_patch(item, current, what),
                       "merge")
        else:
            _replace(kube, item, current, module.check_mode)
    result["restarted"] = _restart(kube, params, waiter, module.check_mode)
    return result


def _read(kube, item):
    try:
        return kube.get(PLURAL[item["kind"]], item["namespace"], item["name"])
    except KubeError as error:
        if error.status != 404:
            raise
        return None


def _immutable_change(item, current):
    return bool(current.get("immutable")) or (
        item["kind"] == "Secret" and item["type"] is not None and item["type"] != (current.get("type") or "Opaque"))


def _contents_patch(item, current, what):
    """A merge patch of data/binaryData only: backup keys set, keys absent from the backup removed."""
    data, binary = _contents(current, what)
    patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}}
    for field, old, new in (("data", data, item["data"]), ("binaryData", binary, item["binary"])):
        change = dict((key, value) for key, value in new.items() if old.get(key) != value)
        change.update((key, None) for key in old if key not in new)
        if change:
            patch[field] = change
    return patch


def _new_object(item, current=None):
    """The object to create: the backup's contents; the current object's own metadata when re-creating it."""
    source = current["metadata"] if current else dict(labels=item["labels"], annotations=item["annotations"])
    meta = dict((key, copy.deepcopy(value)) for key, value in source.items()
                if key not in SERVER_FIELDS and value not in (None, {}, []))
    meta.update(name=item["name"], namespace=item["namespace"])
    body = {"apiVersion": "v1", "kind": item["kind"], "metadata": meta}
    if item["data"]:
        body["data"] = item["data"]
    if item["binary"]:
        body["binaryData"] = item["binary"]
    if item["kind"] == "Secret":
        body["type"] = item["type"] or (current or {}).get("type") or "Opaque"
    immutable = (current or {}).get("immutable") if item["immutable"] is None else item["immutable"]
    if immutable is not None:
        body["immutable"] = immutable
    return body


def _replace(kube, item, current, check_mode):
    """Delete (only this version of this object) and create it again; finalizers may hold the delete a while."""
    plural, meta = PLURAL[item["kind"]], current["metadata"]
    kube.delete(plural, item["namespace"], item["name"],
                preconditions={"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]})
    if check_mode:
        return  # a dry-run create would find the object still there
    deadline = time.monotonic() + kube.budget
    while _read(kube, item) is not None:
        if time.monotonic() > deadline:
            raise RollbackError("%s %s/%s was deleted but is still there after %.0fs (finalizers %s): create it "
                                "from the saved copy once it is gone" % (
                                    item["kind"], item["namespace"], item["name"], kube.budget,
                                    ", ".join(meta.get("finalizers") or []) or "none"))
        time.sleep(0.2)
    kube.create(plural, item["namespace"], _new_object(item, current))


def _save(objects, path):
    """The current objects as a List manifest (mode 0600: Secrets), written atomically."""
    objects = copy.deepcopy(objects)
    for obj in objects:
        for field in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            obj.get("metadata", {}).pop(field, None)
    return atomic_write(path, yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects},
                                             default_flow_style=False), mode=0o600, what="saved objects")


def _restart(kube, params, waiter, check_mode):
    """``kubectl rollout restart``: a new restartedAt annotation on each Deployment's template, then wait."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    restarted = []
    for name in params["restart"]:
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        kube.patch("deployments", params["namespace"], name, patch)
        restarted.append(name)
    if not check_mode:
        for name in restarted:
            wait_for_rollout(kube, waiter, "Deployment", params["namespace"], name)
    return restarted
