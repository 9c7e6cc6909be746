# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who uses a database: sessions and prepared transactions, checked up front, drained, then ended.

``ALTER DATABASE ... RENAME`` fails while anything else uses the database
(dbcommands.c ``RenameDatabase`` -> ``CountOtherDBBackends``, which waits up to 5 s
and counts sessions and prepared transactions; only autovacuum workers are told to
leave). ``pg_terminate_backend`` cannot end a superuser's session unless the caller
is a superuser, nor another role's without ``pg_signal_backend`` or membership
(signalfuncs.c ``pg_signal_backend``), and nothing ends a prepared transaction but
COMMIT/ROLLBACK PREPARED. So both are refused before any work; the rest are given
``drain_timeout`` to end on their own after new connections are refused, then ended.

``pg_stat_activity`` shows every session's datname, pid, usesysid and
application_name to every role (pgstatfuncs.c ``pg_stat_get_activity``, "values
available to all callers"); autovacuum workers have no usesysid and are left to
PostgreSQL.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout, wait_until

TERMINATE_TIMEOUT = 30


def sessions(server, database):
    """Client sessions on ``database``, none of ours (``server.own_pids``, this run's backends, closed ones
    included): pid, user, application, superuser, whether we may end it."""
    rows = server.query(
        "SELECT a.pid, r.rolname, coalesce(a.application_name, ''), r.rolsuper, "
        "%s OR (NOT r.rolsuper AND (pg_has_role(a.usesysid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))) "
        "FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid "
        "WHERE a.datname = %s AND a.pid <> pg_backend_pid() ORDER BY a.pid",
        (server.superuser, database))
    return [dict(pid=pid, user=user, application=application, superuser=superuser, endable=endable)
            for pid, user, application, superuser, endable in rows if pid not in server.own_pids]


def prepared_transactions(server, database):
    return [dict(gid=gid, owner=owner, prepared=str(prepared)) for gid, owner, prepared in server.query(
        "SELECT gid, owner, prepared FROM pg_prepared_xacts WHERE database = %s ORDER BY prepared", (database,))]


def describe(session):
    return "pid %d (%s%s)" % (session["pid"], session["user"],
                              ", %s" % session["application"] if session["application"] else "")


def refuse_blockers(server, database, up_front=True):
    """Fail, naming them, when a prepared transaction or a session the login cannot end uses ``database``."""
    unchanged = "; nothing was changed" if up_front else ""
    prepared = prepared_transactions(server, database)
    if prepared:
        raise RollbackError(
            "database %s has %d prepared transaction(s) (%s): the swap cannot rename it until they are committed "
            "or rolled back (COMMIT PREPARED / ROLLBACK PREPARED)%s" % (
                database, len(prepared), ", ".join("%s by %s" % (p["gid"], p["owner"]) for p in prepared), unchanged),
            prepared_transactions=prepared)
    blockers = [s for s in sessions(server, database) if not s["endable"]]
    if blockers:
        supers = [s for s in blockers if s["superuser"]]
        why = ("superuser session(s) that %s, not being a superuser, cannot end" % server.user if supers else
               "session(s) of other roles that %s cannot end (it needs pg_signal_backend)" % server.user)
        raise RollbackError("database %s has %s: %s; end them or run as a superuser%s" % (
            database, why, ", ".join(describe(s) for s in blockers), unchanged), sessions=blockers)


def drain(server, database, timeout, sleep=0.2, before=()):
    """Wait up to ``timeout`` s for the sessions on ``database`` to end by themselves; return (ended, left).

    ``before``: the sessions listed just before new connections were refused; one that leaves in between (a pool
    closing on its first refused connection) has ended by itself too."""
    seen = dict((session["pid"], session) for session in before)

    def probe():
        current = sessions(server, database)
        for session in current:
            seen.setdefault(session["pid"], session)
        return not current, current

    try:
        wait_until(probe, "the sessions of %s to end" % database, timeout, sleep)
        left = []
    except WaitTimeout as error:
        left = error.details["wait_state"]
    left_pids = set(s["pid"] for s in left)
    return [s for pid, s in sorted(seen.items()) if pid not in left_pids], left


def terminate(server, database, victims, sleep=0.1):
    """End the sessions ``victims`` and wait until they are gone."""
    for session in victims:
        server.execute("SELECT pg_terminate_backend(%s)", (session["pid"],))
    pids = set(s["pid"] for s in victims)

    def probe():
        alive = [s for s in sessions(server, database) if s["pid"] in pids]
        return not alive, alive

    try:
        wait_until(probe, "the ended sessions of %s to exit" % database, TERMINATE_TIMEOUT, sleep)
    except WaitTimeout as error:
        raise RollbackError("sessions of %s did not end %ds after pg_terminate_backend: %s" % (
            database, TERMINATE_TIMEOUT, ", ".join(describe(s) for s in error.details["wait_state"])))
