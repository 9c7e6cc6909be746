# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alembic migrations around a rollback: where the database is against the release rolled back to.

Runbook 002: "Database migrations are forward-only by default ... Do NOT run
`alembic downgrade` in production unless the migration was specifically
designed to be reversible. Instead, create a new forward migration that undoes
the changes". Runbook 001's risk table: "Database migration ran | Medium |
Level 3 rollback + restore". Runbook 004 step 5 stamps the version table after
a restore.

``decide`` is the pure part: from the revisions in the version table and the
revision graphs of the target (and current) release to a status. The rest
reads the version table, stamps it, or downgrades, through Alembic's API on the
module's own connection: the release's env.py is not executed, so the database
that was checked is the one that changes, whatever URL env.py would read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, one_line
from ansible_collections.rollback.core.plugins.module_utils.postgres import login_of

try:
    import psycopg2
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from sqlalchemy import create_engine, event, exc, inspect, pool
except ImportError:
    ALEMBIC_IMPORT_ERROR = traceback.format_exc()
else:
    ALEMBIC_IMPORT_ERROR = None

MIGRATION_SPEC = dict(
    db=dict(type="str", required=True),
    script_location=dict(type="path", required=True),
    current_script_location=dict(type="path"),
    version_table=dict(type="str", default="alembic_version"),
    version_table_schema=dict(type="str"),
    state=dict(type="str", default="checked", choices=["checked", "stamped", "downgraded"]),
    revision=dict(type="str"),
    allow_downgrade=dict(type="bool", default=False),
    lock_timeout=dict(type="int", default=30),
)

RUNBOOK_001_RISK = "runbook 001 risk table: 'Database migration ran | Medium | Level 3 rollback + restore'"
RUNBOOK_002_FORWARD = ("runbook 002: 'Database migrations are forward-only by default ... create a new forward "
                       "migration that undoes the changes'")
RUNBOOK_002_NO_DOWNGRADE = ("runbook 002: 'Do NOT run `alembic downgrade` in production unless the migration was "
                            "specifically designed to be reversible'")


# ---------------------------------------------------------------- the pure decision

def heads_of(graph):
    """Revisions no other revision of ``graph`` ({revision: (down revisions)}) builds on."""
    below = set()
    for downs in graph.values():
        below.update(downs)
    return sorted(rev for rev in graph if rev not in below)


def ancestry(graph, revisions):
    """``revisions`` and everything they build on, as far as ``graph`` knows them."""
    seen = set()
    todo = [rev for rev in revisions if rev in graph]
    while todo:
        rev = todo.pop()
        if rev not in seen:
            seen.add(rev)
            todo.extend(down for down in graph[rev] if down in graph)
    return seen


def oldest_first(graph, revisions):
    """``revisions`` in the order they were (or would be) applied; unknown ones last, sorted."""
    wanted, order, done = set(revisions), [], set()

    def visit(rev):
        if rev in done:
            return
        done.add(rev)
        for down in sorted(graph.get(rev, ())):
            visit(down)
        if rev in wanted:
            order.append(rev)

    for rev in sorted(r for r in wanted if r in graph):
        visit(rev)
    return order + sorted(r for r in wanted if r not in graph)


def decide(db_revisions, target, current=None):
    """Status of a database whose version table holds ``db_revisions`` (None: no table) against ``target``.

    ``target`` and ``current`` are revision graphs {revision: (down revisions)} of the release rolled back to
    and of the release being undone. Returns status (in_sync, ahead, behind, no_version_table), the target's
    heads, the revisions the target does not know (with ``current``: every migration the undone release ran
    beyond the target, oldest first) and the target's revisions not applied yet, plus recommended_level.
    """
    target_heads = heads_of(target)
    result = dict(current_revisions=None if db_revisions is None else sorted(db_revisions),
                  target_heads=target_heads, unknown_revisions=[], pending_revisions=[])
    if db_revisions is None:
        return dict(result, status="no_version_table", recommended_level=1)
    unknown = [rev for rev in db_revisions if rev not in target]
    applied = ancestry(target, [rev for rev in db_revisions if rev in target])
    if current is not None:
        applied |= ancestry(current, db_revisions) & set(target)
    if not [rev for rev in unknown if current is None or rev not in current]:
        # what the target still lacks is known only when every revision in the table is in a given graph
        result["pending_revisions"] = oldest_first(target, set(target) - applied)
    if unknown:
        if current is not None:
            unknown = (ancestry(current, unknown) - set(target)) | set(rev for rev in unknown if rev not in current)
        result["unknown_revisions"] = oldest_first(current or {}, unknown)
        return dict(result, status="ahead", recommended_level=3)
    if result["pending_revisions"]:
        return dict(result, status="behind", recommended_level=1)
    return dict(result, status="in_sync", recommended_level=1)


