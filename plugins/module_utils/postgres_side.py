# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore beside the live database, give the copy the live database's identity, verify it, swap by rename.

``prepare()`` checks everything that can be checked before a change and returns a plan;
``replace()`` creates the side database like the live one, has ``fill(side)`` put the
contents in (a dump here; it does not care where they come from), carries the
identity over (postgres_identity, and with ``no_owner`` postgres_objects), runs the
verify checks and the privilege comparison, then drains the live database and swaps
the names in one transaction. Any failure before the swap commits drops the side
database (``keep_failed_side`` keeps it, labelled); the live database is untouched
and is never dropped.

The side database is labelled with a comment while it is built
(``rollback.core side database of <db> [<state>] restored from <source>``) so a re-run
finds what an interrupted run left and drops it instead of making a second copy.
After the swap the old database is labelled ``rollback.core: replaced by database oid
<N> restored from <source> ...`` (its own comment is kept in that text), which is how a
re-run knows the live database is already the restored one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import re
import time

from ansible_collections.rollback.core.plugins.module_utils import (
    postgres_activity,
    postgres_identity,
    postgres_objects,
    postgres_privileges,
    postgres_replication,
    postgres_space,
)
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres import MAX_IDENTIFIER, ident, sql

SIDE_LABEL = "rollback.core side database of %s [%s] restored from %s"
FAILED = " -- failed: "
REPLACED_LABEL = "rollback.core: replaced by database oid %d restored from %s at %s; %s"
REPLACED = re.compile(r"rollback\.core: replaced by database oid (\d+) restored from (.*) at \d{14}; ")
SWAP_TRIES = 3
STAMP = "%Y%m%d%H%M%S"


def names(db, stamp):
    side = "%s_rb_%s" % (db, stamp)
    previous = "%s_pre_rollback_%s" % (db, stamp)
    for name in (side, previous):
        if len(name) > MAX_IDENTIFIER:
            raise RollbackError("database name %s would exceed PostgreSQL's %d characters; use a shorter db name"
                                % (name, MAX_IDENTIFIER))
    return side, previous


def _free_names(server, db, options):
    """Side and previous names not taken yet. A failed side kept a moment ago (keep_failed_side) holds this
    second's name: the run takes the next free second and sets ``options["stamp"]`` to it."""
    moment = calendar.timegm(time.strptime(options["stamp"], STAMP))
    for ahead in range(60):
        stamp = time.strftime(STAMP, time.gmtime(moment + ahead))
        side, previous = names(db, stamp)
        if all(postgres_identity.read(server.main, name) is None for name in (side, previous)):
            options["stamp"] = stamp
            return side, previous
    raise RollbackError("databases %s_rb_<timestamp> exist for every second of the next minute; drop the kept "
                        "side databases of %s and re-run; nothing was changed" % (db, db))


def side_databases(server, db):
    """Side databases of ``db`` an earlier run left: ``[{name, source, state}]``."""
    found = []
    for name, comment in server.query(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname ~ %s ORDER BY 1",
            ("^%s_rb_[0-9]{14}$" % re.escape(db),)):
        prefix = "rollback.core side database of %s [" % db
        if comment is None:
            found.append(dict(name=name, source=None, state="building"))
        elif comment.startswith(prefix):
            state, _sep, rest = comment[len(prefix):].partition("] restored from ")
            source, _sep, _why = rest.partition(FAILED)
            found.append(dict(name=name, source=source, state=state))
    return found


def already_replaced(server, db, live_oid, source):
    """The old database's name when ``db`` already is the database restored from ``source``, else None."""
    for name, comment in server.query(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname ~ %s ORDER BY 1 DESC",
            ("^%s_pre_rollback_[0-9]{14}$" % re.escape(db),)):
        match = REPLACED.match(comment or "")
        if match and int(match.group(1)) == live_oid and match.group(2) == source:
            return name
    return None


