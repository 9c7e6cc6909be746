# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which backup a restore uses, and the data it loses: one rule for every module.

The newest backup in a directory is the one whose name sorts last among those matching a shell pattern: every
runbook names backups with a sortable date (``app.env.backup-20251112-101500``, ``demo-20251112T101500Z.dump``),
and a copy or a restore from tape changes a file's time, never its name. The data-loss window of a restore runs
from the time the backup was taken to now; what the backup says about its own time wins over the file's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os

from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import open_backup, plain_name
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import to_utc, utc_iso, utc_now

# The copies a restore saves of what it replaces (toolkit.save_previous): never taken as "the newest backup".
SAVED_MARK = ".pre-rollback-"

SELECTION_SPEC = dict(
    backup_dir=dict(type="path"),
    backup_pattern=dict(type="str", default="*"),
)


def is_backup(name, pattern):
    """Whether ``name`` is a backup of ``pattern``: it matches, or it is the age-encrypted ``<match>.age`` of one
    (backup_crypt.py); never a copy a restore saved."""
    return SAVED_MARK not in name and (fnmatch.fnmatchcase(name, pattern) or
                                       fnmatch.fnmatchcase(plain_name(name), pattern))


def newest_name(names, pattern):
    """The name of the newest backup of ``pattern`` among ``names`` (the last by name, ``.age`` aside), or None."""
    found = sorted((plain_name(name), name) for name in names if is_backup(name, pattern))
    return found[-1][1] if found else None


def newest_backup(directory, pattern, what="backup"):
    """The path of the newest ``what`` in ``directory`` whose name matches ``pattern``; one clear error if none."""
    try:
        name = newest_name(os.listdir(directory), pattern)
    except OSError as error:
        raise RollbackError("cannot list the %s directory %s: %s" % (what, directory, error.strerror or error))
    if name is None:
        raise RollbackError("no %s matching %s in %s: nothing was changed" % (what, pattern, directory))
    return os.path.join(directory, name)


def chosen_backup(backup, directory, pattern, what="backup", default_pattern="*"):
    """``backup`` when given, else the newest match in ``directory``; refuse when neither is given."""
    if backup:
        return backup
    if not directory:
        raise RollbackError("give the %s, or the directory to take the newest from" % what)
    return newest_backup(directory, pattern or default_pattern, what)


def data_loss_window(taken_at, now=None):
    """``{start, end, seconds}``: what a restore from a backup taken at ``taken_at`` (datetime or epoch) loses."""
    start, end = to_utc(taken_at), to_utc(now) if now is not None else utc_now()
    return dict(start=utc_iso(start), end=utc_iso(end), seconds=max(0, int((end - start).total_seconds())))


def file_window(path, taken_at=None, now=None):
    """The window of a file backup: its own stated time, else its modification time."""
    if taken_at is None:
        try:
            taken_at = os.stat(path).st_mtime
        except OSError as error:
            raise RollbackError("cannot read the time of backup %s: %s" % (path, error.strerror or error))
    return data_loss_window(taken_at, now)


def _s3_backup(module, key, directory_key, pattern_key, what, default_pattern):
    """An ``s3://`` backup (or newest in an ``s3://`` directory) fetched to a 0600 temporary file that replaces it
    in the parameters (removed when the module exits); its URL, or None for a local backup.

    The S3 client takes boto3's own configuration (environment, profile, instance role; ``AWS_ENDPOINT_URL_S3``).
    """
    params = module.params
    from ansible_collections.rollback.core.plugins.module_utils.backup_s3 import S3Backups, is_s3
    if not (is_s3(params[key]) or (not params[key] and is_s3(params[directory_key]))):
        return None
    store = S3Backups.from_params({})
    url = params[key] or store.newest(params[directory_key], params[pattern_key] or default_pattern, what)
    params[key], params[directory_key] = store.fetch(url, what), None
    module.add_cleanup_file(params[key])
    module.restore_source = url  # what names the temporary file across runs
    return url


def from_s3(action, key="backup", directory_key="backup_dir", pattern_key="backup_pattern", what="backup",
            default_pattern="*"):
    """``action`` run on a local copy when the backup (or its directory) is an ``s3://`` URL, naming the URL."""
    def run(module):
        pattern = default_pattern(module.params) if callable(default_pattern) else default_pattern
        url = _s3_backup(module, key, directory_key, pattern_key, what, pattern)
        result = action(module)
        if url:
            result["backup_used"] = url
        return result
    return run


def restore_newest(module, action, key, directory_key, pattern_key, what, default_pattern="*", window=False):
    """Run a restore ``action(module)`` on ``params[key]``, or on the newest match in ``params[directory_key]``.

    The result names the backup used (``backup_used``) and, with ``window`` and unless the action knows better,
    the data-loss window from the backup file's time (``data_loss_window``). An ``s3://`` backup or directory is
    fetched first (the window then runs from the object's time). An age-encrypted backup (``<name>.age``) is
    decrypted with ``decrypt_identity`` into a temporary file the action reads (backup_crypt.open_backup).
    """
    params = module.params

    def newest(module):
        pattern = default_pattern(params) if callable(default_pattern) else default_pattern
        params[key] = chosen_backup(params[key], params[directory_key], params[pattern_key], what, pattern)
        encrypted = open_backup(module, key, what)
        result = action(module)
        if encrypted:
            result["backup_used"] = encrypted
        result.setdefault("backup_used", params[key])
        return result

    result = from_s3(newest, key, directory_key, pattern_key, what, default_pattern)(module)
    if window and not result.get("data_loss_window"):
        result["data_loss_window"] = file_window(params[key])
    return result
