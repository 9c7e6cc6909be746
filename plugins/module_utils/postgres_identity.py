# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database's identity: what it is apart from its contents, and how to give it to another database.

A dump made without ``--create`` (what pg_dump makes by default, and what a
rollback restores) holds none of it: it lives in the shared catalogs, keyed by
the database's OID, so a database created and renamed in its place has none of
it unless it is carried over:

- ``pg_database``: owner (datdba), encoding, locale provider and locales
  (datlocprovider, datcollate, datctype, daticulocale / datlocale, daticurules),
  default tablespace (dattablespace), datconnlimit, datallowconn, datistemplate,
  and the database's grants (datacl; NULL means the default: PUBLIC may CONNECT and TEMP);
- ``pg_db_role_setting``: ``ALTER DATABASE ... SET`` (setrole 0) and ``ALTER ROLE ... IN DATABASE ... SET``;
- ``pg_shdescription``: ``COMMENT ON DATABASE``.

Settings are re-applied the way pg_dump's ``makeAlterConfigCommand`` (src/bin/pg_dump/dumputils.c) writes
them: a GUC_LIST_QUOTE variable (``variable_is_guc_list_quote``) as a list of literals, any other as one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils import postgres_acl
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres import ident, sql

# src/bin/pg_dump/dumputils.c, variable_is_guc_list_quote()
LIST_QUOTE_SETTINGS = ("local_preload_libraries", "search_path", "session_preload_libraries",
                       "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories")
PROVIDERS = {"c": "libc", "i": "icu", "b": "builtin"}


def read(connection, name):
    """The identity of database ``name`` as a dict, or None when it does not exist."""
    rows = connection.query(
        "SELECT to_jsonb(d), pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), t.spcname, "
        "shobj_description(d.oid, 'pg_database') FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
        "WHERE d.datname = %s", (name,))
    if not rows:
        return None
    row, owner, encoding, tablespace, comment = rows[0]
    oid = int(row["oid"])
    settings = connection.query(
        "SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, s.setconfig "
        "FROM pg_db_role_setting s WHERE s.setdatabase = %s ORDER BY 1 NULLS FIRST", (oid,))
    grants = connection.query(postgres_acl.explode_sql("pg_database d", "d.datacl", "'d'", "d.datdba")
                              + " WHERE d.oid = %s", (oid,))
    return dict(
        oid=oid, name=row["datname"], owner=owner, encoding=encoding,
        locale_provider=PROVIDERS.get(row.get("datlocprovider"), "libc"),
        collate=row["datcollate"], ctype=row["datctype"],
        icu_locale=row.get("daticulocale") if "daticulocale" in row else (
            row.get("datlocale") if row.get("datlocprovider") == "i" else None),
        icu_rules=row.get("daticurules"),
        builtin_locale=row.get("datlocale") if row.get("datlocprovider") == "b" else None,
        tablespace=tablespace, connection_limit=row["datconnlimit"], allow_connections=row["datallowconn"],
        is_template=row["datistemplate"], acl=row["datacl"], grants=postgres_acl.items(grants), comment=comment,
        settings=next((list(config) for role, config in settings if role is None), []),
        role_settings=dict((role, list(config)) for role, config in settings if role is not None))


def facts(identity):
    """What must be equal between the live database and the one swapped in (for results and tests)."""
    return dict(
        owner=identity["owner"], encoding=identity["encoding"], locale_provider=identity["locale_provider"],
        collate=identity["collate"], ctype=identity["ctype"], icu_locale=identity["icu_locale"],
        icu_rules=identity["icu_rules"], builtin_locale=identity["builtin_locale"],
        tablespace=identity["tablespace"], connection_limit=identity["connection_limit"],
        allow_connections=identity["allow_connections"], is_template=identity["is_template"],
        grants=sorted(postgres_acl.text(item) for item in identity["grants"]), comment=identity["comment"],
        settings=sorted(identity["settings"]),
        role_settings=dict((role, sorted(config)) for role, config in identity["role_settings"].items()))