def prepare(server, options):
    """Everything checked before a change. ``options``: db, source, stamp, swap, force, no_owner, verify,
    compare_privileges, replication, drain_timeout, keep_failed_side, free_space_check, emergency_dir,
    dump (for the space estimate), check_mode.
    Returns the plan: live identity, names, leftovers, and ``done`` (the previous database) when a re-run
    would change nothing."""
    db = options["db"]
    live = postgres_identity.read(server.main, db)
    if live is None:
        raise RollbackError("database %s does not exist on %s:%s" % (
            db, server.params["login_host"], server.params["login_port"]))
    leftovers = side_databases(server, db)
    plan = dict(live=live, leftovers=leftovers, done=None, not_carried=[], warnings=[], reallow=False,
                replication=dict(slots=[], subscriptions=[]))
    if not live["allow_connections"]:
        if not any(side["state"] == "swapping" for side in leftovers):
            raise RollbackError("database %s does not allow connections (datallowconn is false): allow them "
                                "(ALTER DATABASE %s ALLOW_CONNECTIONS true) and run again; nothing was changed"
                                % (db, db))
        # An interrupted run refused connections before its swap: allow them again, as its failure path would have.
        plan["warnings"].append("database %s refused connections, left so by an interrupted run; they are allowed "
                                "again" % db)
        live = plan["live"] = dict(live, allow_connections=True)
        if options["check_mode"]:
            plan["reallow"] = True
        else:
            server.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident(db)))
    if options["swap"] and not options["force"]:
        plan["done"] = already_replaced(server, db, live["oid"], options["source"])
        if plan["done"]:
            return plan
    if not options["swap"] and not options["force"]:
        complete = [s for s in leftovers if s["state"] == "complete" and s["source"] == options["source"]]
        if complete:
            plan["done"] = complete[-1]["name"]
            return plan
    plan["side"], plan["previous"] = _free_names(server, db, options)
    for side in leftovers:
        if side["state"] != "complete" and postgres_activity.sessions(server, side["name"]):
            raise RollbackError("database %s, left by an earlier run, is in use (another restore of %s in "
                                "progress?); nothing was changed" % (side["name"], db))
    _check_login(server, live)
    if options["swap"]:
        postgres_activity.refuse_blockers(server, db)
        plan["replication"] = postgres_replication.read(server, db, live["oid"])
        plan["not_carried"] += postgres_replication.check(server, plan["replication"], options["replication"], db)
    _check_roles(server, live, options, connect=not plan["reallow"])
    try:
        server.main.trial(postgres_identity.apply_statements(
            live, db, postgres_identity.new_grants(server.main, live["owner"])) +
            postgres_identity.swap_statements(live, db) +
            [sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident(db))])
    except RollbackError as error:
        raise RollbackError("%s could not carry the identity of %s over (its statements, tried on %s in a "
                            "transaction rolled back): %s; nothing was changed" % (server.user, db, db, error.msg))
    plan["space"] = postgres_space.check(server, live, options["dump"], options["free_space_check"],
                                         options.get("emergency_dir"))
    if not plan["space"]["checked"] and plan["space"].get("reason") and options["free_space_check"] != "skip":
        plan["warnings"].append(plan["space"]["reason"])
    return plan


def _check_login(server, live):
    if not (server.superuser or server.createdb):
        raise RollbackError("%s needs CREATEDB (or superuser) to create the side database and rename; nothing was "
                            "changed" % server.user)
    if not server.superuser and not server.main.value("SELECT pg_has_role(%s, 'USAGE')", (live["owner"],)):
        raise RollbackError("%s does not own database %s (owner %s) and is not a superuser: it cannot rename it; "
                            "nothing was changed" % (server.user, live["name"], live["owner"]))
    if live["tablespace"] != "pg_default" and not server.superuser and not server.main.value(
            "SELECT has_tablespace_privilege(%s, 'CREATE')", (live["tablespace"],)):
        raise RollbackError("%s has no CREATE privilege on tablespace %s, where the side database must be created "
                            "like %s; nothing was changed" % (server.user, live["tablespace"], live["name"]))
    if not server.can_become(live["owner"]):
        raise RollbackError("%s cannot create the side database owned by %s (it must be a member of %s); nothing "
                            "was changed" % (server.user, live["owner"], live["owner"]))


def _check_roles(server, live, options, connect):
    as_roles = sorted(set(check["as_role"] for check in options["verify"] if check.get("as_role")))
    existing = set(row[0] for row in server.query("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                                  (as_roles,)))
    missing = [role for role in as_roles if role not in existing]
    if missing:
        raise RollbackError("verify as_role %s: no such role; nothing was changed" % ", ".join(missing))
    needed = set(as_roles)
    if options["no_owner"] and connect:
        def acting(connection):
            roles = postgres_objects.acting_roles(postgres_objects.snapshot(connection)) | set([live["owner"]])
            return sorted(role for role in roles if not server.can_become(role, connection))
        unable = server.in_database(live["name"], acting)
    else:
        unable = []
    unable = sorted(set(unable) | set(role for role in needed if not server.can_become(role)))
    if unable:
        raise RollbackError("%s cannot act as %s (not a member), which %s needs; GRANT %s TO %s, or run as a "
                            "superuser; nothing was changed" % (
                                server.user, ", ".join(unable),
                                "no_owner (giving the restored objects their owners and grants back)"
                                if options["no_owner"] else "verify as_role", ", ".join(unable), server.user))


def drop(server, name):
    """Drop a side database (its subscriptions first, detached from their slot so the publisher's stays)."""
    oid = server.main.value("SELECT oid FROM pg_database WHERE datname = %s", (name,))
    if oid is None:
        return
    if server.main.value("SELECT count(*) FROM pg_subscription WHERE subdbid = %s", (oid,)):
        def detach(connection):
            for (subscription,) in connection.query("SELECT subname FROM pg_subscription WHERE subdbid = %s", (oid,)):
                for form in ("ALTER SUBSCRIPTION {} DISABLE", "ALTER SUBSCRIPTION {} SET (slot_name = NONE)",
                             "DROP SUBSCRIPTION {}"):
                    connection.execute(sql.SQL(form).format(ident(subscription)))
        server.in_database(name, detach)
    server.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident(name)))


