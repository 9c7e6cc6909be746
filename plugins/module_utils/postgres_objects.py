# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owners and privileges of the objects inside a database, read from one and given to another.

With ``no_owner`` the dump is restored without its owners and grants (``pg_restore
--no-owner --no-privileges``), as a login that is not a superuser must: every object
then belongs to the login and only it may use them. This puts back what the live
database has: each object's owner (the live object with the same identity, else the
owner of its schema in the live database, else the database's owner), its ACL, the
column ACLs, and the default privileges (``pg_default_acl``).

Objects are matched by ``pg_identify_object()`` (type + identity), which quotes names
as SQL does, so the identity is also what ``ALTER <type> ... OWNER TO`` takes. Objects
that belong to an extension (pg_depend 'e') or to another object (pg_depend 'i': row
types, array types, range constructors; 'a' for relations: indexes, serial and
identity sequences) follow their parent and are skipped, as pg_dump skips them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.rollback.core.plugins.module_utils import postgres_acl
from ansible_collections.rollback.core.plugins.module_utils.postgres import ident, sql

FIRST_NORMAL_OID = 16384  # src/include/access/transam.h: objects below it come from initdb

# pg_identify_object() type -> the words of ALTER ... OWNER TO and of GRANT ... ON
ALTER_WORDS = {"foreign-data wrapper": "FOREIGN DATA WRAPPER", "server": "SERVER", "statistics object": "STATISTICS"}
GRANT_WORDS = {"table": "TABLE", "view": "TABLE", "materialized view": "TABLE", "foreign table": "TABLE",
               "sequence": "SEQUENCE", "schema": "SCHEMA", "function": "FUNCTION", "aggregate": "FUNCTION",
               "procedure": "PROCEDURE", "type": "TYPE", "language": "LANGUAGE", "large object": "LARGE OBJECT",
               "foreign-data wrapper": "FOREIGN DATA WRAPPER", "server": "FOREIGN SERVER"}
OWNED_TYPES = set(GRANT_WORDS) | set(["publication", "collation", "conversion", "operator", "operator class",
                                      "operator family", "text search configuration", "text search dictionary",
                                      "statistics object", "event trigger"])
DEFAULT_ACL_OBJECTS = {"r": ("TABLES", "r"), "S": ("SEQUENCES", "s"), "f": ("FUNCTIONS", "f"), "T": ("TYPES", "T"),
                       "n": ("SCHEMAS", "n")}

_OBJECTS = """
WITH o(classid, oid, owner, acl, kind, nsp) AS (
  SELECT 'pg_class'::regclass, c.oid, c.relowner, c.relacl, CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END,
         c.relnamespace FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  UNION ALL SELECT 'pg_namespace'::regclass, n.oid, n.nspowner, n.nspacl, 'n', n.oid FROM pg_namespace n
  UNION ALL SELECT 'pg_proc'::regclass, p.oid, p.proowner, p.proacl, 'f', p.pronamespace FROM pg_proc p
  UNION ALL SELECT 'pg_type'::regclass, t.oid, t.typowner, t.typacl, 'T', t.typnamespace FROM pg_type t
    WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
      AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
  UNION ALL SELECT 'pg_language'::regclass, oid, lanowner, lanacl, 'l', NULL FROM pg_language
  UNION ALL SELECT 'pg_foreign_data_wrapper'::regclass, oid, fdwowner, fdwacl, 'F', NULL FROM pg_foreign_data_wrapper
  UNION ALL SELECT 'pg_foreign_server'::regclass, oid, srvowner, srvacl, 'S', NULL FROM pg_foreign_server
  UNION ALL SELECT 'pg_largeobject_metadata'::regclass, oid, lomowner, lomacl, 'L', NULL FROM pg_largeobject_metadata
  UNION ALL SELECT 'pg_publication'::regclass, oid, pubowner, NULL, NULL, NULL FROM pg_publication
  UNION ALL SELECT 'pg_collation'::regclass, oid, collowner, NULL, NULL, collnamespace FROM pg_collation
  UNION ALL SELECT 'pg_conversion'::regclass, oid, conowner, NULL, NULL, connamespace FROM pg_conversion
  UNION ALL SELECT 'pg_operator'::regclass, oid, oprowner, NULL, NULL, oprnamespace FROM pg_operator
  UNION ALL SELECT 'pg_opclass'::regclass, oid, opcowner, NULL, NULL, opcnamespace FROM pg_opclass
  UNION ALL SELECT 'pg_opfamily'::regclass, oid, opfowner, NULL, NULL, opfnamespace FROM pg_opfamily
  UNION ALL SELECT 'pg_ts_config'::regclass, oid, cfgowner, NULL, NULL, cfgnamespace FROM pg_ts_config
  UNION ALL SELECT 'pg_ts_dict'::regclass, oid, dictowner, NULL, NULL, dictnamespace FROM pg_ts_dict
  UNION ALL SELECT 'pg_statistic_ext'::regclass, oid, stxowner, NULL, NULL, stxnamespace FROM pg_statistic_ext
  UNION ALL SELECT 'pg_event_trigger'::regclass, oid, evtowner, NULL, NULL, NULL FROM pg_event_trigger
)
SELECT i.type, i.identity, i.schema, pg_get_userbyid(o.owner),
       CASE WHEN o.kind IS NULL THEN NULL ELSE (
         SELECT coalesce(json_agg(json_build_array(pg_get_userbyid(a.grantor),
                CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type,
                a.is_grantable)), '[]') FROM aclexplode(coalesce(o.acl, acldefault(o.kind::"char", o.owner))) a)::text
       END
FROM o, pg_identify_object(o.classid, o.oid, 0) i
WHERE (o.oid >= %(first)s OR (o.classid = 'pg_namespace'::regclass AND i.identity = 'public'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.oid
                  AND (d.deptype IN ('e', 'i') OR (d.deptype = 'a' AND d.classid = 'pg_class'::regclass
                                                   AND d.refclassid = 'pg_class'::regclass)))
  AND (o.nsp IS NULL OR (SELECT nspname FROM pg_namespace WHERE oid = o.nsp)
                         !~ '^(pg_(toast|temp|catalog)|information_schema$)')
"""

