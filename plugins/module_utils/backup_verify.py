# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listing, verifying and expiring restore points (``backup`` actions list, verify, retain).

Verify reads every item the way its restore would, and says what is wrong in one line per item:

- a file shorter than the manifest says is truncated; one of the right size but another sha256 was changed;
- a dump is read whole: ``pg_restore --list`` (the table of contents) and ``pg_restore --file=/dev/null``, which
  reads every data block, so a dump cut after its table of contents is caught too;
- a configuration backup is parsed by its restore's own reader (etcd JSON, Kubernetes manifest, env file);
- a snapshot must exist and be ``available`` (DescribeDBSnapshots answers DBSnapshotNotFound for a deleted one);
- with ``deep``, a dump that passed is restored into a scratch database and the verify SQL runs there
  (backup_deep.py);
- an age-encrypted item (``encrypted: age``) is checked by the sha256 of its ciphertext; with ``decrypt_identity``
  it is also decrypted into a temporary file that gets the checks above (and ``deep``), which proves the identity
  the rollback will use opens it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os

from ansible_collections.rollback.core.plugins.module_utils import restore_points as points
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


def _selected(params):
    found = points.manifests(params["manifest_dir"], params["owner"])
    if params["restore_point"]:
        chosen = [m for m in found if m["restore_point"] == params["restore_point"]]
        if not chosen:
            raise RollbackError("restore point %s not found in %s" % (params["restore_point"], params["manifest_dir"]))
        return chosen
    newest = {}
    for manifest in found:
        newest[manifest.get("owner")] = manifest
    return sorted(newest.values(), key=lambda m: m["restore_point"])


def list_points(module):
    rows = [points.row(m) for m in points.manifests(module.params["manifest_dir"], module.params["owner"])]
    return dict(changed=False, restore_points=rows, table=points.table(rows))


class Checker:
    def __init__(self, params):
        self.params = params
        self._tools = None
        self._rds = None

    def problems(self, manifest):
        found = []
        for item in manifest["items"]:
            try:
                self.check(item)
            except RollbackError as error:
                found.append("restore point %s: %s" % (manifest["restore_point"], error.msg))
        return found

    def check(self, item):
        kind = item.get("kind")
        if kind == "rds":
            return self.snapshot(item)
        if kind == "marker":
            return None
        path = item.get("path") or ""
        if not os.path.lexists(path):
            raise RollbackError("%s backup %s is missing" % (kind, path))
        size, sha = points.digest(path)
        if item.get("size") is not None and size < item["size"]:
            raise RollbackError("%s backup %s is truncated: %d of %d bytes" % (kind, path, size, item["size"]))
        if not item.get("encrypted"):
            self.content(kind, path)
        elif self.params["decrypt_identity"]:
            with decrypted(item, self.params["decrypt_identity"]) as plain:
                self.content(kind, plain["path"])
        if item.get("sha256") and sha != item["sha256"]:
            raise RollbackError("%s backup %s changed since it was taken: sha256 %s, the manifest says %s" % (
                kind, path, sha, item["sha256"]))
        return None

    def content(self, kind, path):
        if kind == "etcd":
            from ansible_collections.rollback.core.plugins.module_utils.config_backup import load_backup_file
            load_backup_file(path)
        elif kind == "kubernetes":
            from ansible_collections.rollback.core.plugins.module_utils.kubernetes_config import load_manifest
            load_manifest(path, "default")
        elif kind == "env_file":
            from ansible_collections.rollback.core.plugins.module_utils.config_backup import read_text
            from ansible_collections.rollback.core.plugins.module_utils.env_file import parse_env
            if not parse_env(read_text(path, "backup")[1], path):
                raise RollbackError("env file backup %s holds no KEY=VALUE lines" % path)
        elif kind == "postgres":
            tools = self.tools()
            tools.table_of_contents(path)
            tools.run("pg_restore", ["--file=/dev/null", path], "reading the whole dump %s" % path)

    def tools(self):
        if self._tools is None:
            from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import Tools, find_bin_dir
            self._tools = Tools(find_bin_dir(self.params["pg_bin_dir"]), {}, [])
        return self._tools

    def snapshot(self, item):
        if self._rds is None:
            from ansible_collections.rollback.core.plugins.module_utils.aws import BOTO3_IMPORT_ERROR, AwsClient
            from ansible_collections.rollback.core.plugins.module_utils.backup_take import need_library
            need_library("boto3", BOTO3_IMPORT_ERROR)
            self._rds = AwsClient(self.params, "rds")
        name = item.get("snapshot")
        found = self._rds.not_found("describe_db_snapshots", ("DBSnapshotNotFound", "DBSnapshotNotFoundFault"),
                                    DBSnapshotIdentifier=name)
        snapshots = (found or {}).get("DBSnapshots") or []
        if not snapshots:
            raise RollbackError("RDS snapshot %s does not exist (deleted?)" % name)
        if snapshots[0].get("Status") != "available":
            raise RollbackError("RDS snapshot %s is %s, not available" % (name, snapshots[0].get("Status")))