def replace(server, plan, options, fill, result):
    """Build the side database with ``fill(side)``, carry the identity over, verify, and swap it in."""
    live, side, previous, db = plan["live"], plan["side"], plan["previous"], options["db"]
    for leftover in plan["leftovers"]:
        if leftover["state"] != "complete":
            drop(server, leftover["name"])
            result["dropped_leftovers"].append(leftover["name"])
    server.execute(postgres_identity.create_statement(live, side))
    swapped = False
    try:
        _label(server, side, db, options["source"], "building")
        fill(side)
        _carry(server, plan, options, result)
        if not options["swap"]:
            _label(server, side, db, options["source"], "complete")
            result["restored_db"] = side
            return result
        _label(server, side, db, options["source"], "swapping")
        swapped = _swap(server, plan, options, result)
        server.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident(previous)))
        if options["replication"] == "recreate" and plan["replication"]["slots"]:
            result["replication"]["recreated"] = postgres_replication.recreate(server, plan["replication"]["slots"], db)
        return result
    except RollbackError as error:
        if swapped:
            raise RollbackError("%s, after the swap: %s is the restored database, the old one is kept as %s" % (
                error.msg, db, previous), **dict(error.details, **result))
        raise RollbackError("%s; the live database %s is untouched and %s" % (
            error.msg, db, _clean_up(server, side, db, options, error.msg, result)), **dict(result, **error.details))


def _label(server, side, db, source, state, why=None):
    server.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident(side), sql.Literal(
        SIDE_LABEL % (db, state, source) + (FAILED + why if why else ""))))


def _clean_up(server, side, db, options, why, result):
    """Drop (or keep, labelled) the side database; a text saying what became of it, whatever happens here."""
    try:
        if server.main.value("SELECT 1 FROM pg_database WHERE datname = %s", (side,)) is None:
            return "no side database is left"
        if options["keep_failed_side"]:
            _label(server, side, db, options["source"], "failed", why[:300])
            result["side_db"] = side
            return ("the side database %s is kept (keep_failed_side=true; a re-run drops it and starts again)"
                    % side)
        drop(server, side)
    except RollbackError as error:
        return ("the side database %s could not be removed (%s): a re-run drops it, or drop it by hand"
                % (side, error.msg))
    return "the side database %s was removed" % side


def _carry(server, plan, options, result):
    """Give the filled side database the live database's identity, then verify it as the application would."""
    live, side, db = plan["live"], plan["side"], options["db"]
    if options["no_owner"]:
        _both(server, db, side, lambda before, after: _reown(before, after, live, result))
    server.main.transaction(postgres_identity.apply_statements(
        live, side, postgres_identity.read(server.main, side)["grants"]))
    result["carried_over"] = postgres_identity.carried(live) + result["carried_over"]
    # Opened now: a session gets the database's settings (pg_db_role_setting) when it starts.
    _both(server, db, side, lambda before, after: _verify(before, after, plan, options, result))


def _both(server, db, side, func):
    before, after = server.connect(db), None
    try:
        after = server.connect(side)
        return func(before, after)
    finally:
        before.close()
        if after is not None:
            after.close()


def _verify(live_connection, side_connection, plan, options, result):
    live, side, db = plan["live"], plan["side"], options["db"]
    result["verify"] = [run_check(side_connection, check) for check in options["verify"]]
    if options["compare_privileges"]:
        roles = postgres_privileges.roles_to_compare(
            live_connection, live["oid"], [c["as_role"] for c in options["verify"] if c.get("as_role")])
        comparison = postgres_privileges.compare(postgres_privileges.snapshot(live_connection, roles),
                                                 postgres_privileges.snapshot(side_connection, roles))
        result["privileges"] = dict(comparison, roles=roles)
        postgres_privileges.require_equal(comparison, db, side)
    differences = postgres_replication.publication_differences(
        postgres_replication.publications(live_connection), postgres_replication.publications(side_connection))
    if differences and options["replication"] == "recreate" and plan["replication"]["slots"]:
        raise RollbackError("replication=recreate: %s; the recreated slot(s) would have no publication"
                            % "; ".join(differences))
    result["not_carried"] += differences