_COLUMNS = """
SELECT i.identity, a.attname, pg_get_userbyid(c.relowner), (
  SELECT json_agg(json_build_array(pg_get_userbyid(x.grantor),
         CASE WHEN x.grantee = 0 THEN NULL ELSE pg_get_userbyid(x.grantee) END, x.privilege_type, x.is_grantable))
  FROM aclexplode(a.attacl) x)::text
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, pg_identify_object('pg_class'::regclass, c.oid, 0) i
WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND c.oid >= %(first)s
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""

_DEFAULT_ACLS = """
SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text, (
  SELECT json_agg(json_build_array(pg_get_userbyid(a.grantor),
         CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable))
  FROM aclexplode(d.defaclacl) a)::text,
  (SELECT json_agg(json_build_array(pg_get_userbyid(a.grantor),
         CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable))
   FROM aclexplode(acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)) a)::text
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
"""


def _acl(text):
    return postgres_acl.items(json.loads(text)) if text else set()


def snapshot(connection):
    """Owners and ACLs of the database's own objects: ``{"objects": {(type, identity): ...}, ...}``."""
    objects = {}
    for kind, identity, schema, owner, acl in connection.query(_OBJECTS, dict(first=FIRST_NORMAL_OID)):
        objects[(kind, identity)] = dict(type=kind, identity=identity, schema=schema, owner=owner,
                                         grants=None if acl is None else _acl(acl))
    columns = dict(((table, column), dict(owner=owner, grants=_acl(acl)))
                   for table, column, owner, acl in connection.query(_COLUMNS, dict(first=FIRST_NORMAL_OID)))
    defaults = {}
    for role, schema, objtype, acl, hard_default in connection.query(_DEFAULT_ACLS):
        defaults[(role, schema, objtype)] = _acl(acl)
        if schema is None:
            defaults[(role, None, objtype, "base")] = _acl(hard_default)
    return dict(objects=objects, columns=columns, defaults=defaults)


def acting_roles(snap):
    """The roles giving the objects back acts as: owners (ALTER ... OWNER TO), grantors (SET ROLE) and the roles
    of default privileges (ALTER DEFAULT PRIVILEGES FOR ROLE); all need the login to be a member."""
    names = set()
    for entry in list(snap["objects"].values()) + list(snap["columns"].values()):
        names.add(entry["owner"])
        names.update(grantor for grantor, _grantee, _privilege, _grantable in entry["grants"] or ())
    for key in snap["defaults"]:
        names.add(key[0])
    return names


def owner_statements(live, side, database_owner, schemas):
    """ALTER ... OWNER TO for each object of ``side`` whose owner differs from what the live database says:
    the schemas (``schemas`` true) or every other object.

    Returns ``(statements, not_reowned)``; the second lists objects of a type this cannot re-own.
    """
    schema_owners = dict((entry["identity"], entry["owner"]) for entry in live["objects"].values()
                         if entry["type"] == "schema")
    statements, skipped = [], []
    for key in sorted(side["objects"]):
        entry = side["objects"][key]
        if (entry["type"] == "schema") != schemas:
            continue
        wanted = live["objects"][key]["owner"] if key in live["objects"] else (
            schema_owners.get(entry["schema"]) or database_owner)
        if entry["owner"] == wanted:
            continue
        if entry["type"] not in OWNED_TYPES:
            skipped.append("%s %s (owned by %s, %s wanted)" % (
                entry["type"], entry["identity"], entry["owner"], wanted))
            continue
        words = ALTER_WORDS.get(entry["type"], entry["type"].upper())
        statements.append(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(words), sql.SQL(entry["identity"]),
                                                                    ident(wanted)))
    return statements, skipped