@contextlib.contextmanager
def decrypted(item, identity):
    """``item`` with ``path`` its decryption into a temporary file (removed after), for an encrypted item."""
    from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import decrypt
    plain = decrypt(item["path"], identity, "%s backup" % item.get("kind"))
    try:
        yield dict(item, path=plain)
    finally:
        os.unlink(plain)


def _deep(module, manifest, entry):
    """With ``deep``: restore the restore point's dumps into a scratch database and run the verify SQL."""
    from ansible_collections.rollback.core.plugins.module_utils.backup_deep import deep_verify
    found = []
    for item in manifest["items"]:
        if item.get("kind") != "postgres":
            continue
        if module.check_mode:
            entry["deep"] = "skipped in check mode (it creates a scratch database)"
            continue
        try:
            if item.get("encrypted"):
                with decrypted(item, module.params["decrypt_identity"]) as plain:
                    checks = deep_verify(module.params, plain, [])
            else:
                checks = deep_verify(module.params, item, [])
            entry.setdefault("deep_checks", []).extend(checks)
        except RollbackError as error:
            found.append("restore point %s: %s" % (manifest["restore_point"], error.msg))
    return found


def verify(module):
    checker = Checker(module.params)
    checked, problems = [], []
    for manifest in _selected(module.params):
        found = checker.problems(manifest)
        entry = dict(restore_point=manifest["restore_point"], owner=manifest.get("owner"),
                     items=len(manifest["items"]), problems=found)
        if module.params["deep"] and not found:
            found.extend(_deep(module, manifest, entry))
        checked.append(entry)
        problems.extend(found)
    if problems:
        raise RollbackError("; ".join(problems), verified=checked, problems=problems)
    return dict(changed=False, verified=checked, problems=[])


def retain(module):
    params = module.params
    if params["keep"] is None and params["keep_days"] is None:
        raise RollbackError("action retain needs keep or keep_days")
    if params["keep"] is not None and params["keep"] < 1:
        raise RollbackError("keep must be at least 1: the newest restore point is never removed")
    found = points.manifests(params["manifest_dir"], params["owner"])
    owners = sorted(set(m.get("owner") for m in found))
    doomed = []
    for owner in owners:
        doomed += points.expired([m for m in found if m.get("owner") == owner], params["keep"], params["keep_days"])
    result = dict(changed=bool(doomed), removed=[m["restore_point"] for m in doomed], removed_files=[],
                  kept=[m["restore_point"] for m in found if m not in doomed])
    if module._diff:
        result["diff"] = dict(before="".join(m["restore_point"] + "\n" for m in found),
                              after="".join(name + "\n" for name in result["kept"]))
    if module.check_mode:
        return result
    for manifest in doomed:
        result["removed_files"] += points.remove_files(manifest)
    return result
