# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore points: the manifest a backup run writes, listing them, and retention.

A restore point is what one backup run took for one owner (a service or a database of the inventory), before
one deploy. Its manifest ``<manifest_dir>/<id>.json`` names every item (kind, where it is, size, sha256, when it
was taken) and the deploy it precedes. The items themselves live where the restore modules look for them, under
the names they pick (the newest match of their pattern), so a rollback after a backup restores exactly it.

Files are written 0600 in directories created 0700: configuration backups hold secrets and dumps hold data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import shutil
import stat

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write, to_utc, utc_iso, utc_now

FILE_MODE, DIR_MODE = 0o600, 0o700
MANIFEST_FORMAT = 1
# The runbooks' sortable stamp (``app.env.backup-20251112-101500``), the one the lab's deploys write too, so the
# newest by name is the newest by time whichever of them took it.
NAME_STAMP = "%Y%m%d-%H%M%S"
KINDS = ("etcd", "kubernetes", "env_file", "postgres", "rds", "marker")


def name_stamp(moment=None):
    return to_utc(moment).strftime(NAME_STAMP)


def secure_dir(path, warnings):
    """Create ``path`` 0700 (parents too); warn when an existing one is open to group or others."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        try:
            os.makedirs(path, DIR_MODE)
            os.chmod(path, DIR_MODE)
        except OSError as error:
            raise RollbackError("cannot create the backup directory %s: %s" % (path, error.strerror or error))
    elif os.stat(path).st_mode & 0o077:
        warnings.append("backup directory %s is open to group or others (mode %s); 0700 keeps secrets and dumps "
                        "private" % (path, oct(stat.S_IMODE(os.stat(path).st_mode))))
    return path


def file_name(pattern, stamp):
    """The name a restore module's ``pattern`` (one ``*``) picks as newest: the ``*`` replaced by the stamp."""
    if pattern.count("*") != 1 or any(c in pattern for c in "?[]/"):
        raise RollbackError("backup pattern %r must hold exactly one '*' (where the time goes) and no other wildcard "
                            "or '/'" % pattern)
    return pattern.replace("*", stamp)


def digest(path):
    """``(size, sha256)`` of a file, or of a directory's files (names and contents, in name order)."""
    sha = hashlib.sha256()
    size = 0
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            sha.update(name.encode("utf-8") + b"\0")
            part_size, part_sha = digest(os.path.join(path, name))
            sha.update(part_sha.encode("ascii"))
            size += part_size
        return size, sha.hexdigest()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
            size += len(block)
    return size, sha.hexdigest()


def secure_tree(path):
    """0600 files and 0700 directories below (and at) ``path``."""
    if os.path.isdir(path):
        os.chmod(path, DIR_MODE)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), DIR_MODE)
            for name in files:
                os.chmod(os.path.join(root, name), FILE_MODE)
    else:
        os.chmod(path, FILE_MODE)


def manifest_path(manifest_dir, restore_point):
    if not restore_point or "/" in restore_point or restore_point.startswith("."):
        raise RollbackError("restore point id %r must be a plain name" % restore_point)
    return os.path.join(manifest_dir, restore_point + ".json")


def read_manifest(path):
    try:
        with open(path) as stream:
            document = json.load(stream)
    except OSError as error:
        raise RollbackError("cannot read the manifest %s: %s" % (path, error.strerror or error))
    except ValueError as error:
        raise RollbackError("manifest %s is not valid JSON: %s" % (path, error))
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise RollbackError("manifest %s is not a restore point manifest (no items list)" % path)
    document["manifest"] = path
    return document


def new_manifest(restore_point, owner, deploy_id):
    now = utc_iso()
    return dict(format=MANIFEST_FORMAT, restore_point=restore_point, owner=owner, deploy_id=deploy_id or restore_point,
                started=now, finished=now, items=[])


