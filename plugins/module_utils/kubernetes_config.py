# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ConfigMaps and Secrets restored from a backup manifest (runbook 001 level 2), then a rollout restart.

Only the objects of the backup are touched: each is compared on its data
(Secrets by their base64 ``data``, ``stringData`` folded in), written only when
different, and the current versions are saved before anything changes. Secret
values never appear in the diff or the result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import datetime
import os
import tempfile

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.config_backup import MASK, Masker, read_text
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import Kube, deployment_ready

try:
    import yaml
except ImportError:
    pass  # kubernetes.KUBERNETES_IMPORT_ERROR reports it (PyYAML comes with the kubernetes client)

KINDS = ("ConfigMap", "Secret")
PLURAL = {"ConfigMap": "configmaps", "Secret": "secrets"}
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


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
        normalized.append(dict(kind=obj["kind"], name=meta["name"],
                               namespace=meta.get("namespace") or default_namespace,
                               labels=meta.get("labels") or {}, type=obj.get("type"), data=_data(obj, path)))
    return normalized


def _data(obj, path):
    data = dict(obj.get("data") or {})
    if obj["kind"] == "Secret":
        for key, value in (obj.get("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except (ValueError, TypeError):
                raise RollbackError("backup %s Secret %s key %s is not base64 (use stringData for plain text)"
                                    % (path, obj["metadata"]["name"], key))
    else:
        data = dict((key, str(value)) for key, value in data.items())
        if obj.get("binaryData"):
            data.update(("binaryData:" + key, value) for key, value in obj["binaryData"].items())
    return data


def _current_data(obj, kind):
    data = dict(obj.get("data") or {})
    if kind == "ConfigMap" and obj.get("binary_data"):
        data.update(("binaryData:" + key, value) for key, value in obj["binary_data"].items())
    return data


def _body(item, current=None):
    data = dict((k, v) for k, v in item["data"].items() if not k.startswith("binaryData:"))
    binary = dict((k.split(":", 1)[1], v) for k, v in item["data"].items() if k.startswith("binaryData:"))
    meta = {"name": item["name"], "namespace": item["namespace"], "labels": item["labels"] or None}
    if current:
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
    body = {"apiVersion": "v1", "kind": item["kind"], "metadata": meta, "data": data}
    if binary:
        body["binaryData"] = binary
    if item["kind"] == "Secret":
        body["type"] = item["type"] or (current or {}).get("type") or "Opaque"
    return body


def _view(kind, data, masker):
    return dict((key, MASK if kind == "Secret" or masker.hides(key) else value) for key, value in data.items())


def restore(module, waiter):
    params = module.params
    items = load_manifest(params["backup"], params["namespace"])
    kube = Kube(params)
    masker = Masker(params["mask"])
    plan, saved, before, after = [], [], {}, {}
    for item in items:
        what = "%s %s/%s" % (item["kind"], item["namespace"], item["name"])
        try:
            current = kube.get(PLURAL[item["kind"]], item["namespace"], item["name"])
        except RollbackError as error:
            if error.details.get("status") != 404:
                raise
            current = None
        current_data = _current_data(current, item["kind"]) if current else None
        if current_data != item["data"]:
            plan.append((item, current, what))
            if current:
                saved.append(current)
            before[what] = None if current is None else _view(item["kind"], current_data, masker)
            after[what] = _view(item["kind"], item["data"], masker)
    result = dict(created=[w for _i, c, w in plan if c is None], updated=[w for _i, c, w in plan if c is not None],
                  unchanged=len(items) - len(plan), saved_to=None, restarted=[], changed=bool(plan))
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    if not plan or module.check_mode:
        return result
    if params["save_current_to"] and saved:
        result["saved_to"] = _save(module, saved, params["save_current_to"])
    for item, current, _what in plan:
        body = _body(item, current)
        if current:
            kube.replace(PLURAL[item["kind"]], item["namespace"], item["name"], body)
        else:
            kube.create(PLURAL[item["kind"]], item["namespace"], body)
    result["restarted"] = _restart(kube, params, waiter)
    return result


def _save(module, objects, path):
    """The current objects as a List manifest (mode 0600: Secrets), written atomically."""
    objects = copy.deepcopy(objects)
    for obj in objects:
        for field in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            obj.get("metadata", {}).pop(field, None)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RollbackError("cannot save the current objects: directory %s does not exist" % directory)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".rollback-save-")
    with os.fdopen(handle, "w") as stream:
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}, stream, default_flow_style=False)
    os.chmod(temporary, 0o600)
    module.atomic_move(temporary, os.path.abspath(path))
    return os.path.abspath(path)


def _restart(kube, params, waiter):
    """``kubectl rollout restart``: a new restartedAt annotation on each Deployment's template, then wait."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    restarted = []
    for name in params["restart"]:
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        kube.patch("deployments", params["namespace"], name, patch)
        restarted.append(name)
    for name in restarted:
        waiter.wait(lambda name=name: deployment_ready(kube.get("deployments", params["namespace"], name)),
                    "the restart of deployment %s/%s" % (params["namespace"], name))
    return restarted