def _listed(revisions, docs):
    return ", ".join("%s (%s)" % (rev, docs[rev]) if docs.get(rev) else rev for rev in revisions) or "none"


def recommendation(decision, docs=None, target_name="the target release", table="alembic_version"):
    """The on-call text for a decision, quoting the runbooks; ``docs`` maps revisions to their messages."""
    docs = docs or {}
    status = decision["status"]
    heads = _listed(decision["target_heads"], docs)
    if status == "no_version_table":
        return ("no version table %s in the database: it is not managed by Alembic with these settings (check "
                "version_table and version_table_schema); the migrations say nothing about the level" % table)
    if status == "in_sync":
        return ("the version table is at %s's head(s) %s: no migration to undo, no database step is needed for "
                "the schema" % (target_name, heads))
    if status == "behind":
        return ("the database is older than %s (pending %s): a rollback does not fix that; runbook 002 is "
                "forward-only, so upgrade it with %s's own migrations (alembic upgrade), or check that the right "
                "backup was restored" % (target_name, _listed(decision["pending_revisions"], docs), target_name))
    return ("the undone release ran migration(s) %s that %s does not have (its head(s): %s): %s - restore the "
            "pre-deploy backup (Level 3), then stamp the version table if the backup does not read %s; or, per %s, "
            "ship a forward reversal migration. %s. Level 1 is safe only if %s runs on the newer schema (runbook 001 "
            "decision tree: successful migrations, app only)" % (
                _listed(decision["unknown_revisions"], docs), target_name, heads, RUNBOOK_001_RISK,
                ", ".join(decision["target_heads"]) or "empty", RUNBOOK_002_FORWARD, RUNBOOK_002_NO_DOWNGRADE,
                target_name))


# ---------------------------------------------------------------- releases (Alembic script directories)

def load_release(path, option):
    """The Alembic ScriptDirectory at ``path``, its revisions read; ``option`` names the parameter in errors."""
    if not os.path.isdir(path):
        raise RollbackError("%s %s is not a directory" % (option, path))
    missing = [name for name in ("env.py", "versions") if not os.path.exists(os.path.join(path, name))]
    if missing:
        raise RollbackError("%s %s is not an Alembic migrations directory (no %s)"
                            % (option, path, " or ".join(missing)))
    try:
        script = ScriptDirectory(path)
        graph_of(script)
    except Exception as error:  # noqa: BLE001 - a broken version file raises anything
        raise RollbackError("%s %s: cannot read its migrations: %s: %s"
                            % (option, path, type(error).__name__, one_line(error)))
    return script


def graph_of(script):
    """{revision: (down revisions and dependencies)} of a ScriptDirectory."""
    graph = {}
    for rev in script.walk_revisions():
        downs = _as_tuple(rev.down_revision) + _as_tuple(rev.dependencies)
        graph[rev.revision] = tuple(downs)
    return graph


def docs_of(*scripts):
    docs = {}
    for script in scripts:
        for rev in script.walk_revisions():
            docs[rev.revision] = (rev.doc or "").strip()
    return docs


def _as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def resolve(script, revision, option):
    """Full revision id(s) of ``revision`` (an id, a unique prefix, head or heads) in ``script``."""
    try:
        found = script.get_revisions(revision)
    except CommandError as error:
        raise RollbackError("revision %s is not in %s %s: %s" % (revision, option, script.dir, one_line(error)))
    ids = sorted(rev.revision for rev in found if rev is not None)
    if not ids:
        raise RollbackError("revision %s names no revision of %s %s" % (revision, option, script.dir))
    return ids


# ---------------------------------------------------------------- the database

