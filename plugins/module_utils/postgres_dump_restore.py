# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The postgres_restore flow: read the dump, check everything, emergency dump, then restore beside and swap.

The runbooks drop the live database and restore over it; if that restore fails, the
data is gone. Here the dump goes into a side database that gets the live database's
identity, is verified there as the application would use it, and only then the two
names are swapped in one transaction (postgres_side). The old database is kept under
``<db>_pre_rollback_<ts>``: this module never drops it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.rollback.core.plugins.module_utils import postgres_identity, postgres_side
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres import Server, ident, login_of, sql
from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import Tools, detect_format, find_bin_dir
from ansible_collections.rollback.core.plugins.module_utils.postgres_plain import check_plain


def restored_marker(dump, source=None):
    """Names the dump's contents, so a re-run of the same restore changes nothing. ``source``: where a temporary
    ``dump`` came from (its s3:// URL, or the .age file it was decrypted from), which names it across runs."""
    info = os.stat(dump)
    return "%s size=%d mtime=%d" % (source or os.path.abspath(dump), info.st_size, int(info.st_mtime))


def dump_source(tools, dump, no_owner, origin=None):
    """A dump file as the source of a restore: read (format, table of contents) before any change. ``origin``:
    where a temporary ``dump`` came from (``restored_marker``)."""
    fmt = detect_format(dump)
    toc = None
    if fmt == "plain":
        check_plain(dump)
    else:
        toc = tools.table_of_contents(dump)
    return dict(format=fmt, toc=toc, path=dump, marker=restored_marker(dump, origin),
                fill=lambda side, jobs: tools.restore(dump, fmt, side, jobs, no_owner))


def restore(module, source=None):
    """The postgres_restore module; see its documentation for the steps.

    ``source(tools)`` gives what is restored (default the O(dump): ``dump_source``): ``format``, ``toc``, ``path``
    (for the space estimate, or None), ``marker`` (names the contents, so a re-run changes nothing) and
    ``fill(side, jobs)``, which puts the contents into the side database."""
    params = module.params
    executed = []
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    db = params["db"]
    if params["emergency_backup"] and not params["emergency_backup_dir"]:
        raise RollbackError("emergency_backup_dir is required while emergency_backup is true")
    if params["drain_timeout"] < 0:
        raise RollbackError("drain_timeout must be 0 or more seconds, not %d" % params["drain_timeout"])
    tools = Tools(find_bin_dir(params["pg_bin_dir"]), login_of(params), executed)
    source = source(tools) if source else dump_source(tools, params["dump"], params["no_owner"],
                                                      getattr(module, "restore_source", None))
    fmt, toc = source["format"], source["toc"]
    server = Server(params, executed)
    options = dict(
        db=db, source=source["marker"], stamp=stamp, swap=params["swap"], force=params["force"],
        no_owner=params["no_owner"], verify=params["verify"], compare_privileges=params["compare_privileges"],
        replication=params["replication"], drain_timeout=params["drain_timeout"],
        keep_failed_side=params["keep_failed_side"], free_space_check=params["free_space_check"],
        emergency_dir=params["emergency_backup_dir"] if params["emergency_backup"] else None, dump=source["path"],
        check_mode=module.check_mode)
    plan = postgres_side.prepare(server, options)
    for warning in plan["warnings"]:
        module.warn(warning)
    result = dict(format=fmt, dump=source["path"], toc_entries=None if toc is None else len(toc), restored_db=db,
                  side_db=None, previous_db=None, emergency_backup=None, verify=[], executed_commands=executed,
                  identity=postgres_identity.facts(plan["live"]), carried_over=[], not_carried=plan["not_carried"],
                  privileges=None, sessions=dict(ended_by_themselves=[], terminated=[]),
                  replication=dict(plan["replication"], mode=params["replication"], recreated={}),
                  space=plan.get("space"), dropped_leftovers=[], changed=False)
    if plan["done"]:
        return _unchanged(server, module, plan, result)
    jobs = params["jobs"]
    if jobs > 1 and fmt in ("plain", "tar"):
        module.warn("jobs=%d ignored: pg_restore restores %s dumps with one job" % (jobs, fmt))
        jobs = 1
    result.update(side_db=plan["side"], previous_db=plan["previous"] if params["swap"] else None, changed=True,
                  dropped_leftovers=[s["name"] for s in plan["leftovers"] if s["state"] != "complete"])
    if module.check_mode:
        return result
    result["dropped_leftovers"] = []
    if params["emergency_backup"]:
        result["emergency_backup"] = _emergency_backup(tools, db, params["emergency_backup_dir"], options["stamp"],
                                                       params["emergency_backup_compression"])
    postgres_side.replace(server, plan, options, lambda side: source["fill"](side, jobs), result)
    for line in result["not_carried"]:
        module.warn("not carried over: %s" % line)
    return result


def _unchanged(server, module, plan, result):
    name = plan["done"]
    if module.params["swap"]:
        result.update(previous_db=name, msg="%s was already restored from this dump by an earlier run, the old "
                                            "database kept as %s (force=true restores it again)" % (
                                                module.params["db"], name))
        if not module.check_mode and not postgres_identity.read(server.main, name)["allow_connections"]:
            # The earlier run stopped between its swap and allowing connections to the old database again.
            server.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident(name)))
            result["changed"] = True
    else:
        result.update(restored_db=name, side_db=name, msg="%s already holds this dump, restored by an earlier run "
                                                          "(force=true restores it again)" % name)
    return result


def _emergency_backup(tools, db, directory, stamp, compression):
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    path = os.path.join(directory, "%s-emergency-%s.dump" % (db, stamp))
    tools.dump_custom(db, path, compression)
    tools.table_of_contents(path)
    os.chmod(path, 0o600)
    return path
