# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files and times, the same way in every module: atomic writes, the previous copy kept, one UTC format.

``atomic_write`` replaces a file in one rename of a temporary beside it, with the data and the directory
fsynced, so a crash leaves either the old bytes or the new ones (never a truncated file), with the mode and
owner the file had (or the given mode). ``save_previous`` copies the current file before it is replaced, under
a name carrying the one UTC stamp, so the old version stays restorable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import shutil
import tempfile

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # inside files, reports and results
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"  # inside file names (sorts by time)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def to_utc(moment):
    if moment is None:
        return utc_now()
    if isinstance(moment, (int, float)):
        return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def utc_iso(moment=None):
    """``2025-12-03T12:45:00Z`` of a datetime, an epoch, or now."""
    return to_utc(moment).strftime(ISO_FORMAT)


def utc_stamp(moment=None):
    """``20251203T124500Z``: the stamp in names of saved files."""
    return to_utc(moment).strftime(STAMP_FORMAT)


def _fsync_directory(directory):
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(path, data, mode=None, what="file"):
    """Replace ``path`` by ``data`` (bytes or text) atomically; return the absolute path.

    ``mode``: the new file's mode; default, the replaced file's (new files: 0644 less the umask). The replaced
    file's owner and group are kept where the process may set them. The temporary is a dot file in the same
    directory (never matched by an ``include *.conf``), removed on failure.
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        current = os.stat(path)
    except FileNotFoundError:
        current = None
    except OSError as error:
        raise RollbackError("cannot read %s %s: %s" % (what, path, error.strerror or error))
    if mode is None:
        if current is not None:
            mode = current.st_mode & 0o7777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o644 & ~umask
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".%s.rollback-" % os.path.basename(path),
                                                 suffix=".tmp")
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        if current is not None and (current.st_uid, current.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(temporary, current.st_uid, current.st_gid)
            except PermissionError:
                pass
        os.rename(temporary, path)
        temporary = None
    except OSError as error:
        raise RollbackError("cannot write %s %s: %s" % (what, path, error.strerror or error))
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
    _fsync_directory(directory)
    return path


def save_previous(path, directory=None, hidden=None, moment=None):
    """Copy ``path`` (mode and times kept) to ``<directory>/<name>.pre-rollback-<stamp>``; return the copy's path.

    ``directory`` defaults to the file's own; a copy beside the file is a dot file when ``hidden`` (default:
    only for files in a directory a program reads whole, which the caller knows). Never overwrites: a second
    copy in the same second gets ``-2``, ``-3``...
    """
    source = os.path.abspath(path)
    directory = os.path.abspath(directory or os.path.dirname(source))
    if not os.path.isdir(directory):
        raise RollbackError("cannot save the previous %s: directory %s does not exist" % (source, directory))
    stem = "%s%s.pre-rollback-%s" % ("." if hidden else "", os.path.basename(source), utc_stamp(moment))
    target, number = os.path.join(directory, stem), 1
    while os.path.lexists(target):
        number += 1
        target = os.path.join(directory, "%s-%d" % (stem, number))
    try:
        shutil.copy2(source, target)
        with open(target, "rb") as stream:
            os.fsync(stream.fileno())
    except OSError as error:
        raise RollbackError("cannot save the previous %s to %s: %s" % (source, target, error.strerror or error))
    _fsync_directory(directory)
    return target