class Database:
    """SQLAlchemy engine on ``db`` (shared PostgreSQL login options) and the version table's contents."""

    def __init__(self, params):
        self.params = params
        login = login_of(params)
        options = "-c lock_timeout=%ds" % params["lock_timeout"]

        def connect():
            return psycopg2.connect(dbname=params["db"], connect_timeout=10, options=options, **login)

        self.engine = create_engine("postgresql+psycopg2://", creator=connect, poolclass=pool.NullPool)
        self.table = params["version_table"]
        if params["version_table_schema"]:
            self.table = "%s.%s" % (params["version_table_schema"], self.table)

    def describe_error(self, error):
        orig = getattr(error, "orig", None) or error
        text = (getattr(orig, "pgerror", None) or str(orig) or type(orig).__name__).strip()
        return text.splitlines()[0].strip() if text else type(orig).__name__

    def connection_error(self, error):
        return RollbackError("cannot connect to PostgreSQL %s:%s as %s (database %s): %s" % (
            self.params["login_host"], self.params["login_port"], self.params["login_user"], self.params["db"],
            self.describe_error(error)))

    def connect(self):
        try:
            return self.engine.connect()
        except exc.DBAPIError as error:
            raise self.connection_error(error)

    def revisions(self):
        """The revisions in the version table, sorted; None when the table does not exist."""
        with self.connect() as connection:
            try:
                if not inspect(connection).has_table(self.params["version_table"],
                                                     schema=self.params["version_table_schema"]):
                    return None
                return sorted(self._context(connection).get_current_heads())
            except exc.DBAPIError as error:
                raise RollbackError("reading %s failed: %s" % (self.table, self.describe_error(error)))

    def _context(self, connection):
        return MigrationContext.configure(connection, opts=dict(
            version_table=self.params["version_table"],
            version_table_schema=self.params["version_table_schema"]))

    def run(self, script, fn, destination, what, purge=False):
        """Run Alembic's environment with ``fn`` (heads, context) -> steps in ONE transaction; return its SQL.

        The same as ``alembic stamp|downgrade`` minus env.py: a failure rolls everything back.
        """
        statements = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith("SELECT"):
                statements.append(_render(cursor, statement, parameters))

        config = Config()
        config.set_main_option("script_location", script.dir)
        try:
            with self.engine.begin() as connection:
                event.listen(connection, "before_cursor_execute", record)
                with EnvironmentContext(config, script, fn=fn, destination_rev=destination, purge=purge) as env:
                    env.configure(connection=connection, version_table=self.params["version_table"],
                                  version_table_schema=self.params["version_table_schema"])
                    with env.begin_transaction():
                        env.run_migrations()
        except exc.DBAPIError as error:
            raise RollbackError("%s failed and was rolled back, nothing changed: %s" % (
                what, self.describe_error(error)), executed=statements)
        except CommandError as error:
            raise RollbackError("%s refused by Alembic, nothing changed: %s" % (what, one_line(error)))
        except Exception as error:  # noqa: BLE001 - a migration function raises anything (NotImplementedError...)
            raise RollbackError("%s failed in a migration script and was rolled back, nothing changed: %s: %s" % (
                what, type(error).__name__, one_line(error)), executed=statements)
        return statements


def _render(cursor, statement, parameters):
    try:
        return cursor.mogrify(statement, parameters).decode("utf-8").strip()
    except Exception:  # noqa: BLE001 - the statement ran; rendering it is only for the report
        return statement.strip()


# ---------------------------------------------------------------- the three states

def migration_status(module):
    params = module.params
    if params["state"] == "downgraded" and not params["allow_downgrade"]:
        raise RollbackError("refusing alembic downgrade without allow_downgrade=true: %s; restore the pre-deploy "
                            "backup (Level 3) or create a new forward migration that undoes the changes"
                            % RUNBOOK_002_NO_DOWNGRADE)
    if params["state"] == "downgraded" and not params["current_script_location"]:
        raise RollbackError("state=downgraded needs current_script_location: the downgrade() functions are in the "
                            "release being undone")
    if params["lock_timeout"] < 0:
        raise RollbackError("lock_timeout must be 0 (no limit) or more seconds, not %d" % params["lock_timeout"])
    target = load_release(params["script_location"], "script_location")
    current = None
    if params["current_script_location"]:
        current = load_release(params["current_script_location"], "current_script_location")
    database = Database(params)
    if params["state"] == "checked":
        return check(module, database, target, current)
    if params["state"] == "stamped":
        return stamp(module, database, target, current)
    return downgrade(module, database, target, current)