def create_statement(identity, name):
    """CREATE DATABASE ``name`` like the live one: template0, owner, encoding, locale provider, tablespace."""
    parts = [sql.SQL("CREATE DATABASE {} WITH TEMPLATE template0 OWNER {} ENCODING {}").format(
        ident(name), ident(identity["owner"]), sql.Literal(identity["encoding"]))]
    if identity["tablespace"] != "pg_default":
        # Named, even pg_default needs CREATE on it (dbcommands.c createdb); template0's own is pg_default.
        parts.append(sql.SQL("TABLESPACE {}").format(ident(identity["tablespace"])))
    if identity["locale_provider"] != "libc" or identity["icu_locale"] is not None:
        parts.append(sql.SQL("LOCALE_PROVIDER {}").format(sql.SQL(identity["locale_provider"])))
    parts.append(sql.SQL("LC_COLLATE {} LC_CTYPE {}").format(sql.Literal(identity["collate"]),
                                                             sql.Literal(identity["ctype"])))
    if identity["icu_locale"] is not None:
        parts.append(sql.SQL("ICU_LOCALE {}").format(sql.Literal(identity["icu_locale"])))
    if identity["icu_rules"] is not None:
        parts.append(sql.SQL("ICU_RULES {}").format(sql.Literal(identity["icu_rules"])))
    if identity["builtin_locale"] is not None:
        parts.append(sql.SQL("BUILTIN_LOCALE {}").format(sql.Literal(identity["builtin_locale"])))
    return sql.SQL(" ").join(parts)


def new_grants(connection, owner):
    """The ACL a database created with this owner starts with: ``acldefault('d', owner)``."""
    return postgres_acl.items(connection.query(
        postgres_acl.explode_sql("pg_roles r", "NULL::aclitem[]", "'d'", "r.oid") + " WHERE r.rolname = %s", (owner,)))


def apply_statements(identity, name, current_grants):
    """Grants and settings of ``identity`` for database ``name``, whose grants are ``current_grants`` now."""
    on = sql.SQL("DATABASE {}").format(ident(name))
    statements = postgres_acl.changes(on, current_grants, identity["grants"], identity["owner"])
    for item in identity["settings"]:
        statements.append(sql.SQL("ALTER DATABASE {} {}").format(ident(name), set_clause(item)))
    for role in sorted(identity["role_settings"]):
        for item in identity["role_settings"][role]:
            statements.append(sql.SQL("ALTER ROLE {} IN DATABASE {} {}").format(
                ident(role), ident(name), set_clause(item)))
    return statements


def swap_statements(identity, name):
    """What is applied to the restored database inside the swap transaction."""
    statements = [sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(
        ident(name), sql.Literal(identity["connection_limit"]))]
    if identity["is_template"]:
        statements.append(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(ident(name)))
    statements.append(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident(name), sql.Literal(identity["comment"])))
    return statements


def carried(identity):
    """One line per fact carried over, for the result and the report."""
    icu = " icu %s" % identity["icu_locale"] if identity["icu_locale"] else ""
    lines = ["owner %s" % identity["owner"],
             "encoding %s, locale %s %s/%s%s" % (
                 identity["encoding"], identity["locale_provider"], identity["collate"], identity["ctype"], icu),
             "tablespace %s" % identity["tablespace"],
             "grants %s" % (", ".join(sorted(postgres_acl.text(i) for i in identity["grants"])) or "none"),
             "connection limit %s" % identity["connection_limit"]]
    if identity["settings"]:
        lines.append("database settings %s" % ", ".join(identity["settings"]))
    for role in sorted(identity["role_settings"]):
        lines.append("settings of role %s in the database %s" % (role, ", ".join(identity["role_settings"][role])))
    if identity["comment"] is not None:
        lines.append("comment")
    return lines


def set_clause(item):
    """``SET name TO value`` from one ``pg_db_role_setting.setconfig`` entry (``name=value``)."""
    name, _sep, value = item.partition("=")
    target = sql.SQL(".").join(ident(part) for part in name.split("."))
    if name.lower() in LIST_QUOTE_SETTINGS:
        values = split_guc_list(value)
        literals = sql.SQL(", ").join(sql.Literal(v) for v in values) if values else sql.Literal("")
    else:
        literals = sql.Literal(value)
    return sql.SQL("SET {} TO {}").format(target, literals)


def split_guc_list(raw):
    """The elements of a GUC_LIST_QUOTE value, as pg_dump's SplitGUCList reads them (quotes removed)."""
    values, i, n = [], 0, len(raw)
    while True:
        while i < n and raw[i].isspace():
            i += 1
        if i >= n:
            return values
        if raw[i] == '"':
            i += 1
            value = []
            while True:
                end = raw.find('"', i)
                if end < 0:
                    raise RollbackError("cannot read the setting value %r: unterminated quote" % raw)
                value.append(raw[i:end])
                i = end + 1
                if i < n and raw[i] == '"':
                    value.append('"')
                    i += 1
                    continue
                break
            values.append("".join(value))
        else:
            end = raw.find(",", i)
            end = n if end < 0 else end
            values.append(raw[i:end].rstrip())
            i = end
        while i < n and raw[i].isspace():
            i += 1
        if i < n:
            if raw[i] != ",":
                raise RollbackError("cannot read the setting value %r" % raw)
            i += 1
