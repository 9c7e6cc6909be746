# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration backups: read and write their formats, plan a restore, mask secrets.

A backup is a mapping of key to text value. Three on-disk formats are read and
written back in kind, so a saved current state looks like the backup it pairs:

- ``object``: a flat JSON object ``{"key": "value"}``;
- ``list``: a JSON list of ``{"key": ..., "value": ...}``;
- ``etcdctl``: the output of ``etcdctl get --prefix -w json`` (base64 keys and values).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import fnmatch
import json
import os

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write

MASK = "********"


def _text(value, where):
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        raise RollbackError("%s: values must be strings or numbers, found %s" % (where, json.dumps(value)))
    return value if isinstance(value, str) else json.dumps(value)


def _b64(value, where):
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise RollbackError("%s: %r is not base64-encoded UTF-8 text" % (where, value))


def detect_format(document):
    if isinstance(document, list):
        return "list"
    if isinstance(document, dict) and "header" in document and ("kvs" in document or "count" in document):
        return "etcdctl"
    if isinstance(document, dict):
        return "object"
    raise RollbackError("the backup must be a JSON object or list, found %s" % type(document).__name__)


def parse_backup(text, source):
    """Return ``(format, {key: value})``; raise RollbackError naming the problem."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise RollbackError("backup %s is not valid JSON: %s" % (source, error))
    fmt = detect_format(document)
    if fmt == "object":
        data = dict((str(key), _text(value, "backup %s key %s" % (source, key))) for key, value in document.items())
    elif fmt == "list":
        data = {}
        for index, item in enumerate(document):
            if not isinstance(item, dict) or "key" not in item or "value" not in item:
                raise RollbackError("backup %s item %d must be an object with 'key' and 'value'" % (source, index))
            data[str(item["key"])] = _text(item["value"], "backup %s item %d" % (source, index))
    else:
        data = {}
        for index, item in enumerate(document.get("kvs") or []):
            where = "backup %s kvs[%d]" % (source, index)
            if not isinstance(item, dict) or "key" not in item:
                raise RollbackError("%s has no 'key'" % where)
            data[_b64(item["key"], where)] = _b64(item.get("value", ""), where)
    if not data:
        raise RollbackError("backup %s holds no keys; refusing to restore an empty backup" % source)
    return fmt, data


def _encode(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def dump_backup(data, fmt):
    """Serialise ``data`` in the given format (as parse_backup reads it)."""
    keys = sorted(data)
    if fmt == "list":
        document = [{"key": key, "value": data[key]} for key in keys]
    elif fmt == "etcdctl":
        document = {"header": {}, "kvs": [{"key": _encode(key), "value": _encode(data[key])} for key in keys],
                    "count": len(keys)}
    else:
        document = dict((key, data[key]) for key in keys)
    return json.dumps(document, indent=2, sort_keys=fmt != "list") + "\n"


def plan_restore(current, desired, prune):
    """Keys to add, update and remove so that ``current`` becomes ``desired``."""
    added = sorted(key for key in desired if key not in current)
    updated = sorted(key for key in desired if key in current and current[key] != desired[key])
    removed = sorted(key for key in current if key not in desired) if prune else []
    return added, updated, removed


class Masker:
    """Hides the values of keys matching any of the fnmatch ``patterns``."""

    def __init__(self, patterns):
        self.patterns = list(patterns or [])

    def hides(self, key):
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in self.patterns)

    def value(self, key, value):
        return MASK if self.hides(key) else value

    def view(self, data, keys):
        return dict((key, self.value(key, data[key])) for key in keys)


def restore_diff(current, desired, added, updated, removed, masker):
    """Before/after of the changed keys only, secrets masked."""
    return {
        "before": masker.view(current, sorted(updated + removed)),
        "after": masker.view(desired, sorted(added + updated)),
    }


def read_text(path, what):
    """``(bytes, text)`` of a UTF-8 file; RollbackError naming ``what`` otherwise."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise RollbackError("cannot read %s %s: %s" % (what, path, error.strerror or error))
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RollbackError("%s %s is not UTF-8 text" % (what, path))


def load_backup_file(path):
    return parse_backup(read_text(path, "backup")[1], path)


def check_save_dir(path):
    """Refuse a ``save_current_to`` the save would fail on, in the plan: before anything is changed (a save that
    fails after the restore began leaves no copy of what it replaced)."""
    if not path:
        return
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise RollbackError("save_current_to: directory %s does not exist" % directory)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RollbackError("save_current_to: directory %s is not writable" % directory)
    if os.path.isdir(path):
        raise RollbackError("save_current_to: %s is a directory; give a file name" % path)


def save_backup_file(data, fmt, path):
    """Write ``data`` to ``path`` atomically (mode 0600: it may hold secrets); return the path. The directory was
    checked by ``check_save_dir`` in the plan."""
    return atomic_write(path, dump_backup(data, fmt), mode=0o600, what="saved state")
