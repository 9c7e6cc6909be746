"""postgres_restore on a database set up the way production ones are: the swapped-in database is the same
database, only older (issue 15). See postgres_production.py for the catalogs read and where they are documented.

The live database has: two application roles with different grants (``app`` owns schema app and its objects,
``ro`` reads), a role kept out (``out``: no CONNECT), database and role-in-database settings (search_path,
statement_timeout; lock_timeout for app, default_transaction_read_only for ro), a connection limit, a comment,
an ICU locale, a non-default tablespace, an owner that is not a superuser, default privileges, column privileges
and a publication. A second database must stay untouched.
"""

import pytest
from postgres_production import cluster_fixture, run_module


cluster = cluster_fixture()


def verify_as_application(cluster):
    return [dict(name="orders as the reader", sql="SELECT count(*) FROM orders", as_role=cluster.ro, expect=1000),
            dict(name="owner writes", sql="SELECT count(*) FROM app.audit", as_role=cluster.app, min_rows=1)]


@pytest.mark.parametrize("no_owner", [False, True], ids=["owners", "no_owner"])
@pytest.mark.parametrize("fmt", ["custom", "directory", "tar", "plain"])
def test_every_catalog_fact_is_carried_over(lab, cluster, tmp_path, fmt, no_owner):
    live = cluster.live()
    before = cluster.facts(live)
    bystander = cluster.facts(cluster.bystander, inside=False)
    dump = cluster.dumps["plain_no_owner" if (fmt, no_owner) == ("plain", True) else fmt]
    result = run_module(lab, tmp_path, dict(db=live, dump=dump, no_owner=no_owner, jobs=2,
                                            verify=verify_as_application(cluster)))
    assert not result.get("failed"), result.get("msg")
    assert result["restored_db"] == live and result["changed"]
    after = cluster.facts(live)
    assert after["database"] == before["database"]
    assert after["objects"] == before["objects"]
    assert after["privileges"] == before["privileges"]
    assert cluster.orders(live) == 1000, "restored to the dump"
    assert cluster.orders(result["previous_db"]) == 1001, "the old database keeps what was written after the dump"
    assert cluster.facts(cluster.bystander, inside=False) == bystander, "another database is untouched"
    assert cluster.databases(live) == sorted([live, result["previous_db"]])
    assert result["privileges"]["differences"] == [] and cluster.ro in result["privileges"]["roles"]
    assert [v["value"] for v in result["verify"]] == ["1000", "1"]
    carried = "\n".join(result["carried_over"])
    assert "grants" in carried and "statement_timeout=5s" in carried and "lock_timeout=3s" in carried
    assert "connection limit 50" in carried and "owner %s" % cluster.login in carried
    if no_owner:
        assert "object owners and privileges from the live database" in carried
    assert result["identity"]["comment"] == "orders of the shop"


def test_a_login_that_is_not_a_superuser_restores_with_no_owner(lab, cluster, tmp_path):
    live = cluster.live()
    before = cluster.facts(live)
    login = (cluster.login, cluster.password)
    args = dict(db=live, dump=cluster.dumps["custom"], no_owner=True, verify=verify_as_application(cluster))
    # ALTER ROLE ... IN DATABASE needs CREATEROLE (PostgreSQL 15, ALTER ROLE: "Roles having CREATEROLE privilege
    # can change defaults for non-superuser roles"): found by trying the statements, rolled back, before any change.
    refused = run_module(lab, tmp_path, args, login=login)
    assert refused.get("failed") and "could not carry the identity" in refused["msg"], refused["msg"]
    assert "ALTER ROLE \"%s\" IN DATABASE" % cluster.app in refused["msg"] and "permission denied" in refused["msg"]
    assert cluster.databases(live) == [live] and cluster.facts(live) == before
    cluster.sql("postgres", "ALTER ROLE %s CREATEROLE" % cluster.login)
    try:
        result = run_module(lab, tmp_path, args, login=login)
    finally:
        cluster.sql("postgres", "ALTER ROLE %s NOCREATEROLE" % cluster.login)
    assert not result.get("failed"), result.get("msg")
    after = cluster.facts(live)
    assert (after["database"], after["objects"], after["privileges"]) == (
        before["database"], before["objects"], before["privileges"])
    assert after["objects"]["schema app"]["owner"] == cluster.app, "not the restoring login"
    assert cluster.orders(live) == 1000


def test_a_privilege_granted_after_the_dump_fails_the_comparison_unless_no_owner_carries_it(lab, cluster, tmp_path):
    live = cluster.live()
    cluster.sql(live, "GRANT SELECT ON app.audit TO %s" % cluster.out)
    before = cluster.facts(live)
    result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"]))
    assert result.get("failed")
    assert "privileges differ" in result["msg"] and "%s lost SELECT on table app.audit" % cluster.out in result["msg"]
    assert "the live database %s is untouched and the side database" % live in result["msg"]
    assert cluster.databases(live) == [live] and cluster.facts(live) == before and cluster.orders(live) == 1001

    result = run_module(lab, tmp_path, dict(db=live, dump=cluster.dumps["custom"], no_owner=True))
    assert not result.get("failed"), result.get("msg")
    assert cluster.facts(live)["privileges"] == before["privileges"]
