# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL connections for the postgres modules: the login spec, one error path, statements recorded.

``Server`` holds an autocommit connection to the maintenance database (server-level
statements: create, rename, drop, terminate) and opens connections to other
databases on demand. Every statement that changes something is recorded in
``executed`` (the module's ``executed_commands``); reads are not.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils import connection_specs

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
    sql = None
else:
    PSYCOPG2_IMPORT_ERROR = None


POSTGRES_LOGIN_SPEC = connection_specs.POSTGRES_LOGIN_SPEC  # spec kept apart from the client library

MAX_IDENTIFIER = 63
# Our own sessions are not cut short by the database's or a role's timeouts (as pg_dump sets them to 0): client
# options outrank ALTER DATABASE / ALTER ROLE settings. Verify checks as_role get the application's back.
NO_TIMEOUTS = "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0"


def login_of(params):
    return dict(host=params["login_host"], port=params["login_port"], user=params["login_user"],
                password=params["login_password"])


def pg_message(error):
    diag = getattr(error, "diag", None)
    if diag is not None and diag.message_primary:
        return diag.message_primary
    text = (getattr(error, "pgerror", None) or str(error) or type(error).__name__).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__


def ident(name):
    return sql.Identifier(name)


class Connection:
    """One autocommit connection to one database."""

    def __init__(self, params, database, executed, label=True):
        self.database = database
        self.executed = executed
        self.label = label
        try:
            self.raw = psycopg2.connect(host=params["login_host"], port=params["login_port"],
                                        user=params["login_user"], password=params["login_password"],
                                        dbname=database, connect_timeout=10, options=NO_TIMEOUTS,
                                        application_name="rollback.core.postgres_restore")
        except psycopg2.Error as error:
            raise RollbackError("cannot connect to PostgreSQL %s:%s as %s (database %s): %s" % (
                params["login_host"], params["login_port"], params["login_user"], database, pg_message(error)))
        self.raw.autocommit = True
        self.pid = self.raw.get_backend_pid()

    def _text(self, cursor, statement, args):
        if not isinstance(statement, str):
            statement = statement.as_string(self.raw)
        return cursor.mogrify(statement, args).decode("utf-8") if args is not None else statement

    def execute(self, statement, args=None, record=True, what=None):
        """Run one statement; return its rows. A failure raises RollbackError naming the statement."""
        with self.raw.cursor() as cursor:
            text = self._text(cursor, statement, args)
            if record:
                self.executed.append("[%s] %s" % (self.database, text) if self.label else text)
            try:
                cursor.execute(text)
                return cursor.fetchall() if cursor.description else []
            except psycopg2.Error as error:
                raise RollbackError("%s failed: %s" % (what or text.split("\n")[0][:200], pg_message(error)),
                                    sqlstate=getattr(error, "pgcode", None))

    def query(self, statement, args=None):
        return self.execute(statement, args, record=False)

    def value(self, statement, args=None):
        rows = self.query(statement, args)
        return rows[0][0] if rows else None

    def transaction(self, statements):
        """Run the statements in one transaction: all or none."""
        if not statements:
            return
        self.execute("BEGIN", record=False)
        try:
            for statement in statements:
                self.execute(statement)
            self.execute("COMMIT", record=False)
        except BaseException:
            self.rollback()
            raise

    def trial(self, statements):
        """Run the statements in a transaction that is always rolled back: PostgreSQL's own checks, no change."""
        self.execute("BEGIN", record=False)
        try:
            for statement in statements:
                self.execute(statement, record=False)
        finally:
            self.rollback()

    def rollback(self):
        try:
            with self.raw.cursor() as cursor:
                cursor.execute("ROLLBACK")
        except psycopg2.Error:
            pass

    def close(self):
        try:
            self.raw.close()
        except psycopg2.Error:
            pass


class Server:
    """The maintenance connection, the login's attributes, and connections to other databases."""

    def __init__(self, params, executed):
        self.params = params
        self.executed = executed
        self.main = Connection(params, params["maintenance_db"], executed, label=False)
        # Our own backends: one we closed may still be listed in pg_stat_activity for a moment (its exit is
        # asynchronous), and is nobody's client session.
        self.own_pids = set([self.main.pid])
        row = self.main.query(
            "SELECT current_user, r.rolsuper, r.rolcreatedb, r.rolreplication, "
            "pg_has_role('pg_signal_backend', 'USAGE'), current_setting('server_version_num')::int "
            "FROM pg_roles r WHERE r.rolname = current_user")[0]
        self.user, self.superuser, self.createdb, self.replication, self.signal_backend, self.version = row

    def execute(self, statement, args=None, record=True, what=None):
        return self.main.execute(statement, args, record, what)

    def query(self, statement, args=None):
        return self.main.query(statement, args)

    def connect(self, database):
        connection = Connection(self.params, database, self.executed)
        self.own_pids.add(connection.pid)
        return connection

    def in_database(self, database, func):
        """``func(connection)`` on a fresh connection to ``database``, closed afterwards."""
        connection = self.connect(database)
        try:
            return func(connection)
        finally:
            connection.close()

    def can_become(self, role, connection=None):
        """Whether the login may act as ``role`` (SET ROLE, ALTER ... OWNER TO): superuser or a member.

        Ask on a ``connection`` to the database concerned: the database's owner is a member of
        pg_database_owner there only."""
        if self.superuser or role == self.user:
            return True
        return bool((connection or self.main).value("SELECT pg_has_role(%s, 'MEMBER')", (role,)))
