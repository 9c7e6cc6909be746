"""postgres: the login, the one error path and the record of statements, over a fake of psycopg2's connection and
cursor (the DB-API calls the module uses: cursor() as a context manager, mogrify, execute, description, fetchall,
get_backend_pid; psycopg2 docs, "The cursor class"). Errors are psycopg2's own classes, their ``pgcode`` and
``pgerror`` set as unpickling does (psycopg2/psycopg/error_type.c, ``__setstate__``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import psycopg2
import pytest

from ansible_collections.rollback.core.plugins.module_utils import postgres
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres import (
    NO_TIMEOUTS, Connection, Server, login_of, pg_message)

PARAMS = dict(login_host="db.example", login_port=5433, login_user="rollback", login_password="s3cret",
              maintenance_db="postgres")


def pg_error(cls, pgerror, pgcode=None):
    error = cls("ignored")
    error.__setstate__(dict(pgerror=pgerror, pgcode=pgcode))
    return error


class Cursor:
    def __init__(self, raw):
        self.raw = raw
        self.description = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def mogrify(self, statement, args):
        return (statement % tuple("'%s'" % a for a in args)).encode("utf-8")

    def execute(self, text):
        self.raw.ran.append(text)
        answer = self.raw.answers.pop(0) if self.raw.answers else []
        if isinstance(answer, Exception):
            raise answer
        self.description = [("column",)] if answer else None
        self.rows = answer

    def fetchall(self):
        return self.rows


class Raw:
    def __init__(self, answers=(), pid=4242):
        self.answers = list(answers)
        self.ran = []
        self.autocommit = False
        self.closed = False
        self.pid = pid

    def cursor(self):
        return Cursor(self)

    def get_backend_pid(self):
        return self.pid

    def close(self):
        self.closed = True


@pytest.fixture
def connect(monkeypatch):
    made = []

    def fake(**kwargs):
        raw = Raw(answers=connect.answers.pop(0) if connect.answers else (), pid=4242 + len(made))
        made.append((kwargs, raw))
        return raw
    connect.answers = []
    connect.made = made
    monkeypatch.setattr(psycopg2, "connect", fake)
    return connect


def test_login_of_takes_the_login_options():
    assert login_of(PARAMS) == dict(host="db.example", port=5433, user="rollback", password="s3cret")


@pytest.mark.parametrize("error,message", [
    (pg_error(psycopg2.errors.UniqueViolation, "ERROR:  duplicate key value\nDETAIL:  Key (id)=(1) exists.\n"),
     "ERROR:  duplicate key value"),
    (pg_error(psycopg2.OperationalError, "\n\n  server closed the connection unexpectedly\n"),
     "server closed the connection unexpectedly"),
    (psycopg2.OperationalError("could not connect to server: Connection refused\n\tIs the server running?"),
     "could not connect to server: Connection refused"),
    (psycopg2.InterfaceError(""), "InterfaceError"),
    (type("Diagnosed", (Exception,), dict(diag=type("Diag", (), dict(message_primary="role \"x\" does not exist")),
                                          pgerror="ERROR:  other text"))(), 'role "x" does not exist'),
])
def test_pg_message_is_one_line(error, message):
    assert pg_message(error) == message


def test_connection_is_autocommit_without_our_sessions_timeouts(connect):
    connection = Connection(PARAMS, "app", [])
    kwargs, raw = connect.made[0]
    assert raw.autocommit is True and connection.pid == 4242
    assert kwargs == dict(host="db.example", port=5433, user="rollback", password="s3cret", dbname="app",
                          connect_timeout=10, options=NO_TIMEOUTS, application_name="rollback.core.postgres_restore")
    assert NO_TIMEOUTS == "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0"


def test_a_refused_connection_names_where_and_as_whom(monkeypatch):
    def refuse(**kwargs):
        raise psycopg2.OperationalError('FATAL:  password authentication failed for user "rollback"\n')
    monkeypatch.setattr(psycopg2, "connect", refuse)
    with pytest.raises(RollbackError, match='^cannot connect to PostgreSQL db.example:5433 as rollback \\(database '
                                            'app\\): FATAL:  password authentication failed for user "rollback"$'):
        Connection(PARAMS, "app", [])


def test_changes_are_recorded_with_the_database_and_reads_are_not(connect):
    connect.answers = [[[], [("app",)], [(1,)], []]]
    executed = []
    connection = Connection(PARAMS, "app", executed)
    assert connection.execute("ALTER DATABASE %s RENAME TO %s", ("a", "b")) == []
    assert connection.query("SELECT datname FROM pg_database") == [("app",)]
    assert connection.value("SELECT 1") == 1
    assert connection.value("SELECT nothing") is None
    assert executed == ["[app] ALTER DATABASE 'a' RENAME TO 'b'"]
    Connection(PARAMS, "postgres", executed, label=False).execute("CHECKPOINT")
    assert executed[-1] == "CHECKPOINT"


def test_a_failed_statement_is_one_rollback_error_with_its_sqlstate(connect):
    connect.answers = [[pg_error(psycopg2.errors.ObjectInUse, "ERROR:  database \"app\" is being accessed by other "
                                                              "users\nDETAIL:  There is 1 other session.\n", "55006")]]
    executed = []
    with pytest.raises(RollbackError) as error:
        Connection(PARAMS, "postgres", executed, label=False).execute("DROP DATABASE app\nWITH (FORCE)",
                                                                      what="drop of app")
    assert error.value.msg == 'drop of app failed: ERROR:  database "app" is being accessed by other users'
    assert error.value.details == dict(sqlstate="55006")
    assert executed == ["DROP DATABASE app\nWITH (FORCE)"]  # recorded: it was tried
    connect.answers = [[pg_error(psycopg2.errors.SyntaxError, "ERROR:  syntax error\n", "42601")]]
    with pytest.raises(RollbackError, match="^SELEC 1 failed: ERROR:  syntax error$"):
        Connection(PARAMS, "postgres", []).query("SELEC 1\nFROM x")


def test_transaction_is_all_or_none(connect):
    connect.answers = [[[], [], pg_error(psycopg2.errors.UndefinedTable, "ERROR:  no such table\n"), []]]
    executed = []
    connection = Connection(PARAMS, "app", executed)
    with pytest.raises(RollbackError, match="no such table"):
        connection.transaction(["ALTER TABLE a OWNER TO x", "ALTER TABLE b OWNER TO x"])
    raw = connect.made[0][1]
    assert raw.ran == ["BEGIN", "ALTER TABLE a OWNER TO x", "ALTER TABLE b OWNER TO x", "ROLLBACK"]
    assert executed == ["[app] ALTER TABLE a OWNER TO x", "[app] ALTER TABLE b OWNER TO x"]
    raw.ran[:] = []
    connection.transaction(["ALTER TABLE a OWNER TO x"])
    assert raw.ran == ["BEGIN", "ALTER TABLE a OWNER TO x", "COMMIT"]
    raw.ran[:] = []
    connection.transaction([])
    assert raw.ran == []


def test_trial_always_rolls_back_and_records_nothing(connect):
    executed = []
    connection = Connection(PARAMS, "app", executed)
    connection.trial(["SET ROLE app", "SELECT 1"])
    assert connect.made[0][1].ran == ["BEGIN", "SET ROLE app", "SELECT 1", "ROLLBACK"] and executed == []


def test_server_reads_the_login_and_tracks_its_own_backends(connect):
    connect.answers = [[[("rollback", False, True, False, True, 160004)], [(True,)], [(False,)]], []]
    executed = []
    server = Server(PARAMS, executed)
    assert connect.made[0][0]["dbname"] == "postgres"
    assert (server.user, server.superuser, server.createdb, server.replication, server.signal_backend,
            server.version) == ("rollback", False, True, False, True, 160004)
    assert server.can_become("rollback") is True  # itself: no query
    assert server.can_become("app") is True
    assert server.can_become("other") is False
    assert connect.made[0][1].ran[-1] == "SELECT pg_has_role('other', 'MEMBER')"
    seen = server.in_database("app", lambda connection: connection.database)
    assert seen == "app" and connect.made[1][1].closed and server.own_pids == set([4242, 4243])


def test_a_superuser_may_become_anyone_without_asking(connect):
    connect.answers = [[[("postgres", True, True, True, True, 150000)]]]
    server = Server(PARAMS, [])
    assert server.can_become("app") and len(connect.made[0][1].ran) == 1


def test_identifiers_are_quoted_by_psycopg2():
    assert isinstance(postgres.ident('we"ird'), postgres.sql.Identifier)
    assert postgres.ident('we"ird').strings == ('we"ird',)


def test_the_login_becomes_itself_by_name_and_asks_for_any_other_role(connect):
    # A name equal to the login's but built apart (not the same object), and one sorting after it: only the
    # first is the login itself.
    connect.answers = [[[("rollback", False, False, False, False, 160004)], [(False,)]]]
    server = Server(PARAMS, [])
    assert server.can_become("".join(["roll", "back"])) is True
    assert server.can_become("zz-other") is False
    assert connect.made[0][1].ran[1:] == ["SELECT pg_has_role('zz-other', 'MEMBER')"]


def test_the_servers_changes_are_recorded_unlabelled_and_a_commit_is_not(connect):
    connect.answers = [[[("rollback", True, True, True, True, 160004)], [], []], [[], [], []]]
    executed = []
    server = Server(PARAMS, executed)
    server.execute("CHECKPOINT")
    assert executed == ["CHECKPOINT"], "the maintenance connection's statements carry no database label"
    server.connect("app").transaction(["ALTER TABLE a OWNER TO x"])
    assert executed == ["CHECKPOINT", "[app] ALTER TABLE a OWNER TO x"], "BEGIN and COMMIT are not changes"


def test_value_is_the_first_column_of_the_first_row(connect):
    connect.answers = [[[(1, 2), (3, 4)]]]
    assert Connection(PARAMS, "app", []).value("SELECT a, b FROM t") == 1


def test_a_failed_statement_without_a_name_is_named_by_its_first_200_characters(connect):
    statement = "SELECT " + "x" * 300 + "\nFROM t"
    connect.answers = [[pg_error(psycopg2.errors.SyntaxError, "ERROR:  syntax error\n", "42601")]]
    with pytest.raises(RollbackError) as error:
        Connection(PARAMS, "app", []).query(statement)
    assert error.value.msg == "%s failed: ERROR:  syntax error" % statement[:200]


def test_rollback_and_close_of_a_lost_connection_raise_nothing(connect):
    connection = Connection(PARAMS, "app", [])
    raw = connect.made[0][1]

    def lost(*args):
        raise psycopg2.InterfaceError("connection already closed")
    raw.cursor = lost
    raw.close = lost
    connection.rollback()
    connection.close()


def test_identifiers_are_limited_to_postgresqls_63_bytes():
    # NAMEDATALEN is 64 and an identifier keeps at most NAMEDATALEN-1 bytes (PostgreSQL docs, "Identifiers and Key
    # Words"): postgres_side refuses a side database name longer than this.
    assert postgres.MAX_IDENTIFIER == 63
