# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL restore beside the live database, then an atomic swap by rename.

The runbooks drop the live database and restore over it; if that restore
fails, the data is gone. Here the dump goes into a side database, is verified
there, and only then the two names are swapped in one transaction. The old
database is kept under ``<db>_pre_rollback_<ts>``: this module never drops it.
The only database it ever drops is its own side database when a step fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import (
    Tools,
    detect_format,
    find_bin_dir,
)

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
else:
    PSYCOPG2_IMPORT_ERROR = None

POSTGRES_LOGIN_SPEC = dict(
    login_host=dict(type="str", default="localhost"),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str", default="postgres"),
    login_password=dict(type="str", no_log=True),
    maintenance_db=dict(type="str", default="postgres"),
)

MAX_IDENTIFIER = 63


def login_of(params):
    return dict(host=params["login_host"], port=params["login_port"], user=params["login_user"],
                password=params["login_password"])


class Server:
    """An autocommit connection to the maintenance database, recording each statement."""

    def __init__(self, params, executed):
        self.params = params
        self.executed = executed
        self.connection = self._connect(params["maintenance_db"])

    def _connect(self, database):
        try:
            connection = psycopg2.connect(host=self.params["login_host"], port=self.params["login_port"],
                                          user=self.params["login_user"], password=self.params["login_password"],
                                          dbname=database, connect_timeout=10)
        except psycopg2.Error as error:
            raise RollbackError("cannot connect to PostgreSQL %s:%s as %s (database %s): %s" % (
                self.params["login_host"], self.params["login_port"], self.params["login_user"], database,
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__))
        connection.autocommit = True
        return connection

    def execute(self, statement, args=None, record=True):
        with self.connection.cursor() as cursor:
            text = cursor.mogrify(statement, args).decode("utf-8")
            if record:
                self.executed.append(text)
            try:
                cursor.execute(text)
                return cursor.fetchall() if cursor.description else []
            except psycopg2.Error as error:
                raise RollbackError("%s failed: %s" % (text.split("\n")[0], _pg_message(error)))

    def database(self, name):
        rows = self.execute("SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype "
                            "FROM pg_database WHERE datname = %s", (name,), record=False)
        return rows[0] if rows else None

    def comment(self, name):
        rows = self.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                            (name,), record=False)
        return rows[0][0] if rows else None

    def set_comment(self, name, text):
        self.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(text)))

    def terminate(self, name):
        self.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (name,))

    def allow_connections(self, name, allowed):
        self.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(name), sql.SQL("true" if allowed else "false")))

    def check_in(self, database, checks):
        """Run verify checks in ``database``; return their results or raise naming the first failure."""
        connection = self._connect(database)
        connection.autocommit = True
        results = []
        try:
            for check in checks:
                results.append(_run_check(connection, check, self.executed))
        finally:
            connection.close()
        return results


def _pg_message(error):
    text = (getattr(error, "pgerror", None) or str(error) or type(error).__name__).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _run_check(connection, check, executed):
    executed.append(check["sql"])
    try:
        with connection.cursor() as cursor:
            cursor.execute(check["sql"])
            rows = cursor.fetchall() if cursor.description else []
    except psycopg2.Error as error:
        raise RollbackError("verify %s failed: %s" % (check["name"] or check["sql"], _pg_message(error)))
    name = check["name"] or check["sql"]
    if check.get("min_rows") is not None and len(rows) < check["min_rows"]:
        raise RollbackError("verify %s failed: %d row(s), expected at least %d"
                            % (name, len(rows), check["min_rows"]))
    value = rows[0][0] if rows and rows[0] else None
    if check.get("expect") is not None and str(value) != str(check["expect"]):
        raise RollbackError("verify %s failed: got %s, expected %s" % (name, value, check["expect"]))
    return dict(name=name, rows=len(rows), value=None if value is None else str(value))


def restored_marker(dump):
    """What the swapped-in database is labelled with, so a re-run of the same restore changes nothing."""
    info = os.stat(dump)
    return "rollback.core restored-from=%s size=%d mtime=%d" % (os.path.abspath(dump), info.st_size,
                                                                int(info.st_mtime))


def _names(db, stamp):
    side = "%s_rb_%s" % (db, stamp)
    previous = "%s_pre_rollback_%s" % (db, stamp)
    for name in (side, previous):
        if len(name) > MAX_IDENTIFIER:
            raise RollbackError("database name %s would exceed PostgreSQL's %d characters; use a shorter db name"
                                % (name, MAX_IDENTIFIER))
    return side, previous


