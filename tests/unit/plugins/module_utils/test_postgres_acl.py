"""postgres_acl: the GRANT/REVOKE that turn one ACL into another, issued as their grantor (as pg_dump's
buildACLCommands does with SET SESSION AUTHORIZATION, src/bin/pg_dump/dumputils.c). ACL items are ``aclexplode()``
rows ``(grantor, grantee, privilege, grantable)``, grantee None for PUBLIC (PostgreSQL docs, "System Information
Functions")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.postgres import sql
from ansible_collections.rollback.core.plugins.module_utils.postgres_acl import changes, explode_sql, items, text
from support.pg_sql import texts

ON = sql.SQL("TABLE app.orders")


def test_items_and_text():
    assert items([("app", None, "SELECT", 1), ("app", "ro", "SELECT", 0)]) == set([
        ("app", None, "SELECT", True), ("app", "ro", "SELECT", False)])
    assert text(("app", None, "SELECT", True)) == "PUBLIC=SELECT*/app"
    assert text(("app", "ro", "SELECT", False)) == "ro=SELECT/app"


def test_explode_sql_compares_a_null_acl_as_its_default():
    assert explode_sql("pg_class c", "c.relacl", "'r'", "c.relowner") == (
        "SELECT pg_get_userbyid(a.grantor), CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, "
        "a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', "
        "c.relowner))) a")


def test_equal_acls_need_nothing():
    acl = set([("app", "ro", "SELECT", False)])
    assert changes(ON, acl, set(acl), "app") == []


def test_revokes_first_other_grantors_before_the_owner_then_grants_owner_first():
    current = set([("app", "ro", "SELECT", False), ("lead", "intern", "SELECT", False)])
    wanted = set([("app", "rw", "INSERT", True), ("lead", "ro", "UPDATE", False)])
    assert texts(changes(ON, current, wanted, "app")) == [
        'SET ROLE "lead"', 'REVOKE SELECT ON TABLE app.orders FROM "intern"', 'RESET ROLE',
        'SET ROLE "app"', 'REVOKE SELECT ON TABLE app.orders FROM "ro"', 'RESET ROLE',
        'SET ROLE "app"', 'GRANT INSERT ON TABLE app.orders TO "rw" WITH GRANT OPTION', 'RESET ROLE',
        'SET ROLE "lead"', 'GRANT UPDATE ON TABLE app.orders TO "ro"', 'RESET ROLE']
    assert texts(changes(ON, set(), wanted, "lead"))[:3] == [  # the owner grants first, whatever its name
        'SET ROLE "lead"', 'GRANT UPDATE ON TABLE app.orders TO "ro"', 'RESET ROLE']


def test_grant_option_only_changes_and_public():
    assert texts(changes(ON, set([("app", None, "SELECT", True)]), set([("app", None, "SELECT", False)]), "app")) == [
        'SET ROLE "app"', 'REVOKE GRANT OPTION FOR SELECT ON TABLE app.orders FROM PUBLIC', 'RESET ROLE']
    assert texts(changes(ON, set([("app", None, "SELECT", False)]), set([("app", None, "SELECT", True)]), "app")) == [
        'SET ROLE "app"', 'GRANT SELECT ON TABLE app.orders TO PUBLIC WITH GRANT OPTION', 'RESET ROLE']


def test_column_privileges_name_the_column():
    assert texts(changes(ON, set(), set([("app", "support", "SELECT", False)]), "app", column='e"mail')) == [
        'SET ROLE "app"', 'GRANT SELECT ("e""mail") ON TABLE app.orders TO "support"', 'RESET ROLE']