def _report(params, database, target, current, revisions):
    """decide() for ``revisions`` with its recommendation, as module results."""
    decision = decide(revisions, graph_of(target), None if current is None else graph_of(current))
    docs = docs_of(*[s for s in (target, current) if s is not None])
    decision["recommendation"] = recommendation(decision, docs, table=database.table)
    decision["version_table"] = database.table
    if current is not None:
        decision["undone_migrations"] = [dict(revision=rev, doc=docs.get(rev, ""))
                                         for rev in decision["unknown_revisions"]]
    return decision


def check(module, database, target, current):
    result = _report(module.params, database, target, current, database.revisions())
    if result["status"] == "no_version_table":
        module.warn(result["recommendation"])
    result.update(changed=False, executed=[], steps=[])
    return result


def stamp(module, database, target, current):
    """Write the target's head(s) (or ``revision``) into the version table, running no migration."""
    params = module.params
    wanted = resolve(target, params["revision"], "script_location") if params["revision"] else heads_of(
        graph_of(target))
    before = database.revisions()
    unknown = [rev for rev in before or [] if rev not in graph_of(target)]
    steps = ["stamp %s -> %s" % (", ".join(before or []) or "(empty)", ", ".join(wanted))]
    result = module.changed_result(dict(revisions=before or []), dict(revisions=wanted))
    if not result["changed"]:
        steps = []
    elif unknown:
        module.warn("the version table listed %s, unknown to the release at %s: replaced by %s. That is right only "
                    "if the schema is that release's (restored from its backup)" % (
                        ", ".join(unknown), params["script_location"], ", ".join(wanted)))
    executed = []
    if result["changed"] and not module.check_mode:
        executed = database.run(target, lambda heads, context: target._stamp_revs(tuple(wanted), heads),
                                tuple(wanted), "alembic stamp %s" % ", ".join(wanted), purge=bool(unknown))
        _expect(database, wanted, "stamp")
    revisions = wanted if result["changed"] else before
    result.update(_report(params, database, target, current, revisions), previous_revisions=before,
                  steps=steps, executed=executed)
    return result


def downgrade(module, database, target, current):
    """``alembic downgrade`` to the target head with the undone release's downgrade() functions."""
    params = module.params
    if params["revision"]:
        destination = resolve(target, params["revision"], "script_location")
    else:
        destination = heads_of(graph_of(target))
    if len(destination) != 1:
        raise RollbackError("the release at %s has %d heads (%s): give revision to downgrade to" % (
            params["script_location"], len(destination), ", ".join(destination)))
    destination = destination[0]
    if destination not in graph_of(current):
        raise RollbackError("revision %s of script_location is not in current_script_location %s: that release "
                            "does not build on the target, there is nothing to downgrade along" % (
                                destination, params["current_script_location"]))
    before = database.revisions()
    if before is None:
        raise RollbackError("no version table %s in database %s: nothing to downgrade"
                            % (database.table, params["db"]))
    strangers = [rev for rev in before if rev not in graph_of(current)]
    if strangers:
        raise RollbackError("revision(s) %s in %s are not in current_script_location %s: give the script directory "
                            "of the release that ran them"
                            % (", ".join(strangers), database.table, params["current_script_location"]))
    if destination in before and len(before) == 1:
        planned = []
    else:
        if destination not in ancestry(graph_of(current), before):
            raise RollbackError("the database (%s) is not ahead of %s: downgrade would not reach it; %s" % (
                ", ".join(before) or "empty", destination, "upgrade it forward with the target release"))
        planned = _plan(current, destination, before)
    result = module.changed_result(dict(revisions=before), dict(revisions=[destination]))
    steps = ["%s: %s" % (step.short_log, (step.doc or "").strip()) for step in planned]
    executed = []
    if result["changed"] and not module.check_mode:
        executed = database.run(current, lambda heads, context: current._downgrade_revs(destination, heads),
                                destination, "alembic downgrade %s" % destination)
        _expect(database, [destination], "downgrade")
    revisions = [destination] if result["changed"] else before
    result.update(_report(params, database, target, current, revisions), previous_revisions=before, steps=steps,
                  executed=executed)
    return result


def _plan(script, destination, heads):
    try:
        return script._downgrade_revs(destination, tuple(heads))
    except CommandError as error:
        raise RollbackError("cannot plan alembic downgrade to %s: %s" % (destination, one_line(error)))


def _expect(database, wanted, what):
    after = database.revisions() or []
    if sorted(after) != sorted(wanted):
        raise RollbackError("after the %s the version table %s reads %s, expected %s" % (
            what, database.table, ", ".join(after) or "nothing", ", ".join(wanted)))
