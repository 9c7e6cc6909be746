# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each role may do, before and after: the built-in privilege comparison of postgres_restore.

The roles compared are the ones the live database's objects name (``pg_shdepend``:
owners 'o' and roles in ACLs 'a', for the database's own objects and for the
database itself), PUBLIC, and the ``as_role`` of the verify checks; superusers are
left out (they may do everything anyway). For each role, PostgreSQL's own checks
(``has_database_privilege``, ``has_schema_privilege``, ``has_table_privilege``,
``has_any_column_privilege``, ``has_sequence_privilege``, ``has_function_privilege``:
membership, inheritance and PUBLIC included) are asked on every object of the
database. Objects only one side has (created after the dump, or dropped since) are
counted, not compared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

TABLE = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
COLUMNS = ["SELECT", "INSERT", "UPDATE", "REFERENCES"]
USER_SCHEMA = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"

_SNAPSHOT = """
WITH r(role) AS (SELECT unnest(%(roles)s::text[])),
o(kind, name, oid, privs) AS (
  SELECT 'database', '', d.oid, ARRAY['CONNECT', 'CREATE', 'TEMPORARY'] FROM pg_database d
    WHERE d.datname = current_database()
  UNION ALL SELECT 'schema', quote_ident(n.nspname), n.oid, ARRAY['USAGE', 'CREATE'] FROM pg_namespace n
    WHERE {user_schema}
  UNION ALL SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
                   quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.oid,
                   CASE c.relkind WHEN 'S' THEN ARRAY['USAGE', 'SELECT', 'UPDATE'] ELSE %(table)s::text[] END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {user_schema}
  UNION ALL SELECT 'columns of table', quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.oid,
                   %(columns)s::text[]
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {user_schema}
  UNION ALL SELECT 'function', quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '('
                   || pg_get_function_identity_arguments(p.oid) || ')', p.oid, ARRAY['EXECUTE']
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_schema}
)
SELECT o.kind, o.name, r.role, array_agg(p ORDER BY p) FILTER (WHERE CASE o.kind
    WHEN 'database' THEN has_database_privilege(r.role, o.oid, p)
    WHEN 'schema' THEN has_schema_privilege(r.role, o.oid, p)
    WHEN 'sequence' THEN has_sequence_privilege(r.role, o.oid, p)
    WHEN 'table' THEN has_table_privilege(r.role, o.oid, p)
    WHEN 'columns of table' THEN has_any_column_privilege(r.role, o.oid, p)
    ELSE has_function_privilege(r.role, o.oid, p) END)
FROM r, o, unnest(o.privs) p
GROUP BY o.kind, o.name, r.role
""".format(user_schema=USER_SCHEMA)


def roles_to_compare(connection, database_oid, extra=()):
    """Non-superuser roles the live database's objects and grants name, ``extra`` ones, and PUBLIC."""
    rows = connection.query(
        "SELECT DISTINCT r.rolname FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid "
        "WHERE s.refclassid = 'pg_authid'::regclass AND s.deptype IN ('o', 'a') AND NOT r.rolsuper "
        "AND (s.dbid = %s OR (s.classid = 'pg_database'::regclass AND s.objid = %s)) "
        "UNION SELECT r.rolname FROM pg_roles r WHERE r.rolname = ANY(%s) AND NOT r.rolsuper",
        (database_oid, database_oid, list(extra)))
    return sorted(row[0] for row in rows) + ["public"]


def snapshot(connection, roles):
    """``{(kind, name): {role: (privileges...)}}`` for every object of the connected database."""
    result = {}
    rows = connection.query(_SNAPSHOT, dict(roles=list(roles), table=TABLE, columns=COLUMNS))
    for kind, name, role, privileges in rows:
        result.setdefault((kind, name), {})[role] = tuple(privileges or ())
    return result


def compare(before, after):
    """Differences on the objects both have: ``{"compared", "only_before", "only_after", "differences"}``."""
    common = sorted(set(before) & set(after))
    differences = []
    for key in common:
        for role in sorted(set(before[key]) | set(after[key])):
            had, has = set(before[key].get(role, ())), set(after[key].get(role, ()))
            if had != has:
                what = "%s %s" % key if key[1] else key[0]
                parts = []
                if had - has:
                    parts.append("lost %s" % ", ".join(sorted(had - has)))
                if has - had:
                    parts.append("gained %s" % ", ".join(sorted(has - had)))
                differences.append("%s %s on %s" % (role, " and ".join(parts), what))
    return dict(compared=len(common), only_before=len(set(before) - set(after)),
                only_after=len(set(after) - set(before)), differences=differences)


def require_equal(comparison, live, restored):
    if comparison["differences"]:
        shown = comparison["differences"][:5]
        more = len(comparison["differences"]) - len(shown)
        raise RollbackError("privileges differ between the live database %s and the restored one %s: %s%s" % (
            live, restored, "; ".join(shown), " (and %d more)" % more if more else ""),
            privilege_differences=comparison["differences"])
