# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record of an undo, kept with the target it changed, so that a re-run does not undo again.

``kubectl rollout undo`` run twice goes back to the bad release (the previous revision is then the bad one), and
"the release before the current one" of a server run twice goes one release further back. ``rollout_undo``
therefore records each undo it makes - from, to, time, run id - where the target keeps it: on Kubernetes the
annotation ``rollback.core/undo`` set in the same patch as the undo; on a server ``.rollback-undo.json`` beside
the ``releases/`` directory, or in ``.git/`` for a git-tag target.

A later run without an explicit target finds the record: if the target is still what the record put back
(``settled``), nothing was deployed since and nothing changes; anything else is undone as usual. A redeploy of
exactly the release put back looks the same as "nothing deployed since" (give the target explicitly then).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write, utc_iso

ANNOTATION = "rollback.core/undo"
FILE_NAME = ".rollback-undo.json"


def make(source, target, run_id=None, moment=None):
    """The record of an undo from ``source`` to ``target`` (dicts: revision, version, state fingerprint, ...)."""
    return {"from": dict(source), "to": dict(target), "time": utc_iso(moment), "run_id": run_id or None}


def encode(record):
    """One line of JSON, keys sorted (an annotation value or a file)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def decode(text, where):
    """The record in ``text`` (read from ``where``); None for no text. A record that cannot be read is refused:
    ignoring it could undo the release it put back."""
    if text is None or not str(text).strip():
        return None
    try:
        record = json.loads(text)
    except ValueError as error:
        record, problem = None, "not JSON (%s)" % error
    else:
        problem = None if isinstance(record, dict) and all(
            isinstance(record.get(key), dict) for key in ("from", "to")) else "not an object with from and to"
    if problem:
        raise RollbackError("the undo record %s is unreadable: %s; give the release to return to explicitly, or "
                            "remove the record" % (where, problem))
    return record


def fingerprint(state):
    """A short digest of a JSON-able state (a pod template), to tell any change of it, not only of its images."""
    return hashlib.sha256(json.dumps(state, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:16]


def settled(record, current):
    """True when ``current`` is what ``record`` put back: every key of ``current`` equals the record's ``to``."""
    if not record:
        return False
    target = record["to"]
    return all(target.get(key) == value for key, value in current.items())


def read_file(path):
    """The record in the file ``path``, None when there is none."""
    try:
        with open(path) as handle:
            return decode(handle.read(), path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise RollbackError("cannot read the undo record %s: %s" % (path, error.strerror or error))


def write_file(path, record):
    atomic_write(path, encode(record) + "\n", what="undo record")
    return path


def file_beside(directory, git=False):
    """Where a server target keeps its record: ``<releases_dir>/.rollback-undo.json``, ``<repo>/.git/...``."""
    return os.path.join(directory, ".git", FILE_NAME) if git else os.path.join(directory, FILE_NAME)