def add_item(manifest_dir, restore_point, owner, deploy_id, item, warnings):
    """Add ``item`` to the restore point's manifest (created when new); return the manifest."""
    secure_dir(manifest_dir, warnings)
    path = manifest_path(manifest_dir, restore_point)
    manifest = read_manifest(path) if os.path.exists(path) else new_manifest(restore_point, owner, deploy_id)
    if manifest.get("owner") != owner:
        raise RollbackError("restore point %s belongs to %s, not %s" % (restore_point, manifest.get("owner"), owner))
    manifest.pop("manifest", None)
    manifest["items"] = [i for i in manifest["items"] if i.get("location") != item.get("location")] + [item]
    manifest["finished"] = utc_iso()
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n", mode=FILE_MODE, what="manifest")
    manifest["manifest"] = path
    return manifest


def manifests(manifest_dir, owner=None):
    """Every restore point of ``manifest_dir`` (of ``owner`` only, when given), oldest first."""
    if not os.path.isdir(manifest_dir):
        raise RollbackError("no restore points: the manifest directory %s does not exist" % manifest_dir)
    found = [read_manifest(os.path.join(manifest_dir, name)) for name in sorted(os.listdir(manifest_dir))
             if name.endswith(".json") and not name.startswith(".")]
    found = [m for m in found if owner is None or m.get("owner") == owner]
    return sorted(found, key=lambda m: (m.get("started") or "", m.get("restore_point") or ""))


def age_seconds(iso, now=None):
    moment = to_utc(_parse_iso(iso))
    return max(0, int(((now or utc_now()) - moment).total_seconds()))


def _parse_iso(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def row(manifest, now=None):
    """One line of ``action=list``: the restore point, its age and what it holds."""
    return dict(restore_point=manifest["restore_point"], owner=manifest.get("owner"),
                deploy_id=manifest.get("deploy_id"), taken=manifest.get("finished"),
                age_seconds=age_seconds(manifest.get("finished") or manifest.get("started"), now),
                kinds=sorted(set(i.get("kind") for i in manifest["items"])),
                size=sum(i.get("size") or 0 for i in manifest["items"]),
                items=[i.get("location") for i in manifest["items"]], manifest=manifest["manifest"])


def table(rows):
    """The rows as a fixed-width text table (newest last), as ``list-backups.sh`` printed them."""
    header = ("OWNER", "RESTORE POINT", "TAKEN", "AGE", "SIZE", "KINDS", "DEPLOY")
    lines = [header] + [(r["owner"] or "", r["restore_point"], r["taken"] or "", age_text(r["age_seconds"]),
                         _size(r["size"]), ",".join(r["kinds"]), r["deploy_id"] or "") for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]


def age_text(seconds):
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def _size(size):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return "%.1f%s" % (size / float(scale), unit)
    return "%dB" % size


def expired(found, keep, keep_days, now=None):
    """Restore points retention removes: beyond the newest ``keep`` or older than ``keep_days``.

    Never the newest restore point holding each kind of item (the newest dump stays even when later runs took
    only configuration), and never the newest restore point at all.
    """
    if not found:
        return []
    protected = {found[-1]["restore_point"]}
    for kind in KINDS:
        holding = [m for m in found if any(i.get("kind") == kind for i in m["items"])]
        if holding:
            protected.add(holding[-1]["restore_point"])
    old = set()
    if keep is not None:
        old.update(m["restore_point"] for m in found[:max(0, len(found) - keep)])
    if keep_days is not None:
        old.update(m["restore_point"] for m in found
                   if age_seconds(m.get("finished") or m.get("started"), now) > keep_days * 86400)
    return [m for m in found if m["restore_point"] in old - protected]


def remove_files(manifest):
    """Delete a restore point's files and its manifest; return what was removed (snapshots are not files)."""
    removed = []
    for item in manifest["items"]:
        path = item.get("path")
        if not path or not os.path.lexists(path):
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as error:
            raise RollbackError("cannot remove %s of restore point %s: %s" % (
                path, manifest["restore_point"], error.strerror or error))
        removed.append(path)
    os.unlink(manifest["manifest"])
    removed.append(manifest["manifest"])
    return removed
