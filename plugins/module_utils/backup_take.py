# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking one restore point item, in the format and under the name its restore module reads.

- ``etcd``: the keys under a prefix, a flat JSON object (config_backup ``object``), as etcd_config_restore reads;
- ``kubernetes``: the named ConfigMaps and Secrets as a JSON ``List`` (contents, labels, annotations, type,
  immutable; no server fields), as k8s_config_restore reads;
- ``env_file``: the file's bytes, ``<name>.backup-<stamp>`` beside it by default, as env_file_restore reads;
- ``postgres``: ``pg_dump --format=custom`` (or ``directory`` with ``--jobs``), as postgres_restore reads;
- ``rds``: a manual DB snapshot tagged with the restore point and deploy id, waited for until available (a
  snapshot still ``creating`` is not taken by rds_snapshot_restore's ``latest``);
- ``marker``: what runs before the deploy (revision, image, release) and when, in the manifest; with
  ``marker_dir``, also the deploy marker file deploy_marker.py reads (status ``in_progress``: the deploy follows).

A file is written under a dot name and renamed when complete, so a failed or interrupted backup never becomes
"the newest backup" a rollback would restore. With ``encrypt``, a file item is streamed through age into
``<name>.age`` instead (backup_crypt.py; a ``pg_dump -Fc`` through a pipe): no plaintext is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.rollback.core.plugins.module_utils import restore_points as points
from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import SUFFIX
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.config_backup import dump_backup, read_text
from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import Marker as Deploy
from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import (
    MarkerError, marker_path, read_marker, write_marker)
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write, utc_iso

# Server-set and status fields a backup leaves out (the restore keeps the live object's own).
K8S_META_KEPT = ("name", "namespace", "labels", "annotations")


def target_path(directory, pattern, stamp_at=None):
    """A fresh path for the item: the pattern's ``*`` replaced by the time (to the microsecond)."""
    now = time.time() if stamp_at is None else stamp_at
    while True:
        stamp = "%s-%06d" % (points.name_stamp(now), int(now % 1 * 1e6))
        path = os.path.join(directory, points.file_name(pattern, stamp))
        if not os.path.lexists(path):
            return path
        now += 1e-6


def _partial(path):
    return os.path.join(os.path.dirname(path), ".%s.partial" % os.path.basename(path))


def _finish(partial, path):
    """Make the complete item visible under its name (0600 files, 0700 directories)."""
    points.secure_tree(partial)
    os.rename(partial, path)


def need_library(name, import_error):
    """The client library of one kind, imported only when that kind is taken (a module start stays light)."""
    if import_error is not None:
        raise RollbackError(missing_required_lib(name, reason="for this kind", url=None) + " (pip install %s)" % name)


def _require(params, names, kind):
    missing = [name for name in names if not params.get(name)]
    if missing:
        raise RollbackError("kind %s needs %s" % (kind, " and ".join(missing)))


class Item:
    """Plans and takes one kind of item: ``plan`` checks the input, ``take`` writes; both return item dicts.
    ``crypt``: the backup_crypt.Encryptor of ``encrypt``, or None."""

    def __init__(self, module, warnings, crypt=None):
        self.module = module
        self.params = module.params
        self.warnings = warnings
        self.crypt = crypt

    def file_plan(self, directory, pattern):
        directory = points.secure_dir(directory, self.warnings) if not self.module.check_mode else directory
        if self.crypt is not None:
            return dict(path=target_path(directory, pattern + SUFFIX))
        return dict(path=target_path(directory, pattern))

    def write(self, path, data, what):
        """The item's bytes to ``path`` (0600): encrypted when ``encrypt`` is given, atomically either way."""
        if self.crypt is not None:
            return self.crypt.write(path, data)
        return atomic_write(path, data, mode=points.FILE_MODE, what=what)


class Etcd(Item):
    def plan(self):
        _require(self.params, ("prefix", "backup_dir"), "etcd")
        from ansible_collections.rollback.core.plugins.module_utils.etcd import ETCD_IMPORT_ERROR, EtcdStore
        need_library("etcd3gw", ETCD_IMPORT_ERROR)
        self.store = EtcdStore(self.params)
        self.revision, self.keys = self.store.read_prefix(self.params["prefix"])
        if not self.keys:
            raise RollbackError("no etcd keys under %s at %s: nothing to back up" % (
                self.params["prefix"], self.store.endpoint))
        plan = self.file_plan(self.params["backup_dir"], self.params["backup_pattern"] or "etcd-*.json")
        plan.update(location=plan["path"], keys=len(self.keys), revision=self.revision, endpoint=self.store.endpoint)
        return plan

    def take(self, plan):
        self.write(plan["path"], dump_backup(self.keys, "object"), "etcd backup")
        return plan


class Kubernetes(Item):
    def plan(self):
        _require(self.params, ("backup_dir",), "kubernetes")
        names = [("ConfigMap", "configmaps", n) for n in self.params["configmaps"]]
        names += [("Secret", "secrets", n) for n in self.params["secrets"]]
        if not names:
            raise RollbackError("kind kubernetes needs the configmaps or secrets to back up")
        from ansible_collections.rollback.core.plugins.module_utils.kubernetes import (
            KUBERNETES_IMPORT_ERROR, Kube, KubeError)
        need_library("kubernetes", KUBERNETES_IMPORT_ERROR)
        kube, namespace = Kube(self.params), self.params["namespace"]
        self.objects = []
        for kind, resource, name in names:
            try:
                live = kube.get(resource, namespace, name)
            except KubeError as error:
                if error.status == 404:
                    raise RollbackError("%s %s/%s does not exist: nothing was backed up" % (kind, namespace, name))
                raise
            self.objects.append(_portable(kind, live))
        default = "%s-*.json" % names[0][2]
        plan = self.file_plan(self.params["backup_dir"], self.params["backup_pattern"] or default)
        plan.update(location=plan["path"], objects=["%s/%s" % (kind, name) for kind, _r, name in names],
                    namespace=namespace)
        return plan

    def take(self, plan):
        document = dict(apiVersion="v1", kind="List", items=self.objects)
        self.write(plan["path"], json.dumps(document, indent=2, sort_keys=True) + "\n", "Kubernetes backup")
        return plan


def _portable(kind, live):
    meta = live.get("metadata") or {}
    obj = dict(apiVersion="v1", kind=kind, metadata=dict((k, meta[k]) for k in K8S_META_KEPT if meta.get(k)))
    for key in ("data", "binaryData", "type", "immutable"):
        if live.get(key) is not None:
            obj[key] = live[key]
    return obj


class EnvFile(Item):
    def plan(self):
        _require(self.params, ("path",), "env_file")
        source = self.params["path"]
        self.raw = read_text(source, "env file")[0]
        directory = self.params["backup_dir"] or os.path.dirname(os.path.abspath(source))
        plan = self.file_plan(directory, self.params["backup_pattern"] or os.path.basename(source) + ".backup-*")
        plan.update(location=plan["path"], source=source)
        return plan

    def take(self, plan):
        self.write(plan["path"], self.raw, "env file backup")
        return plan


class Postgres(Item):
    def plan(self):
        _require(self.params, ("db", "dump_dir"), "postgres")
        from ansible_collections.rollback.core.plugins.module_utils.postgres import login_of
        from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import Tools, find_bin_dir
        self.tools = Tools(find_bin_dir(self.params["pg_bin_dir"]), login_of(self.params), [])
        plan = self.file_plan(self.params["dump_dir"], self.params["dump_pattern"] or self.params["db"] + "-*.dump")
        plan.update(location=plan["path"], db=self.params["db"], format=self.params["dump_format"])
        return plan

    def take(self, plan):
        if self.crypt is not None:  # pg_dump -Fc to its stdout, through age
            self.crypt.write(plan["path"], source=self.tools.dump_command(self.params["db"]))
            return plan
        partial = _partial(plan["path"])
        try:
            self.tools.dump(self.params["db"], partial, self.params["dump_format"], self.params["jobs"])
            _finish(partial, plan["path"])
        finally:
            if os.path.isdir(partial):
                shutil.rmtree(partial, ignore_errors=True)
            elif os.path.lexists(partial):
                os.unlink(partial)
        return plan


class Rds(Item):
    def plan(self):
        _require(self.params, ("db_instance_identifier",), "rds")
        from ansible_collections.rollback.core.plugins.module_utils.aws import BOTO3_IMPORT_ERROR, AwsClient
        need_library("boto3", BOTO3_IMPORT_ERROR)
        self.rds = AwsClient(self.params, "rds")
        instance = self.params["db_instance_identifier"]
        found = self.rds.not_found("describe_db_instances", ("DBInstanceNotFound", "DBInstanceNotFoundFault"),
                                   DBInstanceIdentifier=instance)
        if not found or not found.get("DBInstances"):
            raise RollbackError("RDS instance %s does not exist: nothing was backed up" % instance)
        now = time.time()
        snapshot = "%s-predeploy-%s-%06d" % (instance, points.name_stamp(now), int(now % 1 * 1e6))
        return dict(location="rds snapshot " + snapshot, snapshot=snapshot, instance=instance)

    def take(self, plan):
        tags = [dict(Key="rollback:restore-point", Value=self.params["restore_point"]),
                dict(Key="rollback:deploy-id", Value=self.params["deploy_id"] or self.params["restore_point"]),
                dict(Key="rollback:owner", Value=self.params["owner"])]
        self.rds.call("create_db_snapshot", DBSnapshotIdentifier=plan["snapshot"],
                      DBInstanceIdentifier=plan["instance"], Tags=tags)
        from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter
        plan["status"] = Waiter(self.module).wait(lambda: self._status(plan["snapshot"]),
                                                  "snapshot %s to be available" % plan["snapshot"]) or "creating"
        plan["tags"] = dict((t["Key"], t["Value"]) for t in tags)
        return plan

    def _status(self, snapshot):
        found = self.rds.call("describe_db_snapshots", DBSnapshotIdentifier=snapshot)["DBSnapshots"][0]
        status = found.get("Status")
        if status in ("failed", "deleted", "incompatible-restore"):
            raise RollbackError("snapshot %s is %s" % (snapshot, status))
        return status == "available", status


class Marker(Item):
    """What runs before the deploy, in the manifest; with ``marker_dir``, also the deploy marker file (the format of
    deploy_marker.py) the automatic rollback and the rollback's preflight read: this deploy starts now."""

    def plan(self):
        deploy = dict((k, self.params[k]) for k in ("revision", "image", "release") if self.params.get(k))
        if not deploy and not self.params["marker_dir"]:
            raise RollbackError("kind marker needs the revision, image or release running before the deploy, or "
                                "the marker_dir to write the deploy marker to")
        plan = dict(location="deploy marker", deploy=dict(deploy, at=utc_iso()))
        if self.params["marker_dir"]:
            owner = self.params["owner"]
            previous = deploy.get("revision") or deploy.get("image") or deploy.get("release")
            if not previous:  # what runs is what the last deploy installed
                try:
                    last = read_marker(self.params["marker_dir"], owner)
                except MarkerError as error:
                    self.warnings.append("previous deploy marker: %s" % error)
                    last = None
                previous = last.document.get("version") if last else None
            self.document = dict(
                service=owner, deploy_id=self.params["deploy_id"] or self.params["restore_point"],
                version=self.params["version"], previous_version=previous, status="in_progress",
                started_at=plan["deploy"]["at"], finished_at=None, deployed_by="rollback.core.backup",
                services=self.params["services"] or [owner])
            path = marker_path(self.params["marker_dir"], owner)
            try:
                Deploy(self.document, path)
            except MarkerError as error:
                raise RollbackError("deploy marker: %s" % error)
            plan.update(location=path, marker_file=path, marker=self.document)
        return plan

    def take(self, plan):
        if self.params["marker_dir"]:
            try:
                write_marker(self.params["marker_dir"], self.document)
            except (MarkerError, RollbackError) as error:
                raise RollbackError("deploy marker: %s" % error)
        return plan


KINDS = dict(etcd=Etcd, kubernetes=Kubernetes, env_file=EnvFile, postgres=Postgres, rds=Rds, marker=Marker)


def _storage(params):
    """The S3 store of ``storage`` (the file kinds only; a local copy stays where the restore reads), or None."""
    if not params["storage"]:
        return None
    from ansible_collections.rollback.core.plugins.module_utils.backup_s3 import S3Backups, split_url
    split_url(params["storage"])
    if params["kind"] in ("rds", "marker"):
        raise RollbackError("storage applies to file backups (etcd, kubernetes, env_file, postgres), not kind %s"
                            % params["kind"])
    if params["kind"] == "postgres" and params["dump_format"] == "directory":
        raise RollbackError("storage takes files: use dump_format custom for a dump kept in S3")
    if params["sse_kms_key_id"] and params["sse"] != "aws:kms":
        raise RollbackError("sse_kms_key_id needs sse aws:kms")
    return S3Backups.from_params(params)


def _encryption(params):
    """The Encryptor of ``encrypt`` (age and the recipients checked), or None; refused where it cannot apply."""
    if not params["encrypt"]:
        return None
    if params["kind"] in ("rds", "marker"):
        raise RollbackError("encrypt applies to file backups (etcd, kubernetes, env_file, postgres), not kind %s "
                            "(an RDS snapshot is encrypted by RDS; the deploy marker holds no secret)" % params["kind"])
    if params["kind"] == "postgres" and params["dump_format"] == "directory":
        raise RollbackError("encrypt takes files: use dump_format custom for an encrypted dump")
    from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import Encryptor
    return Encryptor(params["encrypt"])


def take(module):
    """Take one item of a restore point and add it to the restore point's manifest."""
    params, warnings = module.params, []
    _require(params, ("owner", "manifest_dir"), "take")
    params["restore_point"] = params["restore_point"] or "%s-%s" % (params["owner"], points.name_stamp())
    points.manifest_path(params["manifest_dir"], params["restore_point"])  # refuses a bad id before any change
    crypt = _encryption(params)
    item = KINDS[params["kind"]](module, warnings, crypt)
    store = _storage(params)
    started = time.time()
    planned = dict(item.plan(), kind=params["kind"])
    if crypt is not None:
        planned["encrypted"] = "age"
    if store is not None:
        planned["s3"] = store.url_of(params["storage"], planned["path"])
    result = dict(changed=True, restore_point=params["restore_point"], item=planned)
    if module._diff:
        result["diff"] = dict(before="", after="%s: %s\n" % (params["restore_point"], planned["location"]))
    if module.check_mode:
        return result
    taken = item.take(planned)
    if taken.get("path"):
        taken["size"], taken["sha256"] = points.digest(taken["path"])
    if store is not None:
        uploaded = store.upload(taken["path"], params["storage"], params["sse"], params["sse_kms_key_id"],
                                taken["sha256"])
        taken.update(s3=uploaded["url"], sse=uploaded["sse"])
    taken.update(taken_at=utc_iso(), seconds=round(time.time() - started, 3))
    manifest = points.add_item(params["manifest_dir"], params["restore_point"], params["owner"],
                               params["deploy_id"], taken, warnings)
    result.update(item=taken, manifest=manifest["manifest"], items=manifest["items"])
    for warning in warnings:
        module.warn(warning)
    return result