def restore(module):
    """The postgres_restore flow; see the module documentation for the steps."""
    params = module.params
    executed = []
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    db = params["db"]
    if params["emergency_backup"] and not params["emergency_backup_dir"]:
        raise RollbackError("emergency_backup_dir is required while emergency_backup is true")
    fmt = detect_format(params["dump"])
    tools = Tools(find_bin_dir(params["pg_bin_dir"]), login_of(params), executed)
    toc = tools.table_of_contents(params["dump"]) if fmt != "plain" else None
    server = Server(params, executed)
    live = server.database(db)
    if live is None:
        raise RollbackError("database %s does not exist on %s:%s" % (db, params["login_host"], params["login_port"]))
    marker = restored_marker(params["dump"])
    if params["swap"] and not params["force"] and server.comment(db) == marker:
        return dict(format=fmt, dump=params["dump"], toc_entries=None if toc is None else len(toc), restored_db=db,
                    side_db=None, previous_db=None, emergency_backup=None, verify=[], executed_commands=executed,
                    changed=False, msg="%s was already restored from this dump by an earlier run (force=true "
                                       "restores it again)" % db)
    side, previous = _names(db, stamp)
    for name in (side, previous):
        if server.database(name) is not None:
            raise RollbackError("database %s already exists; wait a second and re-run" % name)
    jobs = params["jobs"]
    if jobs > 1 and fmt in ("plain", "tar"):
        module.warn("jobs=%d ignored: pg_restore restores %s dumps with one job" % (jobs, fmt))
        jobs = 1
    result = dict(format=fmt, dump=params["dump"], toc_entries=None if toc is None else len(toc), restored_db=db,
                  side_db=side, previous_db=previous if params["swap"] else None, emergency_backup=None,
                  verify=[], executed_commands=executed, changed=True)
    if module.check_mode:
        return result
    if params["emergency_backup"]:
        result["emergency_backup"] = _emergency_backup(tools, db, params["emergency_backup_dir"], stamp)
    _restore_side(server, tools, params, live, side, fmt, jobs, result)
    if not params["swap"]:
        result.update(restored_db=side)
        return result
    _swap(server, db, side, previous)
    server.set_comment(db, marker)
    return result


def _emergency_backup(tools, db, directory, stamp):
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    path = os.path.join(directory, "%s-emergency-%s.dump" % (db, stamp))
    tools.dump_custom(db, path)
    tools.table_of_contents(path)
    os.chmod(path, 0o600)
    return path


def _restore_side(server, tools, params, live, side, fmt, jobs, result):
    owner, encoding, collate, ctype = live
    server.execute(sql.SQL("CREATE DATABASE {} WITH TEMPLATE template0 OWNER {} ENCODING {} LC_COLLATE {} "
                           "LC_CTYPE {}").format(sql.Identifier(side), sql.Identifier(owner), sql.Literal(encoding),
                                                 sql.Literal(collate), sql.Literal(ctype)))
    try:
        tools.restore(params["dump"], fmt, side, jobs, params["no_owner"])
        result["verify"] = server.check_in(side, params["verify"])
    except RollbackError as error:
        dropped = _drop_side(server, side)
        raise RollbackError("%s; the live database %s is untouched and %s" % (
            error.msg, params["db"], dropped), emergency_backup=result["emergency_backup"],
            executed_commands=result["executed_commands"])


def _drop_side(server, side):
    try:
        server.terminate(side)
        server.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(side)))
    except RollbackError as error:
        return "the side database %s could not be removed (%s): drop it by hand" % (side, error.msg)
    return "the side database %s was removed" % side


def _swap(server, db, side, previous):
    """Rename live -> previous and side -> live in one transaction, with nobody connected."""
    server.allow_connections(db, False)
    try:
        server.terminate(db)
        server.terminate(side)
        server.execute(sql.SQL("BEGIN; ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} RENAME TO {}; COMMIT").format(
            sql.Identifier(db), sql.Identifier(previous), sql.Identifier(side), sql.Identifier(db)))
    except RollbackError:
        server.execute("ROLLBACK", record=False)  # leave the aborted swap transaction; a no-op otherwise
        server.allow_connections(db, True)
        raise
    server.allow_connections(previous, True)