def grant_statements(live, side, schemas):
    """GRANT/REVOKE giving ``side``'s schemas (``schemas`` true), or its other objects, columns and default
    privileges, the live database's ones."""
    statements = []
    for key in sorted(set(live["objects"]) & set(side["objects"])):
        if (key[0] == "schema") != schemas:
            continue
        before, after = live["objects"][key], side["objects"][key]
        if before["grants"] is None or before["grants"] == after["grants"] or key[0] not in GRANT_WORDS:
            continue
        on = sql.SQL("{} {}").format(sql.SQL(GRANT_WORDS[key[0]]), sql.SQL(key[1]))
        statements += postgres_acl.changes(on, after["grants"], before["grants"], after["owner"])
    if schemas:
        return statements
    tables = set(identity for kind, identity in side["objects"] if GRANT_WORDS.get(kind) == "TABLE")
    for table, column in sorted(set(live["columns"]) | set(side["columns"])):
        if table not in tables:
            continue
        before = live["columns"].get((table, column), dict(grants=set()))["grants"]
        after = side["columns"].get((table, column), dict(grants=set()))["grants"]
        if before != after:
            owner = side["objects"].get(("table", table), dict(owner=None))["owner"]
            statements += postgres_acl.changes(sql.SQL("TABLE {}").format(sql.SQL(table)), after, before, owner,
                                               column=column)
    return statements + default_acl_statements(live["defaults"], side["defaults"], side_schemas(side))


def side_schemas(snap):
    return set(entry["identity"] for entry in snap["objects"].values() if entry["type"] == "schema")


def default_acl_statements(live, side, schemas):
    """ALTER DEFAULT PRIVILEGES giving ``side`` the live database's ``pg_default_acl`` entries."""
    statements = []
    keys = set(key for key in list(live) + list(side) if len(key) == 3)
    for role, schema, objtype in sorted(keys, key=lambda k: (k[0], k[1] or "", k[2])):
        if schema is not None and schema not in schemas:
            continue
        base = live.get((role, None, objtype, "base")) or side.get((role, None, objtype, "base")) or set()
        empty = set() if schema is not None else base
        before = live.get((role, schema, objtype), empty)
        after = side.get((role, schema, objtype), empty)
        if before == after:
            continue
        words, _kind = DEFAULT_ACL_OBJECTS[objtype]
        prefix = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} ").format(
            ident(role), sql.SQL("") if schema is None else sql.SQL(" IN SCHEMA {}").format(ident(schema)))
        keyed_before = dict(((e, p), g) for _o, e, p, g in before)
        keyed_after = dict(((e, p), g) for _o, e, p, g in after)
        for (grantee, privilege), grantable in sorted(keyed_after.items(), key=str):
            if (grantee, privilege) not in keyed_before or (grantable and not keyed_before[(grantee, privilege)]):
                statements.append(prefix + sql.SQL("REVOKE {}{} ON {} FROM {}").format(
                    sql.SQL("GRANT OPTION FOR ") if (grantee, privilege) in keyed_before else sql.SQL(""),
                    sql.SQL(privilege), sql.SQL(words), sql.SQL("PUBLIC") if grantee is None else ident(grantee)))
        for (grantee, privilege), grantable in sorted(keyed_before.items(), key=str):
            if (grantee, privilege) not in keyed_after or (grantable and not keyed_after[(grantee, privilege)]):
                statements.append(prefix + sql.SQL("GRANT {} ON {} TO {}{}").format(
                    sql.SQL(privilege), sql.SQL(words), sql.SQL("PUBLIC") if grantee is None else ident(grantee),
                    sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")))
    return statements


def differences(live, side):
    """Owner and ACL differences on the objects both databases have, as readable lines (empty when equal)."""
    lines = []
    for key in sorted(set(live["objects"]) & set(side["objects"])):
        before, after = live["objects"][key], side["objects"][key]
        if before["owner"] != after["owner"]:
            lines.append("%s %s owned by %s, was %s" % (key[0], key[1], after["owner"], before["owner"]))
        if before["grants"] is not None and before["grants"] != after["grants"]:
            lines.append("%s %s privileges %s, were %s" % (
                key[0], key[1], _acl_text(after["grants"]), _acl_text(before["grants"])))
    for key in sorted(set(k for k in list(live["defaults"]) + list(side["defaults"]) if len(k) == 3),
                      key=lambda k: (k[0], k[1] or "", k[2])):
        if live["defaults"].get(key) != side["defaults"].get(key) and (key[1] is None or key[1] in side_schemas(side)):
            lines.append("default privileges of %s%s on %s: %s, were %s" % (
                key[0], "" if key[1] is None else " in schema %s" % key[1], DEFAULT_ACL_OBJECTS[key[2]][0].lower(),
                _acl_text(side["defaults"].get(key, set())), _acl_text(live["defaults"].get(key, set()))))
    return lines


def _acl_text(acl):
    return ", ".join(sorted(postgres_acl.text(item) for item in acl)) or "none"
