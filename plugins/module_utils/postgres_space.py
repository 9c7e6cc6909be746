# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Room for the side database: refuse a restore that would fill the live database's filesystem.

The side database is created in the live database's tablespace, next to it (the live one
is kept), so a restore that fills that filesystem takes the live database down with it.
The restored size is estimated as the larger of the live database's size
(``pg_database_size``) and the dump's size, plus 10 %. The free space is read where the
live database's directory is (``<data_directory>/base/<oid>``, or
``pg_tablespace_location()/PG_*/<oid>``), which this host can only see when the module
runs on the database server: ``free_space_check=auto`` then checks and otherwise warns,
``require`` fails, ``skip`` does not look.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import shutil

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

MODES = ("auto", "require", "skip")
MARGIN = 1.1
MB = 1024.0 * 1024.0


def _mb(size):
    return "%.1f MB" % (size / MB)


def size_of(path):
    if path is None:  # no file yet (a point in time restore dumps the database from its scratch cluster)
        return 0
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, files in os.walk(path) for name in files)
    return os.path.getsize(path)


def database_directory(server, identity):
    """Where the live database's files are, or (None, why not)."""
    try:
        location = server.main.value("SELECT pg_tablespace_location(t.oid) FROM pg_tablespace t WHERE t.spcname = %s",
                                     (identity["tablespace"],))
        if not location:
            location = os.path.join(server.main.value("SELECT current_setting('data_directory')"), "base")
            candidates = [os.path.join(location, str(identity["oid"]))]
        else:
            candidates = glob.glob(os.path.join(location, "PG_*", str(identity["oid"])))
    except RollbackError as error:
        return None, "its location cannot be read (%s)" % error.msg
    found = [path for path in candidates if os.path.isdir(path)]
    if not found:
        return None, "its directory (%s) is not visible on this host" % (candidates[0] if candidates else
                                                                         location + "/PG_*/%s" % identity["oid"])
    return found[0], None


def check(server, identity, dump, mode, emergency_dir=None):
    """Refuse when the side database (and the emergency dump, on the same filesystem) would not fit."""
    if mode == "skip":
        return dict(checked=False, reason="free_space_check=skip")
    live_size = int(server.main.value("SELECT pg_database_size(%s)", (identity["oid"],)))
    dump_size = size_of(dump)
    needed = int(max(live_size, dump_size) * MARGIN)
    result = dict(checked=False, live_size=live_size, dump_size=dump_size, needed=needed)
    path, why = database_directory(server, identity)
    if path is None:
        reason = "the free space of tablespace %s cannot be checked: %s (run the module on the database server)" % (
            identity["tablespace"], why)
        if mode == "require":
            raise RollbackError("%s; free_space_check=require; nothing was changed" % reason)
        return dict(result, reason=reason)
    free = shutil.disk_usage(path).free
    emergency = ""
    if emergency_dir:
        existing = emergency_dir
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if os.stat(existing).st_dev == os.stat(path).st_dev:
            needed += dump_size
            emergency = ", + %s for the emergency dump in %s" % (_mb(dump_size), emergency_dir)
    result.update(checked=True, path=path, free=free, needed=needed)
    if free < needed:
        raise RollbackError(
            "not enough space for the side database in tablespace %s (%s): about %s needed (the larger of the "
            "live database %s and the dump %s, + 10%%%s), %s free; the live database would go down with a full "
            "disk; nothing was changed" % (identity["tablespace"], path, _mb(needed), _mb(live_size), _mb(dump_size),
                                           emergency, _mb(free)),
            space=result)
    return result