def _reown(live_connection, side_connection, live, result):
    """Owners then grants, schemas first: a table's new owner needs CREATE on its schema (tablecmds.c
    ATExecChangeOwner), which the schema's grants give."""
    before = postgres_objects.snapshot(live_connection)
    count, skipped = 0, []
    for schemas in (True, False):
        statements, left = postgres_objects.owner_statements(before, postgres_objects.snapshot(side_connection),
                                                             live["owner"], schemas)
        side_connection.transaction(statements)
        side_connection.transaction(postgres_objects.grant_statements(
            before, postgres_objects.snapshot(side_connection), schemas))
        count += len(statements)
        skipped += left
    left = postgres_objects.differences(before, postgres_objects.snapshot(side_connection))
    if left:
        raise RollbackError("no_owner: the restored objects did not get the live database's owners and privileges "
                            "back: %s" % "; ".join(left[:5]))
    result["carried_over"].append("object owners and privileges from the live database (%d ALTER OWNER)" % count)
    result["not_carried"] += ["not re-owned: %s" % line for line in skipped]


def run_check(connection, check):
    """One verify check, as ``as_role`` with that role's settings when given (what the application sees)."""
    name = check.get("name") or check["sql"]
    role = check.get("as_role")
    label = "verify %s%s" % (name, " as %s" % role if role else "")
    try:
        if role:
            # The settings a session of ``role`` starts with, least specific first (postinit.c process_settings).
            for (config,) in connection.query(
                    "SELECT s.setconfig FROM pg_db_role_setting s, pg_database d WHERE d.datname = current_database() "
                    "AND ((s.setrole = 0 AND s.setdatabase = d.oid) OR (s.setrole = to_regrole(%s) "
                    "AND s.setdatabase IN (0, d.oid))) ORDER BY s.setrole <> 0, s.setdatabase <> 0", (role,)):
                for item in config:
                    connection.query(postgres_identity.set_clause(item))
            connection.query(sql.SQL("SET ROLE {}").format(ident(role)))
        connection.executed.append("[%s] %s%s" % (
            connection.database, "SET ROLE %s; " % role if role else "", check["sql"]))
        rows = _rows(connection, check["sql"], label)
    finally:
        if role:
            connection.query("RESET ROLE")
            connection.query("RESET ALL")
    if check.get("min_rows") is not None and len(rows) < check["min_rows"]:
        raise RollbackError("%s failed: %d row(s), expected at least %d" % (label, len(rows), check["min_rows"]))
    value = rows[0][0] if rows and rows[0] else None
    if check.get("expect") is not None and str(value) != str(check["expect"]):
        raise RollbackError("%s failed: got %s, expected %s" % (label, value, check["expect"]))
    return dict(name=name, as_role=role, rows=len(rows), value=None if value is None else str(value))


def _rows(connection, statement, label):
    try:
        return connection.query(statement)
    except RollbackError as error:
        raise RollbackError("%s failed: %s" % (label, error.msg.split(" failed: ", 1)[-1]))


def _swap(server, plan, options, result):
    """Refuse new connections, drain, end the rest, rename both in one transaction. True once committed."""
    live, side, previous, db = plan["live"], plan["side"], plan["previous"], options["db"]
    before = postgres_activity.sessions(server, db)
    server.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(ident(db)))
    try:
        ended, left = postgres_activity.drain(server, db, options["drain_timeout"], before=before)
        result["sessions"]["ended_by_themselves"] = [postgres_activity.describe(s) for s in ended]
        for attempt in range(SWAP_TRIES):
            _end_sessions(server, db, side, left, result)
            try:
                server.main.transaction(postgres_identity.swap_statements(live, side) + [
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident(db), ident(previous)),
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident(side), ident(db)),
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident(previous), sql.Literal(REPLACED_LABEL % (
                        _oid(server, side), options["source"], options["stamp"],
                        "it had no comment" if live["comment"] is None else
                        "its own comment was: %s" % live["comment"])))])
                return True
            except RollbackError as error:
                # A session that connected before ALLOW_CONNECTIONS false was seen: end it and try again.
                if error.details.get("sqlstate") != "55006" or attempt == SWAP_TRIES - 1:
                    raise
                left = postgres_activity.sessions(server, db)
    except RollbackError:
        server.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(ident(db)))
        raise
    return False


def _oid(server, name):
    return int(server.main.value("SELECT oid FROM pg_database WHERE datname = %s", (name,)))


def _end_sessions(server, db, side, left, result):
    postgres_activity.refuse_blockers(server, db, up_front=False)
    victims = [s for s in left if s["endable"]] + postgres_activity.sessions(server, side)
    if victims:
        postgres_activity.terminate(server, db, [s for s in victims if s in left])
        postgres_activity.terminate(server, side, [s for s in victims if s not in left])
        result["sessions"]["terminated"] += [postgres_activity.describe(s) for s in victims]
