"""postgres_objects: which owners and privileges a restored database is given back, from two snapshots (no server).

Identities are ``pg_identify_object()``'s, already quoted as SQL (PostgreSQL docs, "Object Information and
Addressing Functions"), so they go into ALTER ... OWNER TO as they are; roles are quoted as identifiers. ACL items
are ``aclexplode()`` rows ``(grantor, grantee, privilege, grantable)``, grantee None for PUBLIC ("System
Information Functions"). The ALTER DEFAULT PRIVILEGES object words are the grammar's (docs, "ALTER DEFAULT
PRIVILEGES": TABLES, SEQUENCES, FUNCTIONS, TYPES, SCHEMAS) for pg_default_acl.defaclobjtype r, S, f, T, n
(docs, "pg_default_acl")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.rollback.core.plugins.module_utils import postgres_objects
from ansible_collections.rollback.core.plugins.module_utils.postgres_objects import (
    acting_roles, default_acl_statements, differences, grant_statements, owner_statements, snapshot)
from support.pg_sql import texts


def obj(kind, identity, owner, grants=None, schema=None):
    return dict(type=kind, identity=identity, schema=schema, owner=owner, grants=grants)


def snap(objects=(), columns=None, defaults=None):
    return dict(objects=dict(((o["type"], o["identity"]), o) for o in objects), columns=columns or {},
                defaults=defaults or {})


def test_owners_follow_the_live_object_then_its_schema_then_the_database():
    live = snap([obj("schema", "app", "app_owner"), obj("table", "app.orders", "orders_owner", schema="app")])
    side = snap([obj("schema", "app", "rollback"), obj("table", "app.orders", "rollback", schema="app"),
                 obj("table", "app.new_table", "rollback", schema="app"),
                 obj("function", "other.f(integer)", "rollback", schema="other"),
                 obj("table", "app.same", "app_owner", schema="app")])
    statements, skipped = owner_statements(live, side, "db_owner", schemas=False)
    assert texts(statements) == ['ALTER FUNCTION other.f(integer) OWNER TO "db_owner"',
                                 'ALTER TABLE app.new_table OWNER TO "app_owner"',
                                 'ALTER TABLE app.orders OWNER TO "orders_owner"'] and skipped == []
    statements, skipped = owner_statements(live, side, "db_owner", schemas=True)
    assert texts(statements) == ['ALTER SCHEMA app OWNER TO "app_owner"']


def test_owner_words_and_types_that_cannot_be_reowned():
    side = snap([obj("foreign-data wrapper", "w", "rollback"), obj("statistics object", "app.s", "rollback"),
                 obj("server", "srv", "rollback"), obj("policy", "p on app.t", "rollback", schema="app")])
    statements, skipped = owner_statements(snap(), side, 'we"ird', schemas=False)
    assert texts(statements) == ['ALTER FOREIGN DATA WRAPPER w OWNER TO "we""ird"',
                                 'ALTER SERVER srv OWNER TO "we""ird"',
                                 'ALTER STATISTICS app.s OWNER TO "we""ird"']
    assert skipped == ['policy p on app.t (owned by rollback, we"ird wanted)']


def test_grants_are_given_back_as_their_grantor():
    live = snap([obj("table", "app.orders", "app", set([("app", "app", "SELECT", False),
                                                        ("app", "reader", "SELECT", False)]))])
    side = snap([obj("table", "app.orders", "app", set([("app", "app", "SELECT", False),
                                                        ("app", None, "SELECT", False)]))])
    assert texts(grant_statements(live, side, schemas=False)) == [
        'SET ROLE "app"', 'REVOKE SELECT ON TABLE app.orders FROM PUBLIC', 'RESET ROLE',
        'SET ROLE "app"', 'GRANT SELECT ON TABLE app.orders TO "reader"', 'RESET ROLE']
    assert grant_statements(live, side, schemas=True) == []


def test_grants_skip_equal_acls_untracked_types_and_objects_only_one_side_has():
    acl = set([("app", "app", "USAGE", False)])
    live = snap([obj("schema", "app", "app", acl), obj("collation", "app.c", "app", None),
                 obj("table", "app.gone", "app", acl)])
    side = snap([obj("schema", "app", "app", acl), obj("collation", "app.c", "app", None),
                 obj("table", "app.new", "app", set())])
    assert grant_statements(live, side, schemas=True) == [] and grant_statements(live, side, schemas=False) == []
    live["objects"][("schema", "app")]["grants"] = set([("app", "app", "USAGE", True)])
    assert texts(grant_statements(live, side, schemas=True)) == [
        'SET ROLE "app"', 'GRANT USAGE ON SCHEMA app TO "app" WITH GRANT OPTION', 'RESET ROLE']


def test_column_privileges_of_the_side_tables():
    table = obj("table", "app.users", "app", set())
    live = snap([table], columns={("app.users", "email"): dict(owner="app", grants=set([
        ("app", "support", "SELECT", False)])), ("app.other", "x"): dict(owner="app", grants=set([
            ("app", "support", "SELECT", False)]))})
    side = snap([dict(table)])
    assert texts(grant_statements(live, side, schemas=False)) == [
        'SET ROLE "app"', 'GRANT SELECT ("email") ON TABLE app.users TO "support"', 'RESET ROLE']


def test_default_privileges_are_put_back_per_schema_and_global():
    base = set([("app", "app", "EXECUTE", False), ("app", None, "EXECUTE", False)])
    live = {("app", "app", "r"): set([("app", "reader", "SELECT", False)]),
            ("app", "gone_schema", "r"): set([("app", "reader", "SELECT", False)]),
            ("app", None, "f"): set([("app", "app", "EXECUTE", False)]), ("app", None, "f", "base"): base}
    side = {("app", "app", "r"): set([("app", "writer", "INSERT", True)])}
    assert texts(default_acl_statements(live, side, set(["app"]))) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "app" REVOKE INSERT ON TABLES FROM "writer"',
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "app" GRANT SELECT ON TABLES TO "reader"']
    # a global entry the side lacks means the side has the built-in default, not nothing
    assert default_acl_statements({("app", None, "f", "base"): base}, {}, set()) == []


def test_default_privileges_grant_option_only():
    live = {("app", "app", "S"): set([("app", "reader", "USAGE", False)])}
    side = {("app", "app", "S"): set([("app", "reader", "USAGE", True)])}
    assert texts(default_acl_statements(live, side, set(["app"]))) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "app" REVOKE GRANT OPTION FOR USAGE ON SEQUENCES FROM '
        '"reader"']
    assert texts(default_acl_statements(side, live, set(["app"]))) == [
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA "app" GRANT USAGE ON SEQUENCES TO "reader" '
        'WITH GRANT OPTION']


def test_differences_are_readable_lines():
    live = snap([obj("table", "app.t", "app", set([("app", "app", "SELECT", False)])),
                 obj("collation", "app.c", "app"), obj("schema", "app", "app", set())],
                defaults={("app", "app", "r"): set([("app", None, "SELECT", True)]),
                          ("app", "elsewhere", "r"): set([("app", None, "SELECT", False)])})
    side = snap([obj("table", "app.t", "rollback", set()), obj("collation", "app.c", "app"),
                 obj("schema", "app", "app", set())])
    assert differences(live, side) == [
        "table app.t owned by rollback, was app", "table app.t privileges none, were app=SELECT/app",
        "default privileges of app in schema app on tables: none, were PUBLIC=SELECT*/app"]
    assert differences(live, live) == []


def test_acting_roles_are_owners_grantors_and_default_acl_roles():
    side = snap([obj("table", "app.t", "owner1", set([("grantor1", "x", "SELECT", False)])),
                 obj("collation", "app.c", "owner2")],
                columns={("app.t", "c"): dict(owner="owner1", grants=set([("grantor2", "y", "SELECT", False)]))},
                defaults={("defrole", None, "r"): set()})
    assert acting_roles(side) == set(["owner1", "owner2", "grantor1", "grantor2", "defrole"])


class Connection:
    def __init__(self):
        self.asked = []

    def query(self, statement, args=None):
        self.asked.append(args)
        if "pg_identify_object(o.classid" in statement:
            return [("table", "app.t", "app", "app", json.dumps([["app", None, "SELECT", True]])),
                    ("collation", "app.c", "app", "app", None)]
        if "pg_attribute" in statement:
            return [("app.t", "email", "app", json.dumps([["app", "support", "SELECT", False]]))]
        return [("app", None, "r", json.dumps([["app", "app", "SELECT", False]]), json.dumps([]))]


def test_snapshot_reads_ownership_acls_and_the_builtin_defaults():
    connection = Connection()
    result = snapshot(connection)
    assert result["objects"][("table", "app.t")]["grants"] == set([("app", None, "SELECT", True)])
    assert result["objects"][("collation", "app.c")]["grants"] is None  # no ACL column: not compared
    assert result["columns"] == {("app.t", "email"): dict(owner="app", grants=set([
        ("app", "support", "SELECT", False)]))}
    assert result["defaults"] == {("app", None, "r"): set([("app", "app", "SELECT", False)]),
                                  ("app", None, "r", "base"): set()}
    assert connection.asked[0] == dict(first=16384) == dict(first=postgres_objects.FIRST_NORMAL_OID)
