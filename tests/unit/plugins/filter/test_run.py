"""The run context: the one phase table, the selection, and the blast radius of level 3."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rollback.core.plugins.filter.run import (
    PHASES,
    blast_radius_text,
    level_phases,
    level_rows,
    name_list,
    request_refusal,
    run_context,
    unwritable_dirs,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

# Two services share orders-db; billing has its own; the static front uses none; ledger-db is claimed by nobody.
SERVICES = {
    "api": dict(rollback_service_target="kubernetes", rollback_service_databases=["orders-db"]),
    "worker": dict(rollback_service_target="swarm", rollback_service_databases=["orders-db"],
                   rollback_service_app=dict(image="registry/worker:1.4")),
    "billing": dict(rollback_service_target="server", rollback_service_databases="billing-db"),
    "front": dict(rollback_service_target="bluegreen", rollback_service_connection=dict(conf_file="/etc/x.conf")),
}
DATABASES = ["orders-db", "billing-db", "ledger-db"]


def request(level=3, services=(), databases=(), canary=0):
    return dict(id="r1", level=level, environment="prod", operator="alice", reason="bad deploy",
                started="2025-11-12T10:00:00Z", check_mode=False, canary=canary, services=list(services),
                databases=list(databases))


# ---------------------------------------------------------------------------------------------- name_list


@pytest.mark.parametrize("value,names", [
    (["api", " web ", "", "  "], ["api", "web"]),
    (("api", "web"), ["api", "web"]),
    ([3, "web"], ["3", "web"]),
    ("api,web", ["api", "web"]),
    ("api, web ,,worker", ["api", "web", "worker"]),
    ("api\nweb\n", ["api", "web"]),
    ("api\r\nweb", ["api", "web"]),
    ("api web", ["api", "web"]),
    ("", []),
    (None, []),
    ([], []),
], ids=["list", "tuple", "list of non-strings", "comma string", "comma string with blanks", "newline string",
        "crlf string", "space string", "empty string", "none", "empty list"])
def test_name_list(value, names):
    assert name_list(value) == names


@pytest.mark.parametrize("value", [dict(api=True), 42], ids=["dict", "int"])
def test_name_list_refuses_other_types(value):
    with pytest.raises(AnsibleFilterError, match="got %s" % type(value).__name__):
        name_list(value)


# ---------------------------------------------------------------------------------------------- the phase table


def test_levels_are_cumulative_in_the_one_flow_order():
    names = dict((level, [row["name"] for row in level_phases(level)]) for level in (1, 2, 3))
    assert names == {1: ["app", "verify"], 2: ["config", "app", "verify"],
                     3: ["traffic_stop", "database", "config", "app", "traffic_resume", "verify"]}
    assert level_phases("2") == level_phases(2)


@pytest.mark.parametrize("level", [0, 4, "one", None])
def test_other_levels_are_refused(level):
    with pytest.raises(AnsibleFilterError, match="level must be 1, 2 or 3"):
        level_phases(level)


def test_every_row_names_a_role_entry_point_and_the_result_it_documents():
    for row in PHASES:
        role = row["role"].rsplit(".", maxsplit=1)[-1]
        tasks = os.path.join(REPO, "roles", role, "tasks", row["tasks_from"] + ".yml")
        assert os.path.exists(tasks), tasks
        assert row["result"] == role + "_result"
        with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as handle:
            assert "C(%s)" % row["result"] in handle.read(), "%s documents %s" % (role, row["result"])
        assert row["hosts"] in ("services", "databases", "traffic")


# ---------------------------------------------------------------------------------------------- blast radius


def test_level3_for_one_service_restores_its_databases_and_stops_every_writer():
    context = run_context(request(services=["api"]), SERVICES, DATABASES)
    assert context["errors"] == [] and context["warnings"] == []
    run = context["run"]
    assert run["services"] == ["api"] and run["databases"] == ["orders-db"]
    assert run["blast_radius"] == [dict(service="api", selected=True, databases=["orders-db"]),
                                   dict(service="worker", selected=False, databases=["orders-db"])]
    assert run["traffic"] == ["api", "worker"]
    assert run["hosts"] == ["orders-db", "api", "worker"]
    assert run["databases_in_use"] == ["orders-db"]
    assert blast_radius_text(run) == ["orders-db restored; used by api, worker (not selected)",
                                      "traffic stopped until the restore is done: api, worker"]


def test_level3_of_everything_restores_only_the_claimed_databases():
    run = run_context(request(), SERVICES, DATABASES)["run"]
    assert run["databases"] == ["orders-db", "billing-db"], "ledger-db is claimed by nobody"
    assert run["traffic"] == ["api", "worker", "billing", "front"]


def test_named_databases_replace_the_claimed_ones_and_stop_their_users():
    context = run_context(request(services=["front"], databases="billing-db".split()), SERVICES, DATABASES)
    run = context["run"]
    assert run["databases"] == ["billing-db"]
    assert run["blast_radius"] == [dict(service="billing", selected=False, databases=["billing-db"]),
                                   dict(service="front", selected=True, databases=[])]
    assert run["services"] == ["front"] and run["traffic"] == ["billing", "front"]


def test_an_unclaimed_database_only_when_named_and_with_a_warning():
    context = run_context(request(services=["front"], databases=["ledger-db"]), SERVICES, DATABASES)
    assert context["errors"] == []
    assert context["warnings"] == ["ledger-db: no service declares it in rollback_service_databases; restored "
                                   "because -e databases names it, no other service's traffic is stopped for it"]
    assert context["run"]["traffic"] == ["front"]


def test_level3_with_nothing_to_restore_is_refused():
    context = run_context(request(services=["front"]), SERVICES, DATABASES)
    assert context["errors"] == ["level 3 restores the databases of the selected services, but front declares "
                                 "none (rollback_service_databases) and -e databases names none: declare them in "
                                 "the inventory or name the databases with -e databases="]


def test_a_claim_of_an_unknown_database_is_refused():
    services = dict(SERVICES, api=dict(SERVICES["api"], rollback_service_databases=["orders-db", "nope"]))
    errors = run_context(request(level=1), services, DATABASES)["errors"]
    assert errors == ["api: rollback_service_databases names nope, not in the inventory's rollback_databases "
                      "(orders-db, billing-db, ledger-db)"]


@pytest.mark.parametrize("service,ok", [
    (dict(rollback_service_target="frontend"), False),
    (dict(rollback_service_target="frontend", rollback_service_traffic=dict(nginx=dict(conf_file="/f"))), True),
    (dict(rollback_service_target="frontend", rollback_service_traffic=dict(alb=dict(target_group="tg"))), True),
    (dict(rollback_service_target="bluegreen", rollback_service_connection=dict(listener_arn="arn")), False),
    (dict(rollback_service_target="bluegreen", rollback_service_connection=dict(conf_file="/f")), True),
    (dict(rollback_service_target="swarm"), True),
    (dict(rollback_service_target="frontend", rollback_maintenance_endpoint=dict(enable_url="https://x/on")), True),
    (dict(rollback_service_target="frontend", rollback_maintenance_endpoint=dict(disable_url="https://x/off")), False),
], ids=["frontend alone", "frontend with nginx front", "frontend with ALB", "ALB blue/green without front",
        "nginx blue/green", "swarm", "frontend in the app's maintenance mode", "maintenance endpoint never enabled"])
def test_a_service_whose_traffic_cannot_stop_is_refused_at_level3(service, ok):
    services = dict(SERVICES, ui=dict(service, rollback_service_databases=["orders-db"]))
    errors = run_context(request(services=["api"]), services, DATABASES)["errors"]
    assert (errors == []) is ok
    if not ok:
        assert errors[0].startswith("ui (target %s) has no way to stop its traffic at level 3"
                                    % service["rollback_service_target"])
    assert run_context(request(level=2, services=["ui"]), services, DATABASES)["errors"] == []


def test_levels_below_3_stop_nothing_and_restore_nothing():
    run = run_context(request(level=2, services=["billing", "api"]), SERVICES, DATABASES)["run"]
    assert (run["databases"], run["blast_radius"], run["traffic"]) == ([], [], [])
    assert run["services"] == ["api", "billing"], "inventory order"
    assert run["databases_in_use"] == ["orders-db", "billing-db"], "their migrations are still checked"
    assert blast_radius_text(run) == []


def test_the_level_includes_only_rows_some_host_does_in_the_table_order():
    run = run_context(request(level=3, services=["billing"]), SERVICES, DATABASES)["run"]
    names = [row["name"] for row in run["phases"]]
    assert [row["name"] for row in level_rows(run)] == names, "every row has hosts here"
    assert [row["name"] for row in level_rows(run, planning=True)] == [n for n in names if n != "verify"], \
        "verify is not planned"
    run = run_context(request(level=2, services=["billing"]), SERVICES, DATABASES)["run"]
    assert [row["name"] for row in level_rows(dict(run, services=[]))] == [], "no host, no row"
    assert [row["name"] for row in level_rows(run)] == ["config", "app", "verify"]


def test_planning_includes_on_a_host_only_the_rows_it_takes_part_in():
    run = run_context(request(level=3, services=["billing"]), SERVICES, DATABASES)["run"]
    database = run["databases"][0]
    assert [row["name"] for row in level_rows(run, planning=True, host=database)] == ["database"]
    assert "database" not in [row["name"] for row in level_rows(run, planning=True, host="billing")]
    assert [row["name"] for row in level_rows(run, planning=True, host="billing")] == [
        row["name"] for row in level_rows(run, planning=True) if "billing" in run[row["hosts"]]]
    with pytest.raises(AnsibleFilterError, match="host is for planning only"):
        level_rows(run, host="billing")


@pytest.mark.parametrize("level,canary,serial", [(1, 1, [1, "100%"]), (2, 2, [2, "100%"]), (3, 1, ["100%"]),
                                                 (1, 0, ["100%"])])
def test_canary_batches_never_at_level3(level, canary, serial):
    assert run_context(request(level=level, canary=canary), SERVICES, DATABASES)["run"]["serial"] == serial


def test_unwritable_dirs(tmp_path):
    writable = tmp_path / "reports"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    missing_below_writable = tmp_path / "new" / "dir"
    file_parent = tmp_path / "file"
    file_parent.write_text("x")
    try:
        refused = unwritable_dirs([str(writable), str(missing_below_writable), str(locked / "sub"),
                                   str(file_parent / "sub")])
    finally:
        locked.chmod(0o700)
    if os.geteuid() == 0:  # root writes anywhere: only the file parent is refused
        assert refused == [str(file_parent / "sub")]
    else:
        assert refused == [str(locked / "sub"), str(file_parent / "sub")]


def test_a_swarm_service_rolled_back_at_level3_needs_its_image():
    services = dict(SERVICES, worker=dict(rollback_service_target="swarm", rollback_service_databases=["orders-db"]))
    assert run_context(request(services=["worker"]), services, DATABASES)["errors"] == [
        "worker (target swarm) needs rollback_service_app.image at level 3: after its traffic is stopped, its "
        "previous spec is the stop itself"]
    assert run_context(request(services=["api"]), services, DATABASES)["errors"] == [], "only stopped: no image"
    assert run_context(request(level=1, services=["worker"]), services, DATABASES)["errors"] == []


REQUEST = dict(level="1", services=[], databases=[], confirm_data_loss=False, require_confirmation=False,
               confirm=False, environment="production")
GROUPS = (["api", "web"], ["api-db"])


@pytest.mark.parametrize("change, refusal", [
    (dict(level="4"), "level must be 1 (application), 2 (+ configuration) or 3 (+ database), got '4': nothing was "
                      "changed. Example: -e level=1"),
    (dict(level=""), "level must be 1 (application), 2 (+ configuration) or 3 (+ database), got '': nothing was"),
    (dict(services=["api", "shop", "cart"]), "service(s) shop, cart not in the inventory's rollback_services group "
                                             "(api, web): nothing was changed"),
    (dict(databases=["old-db"]), "database(s) old-db not in the inventory's rollback_databases group (api-db): "
                                 "nothing was changed"),
    (dict(level="3"), "level 3 restores the database from its last backup: data written since then is lost"),
    (dict(level="3", confirm_data_loss="no"), "Re-run with -e confirm_data_loss=true to accept"),
    (dict(require_confirmation="true"), "environment production requires confirmation: re-run with -e confirm=true"),
])
def test_a_request_is_refused_with_the_first_reason_only(change, refusal):
    assert refusal in request_refusal(dict(REQUEST, **change), *GROUPS)


def test_the_level_is_checked_before_the_names_and_the_names_before_the_confirmations():
    bad = dict(REQUEST, level="9", services=["shop"], databases=["x"], require_confirmation=True)
    assert request_refusal(bad, *GROUPS).startswith("level must be")
    assert request_refusal(dict(bad, level="3"), *GROUPS).startswith("service(s) shop")


@pytest.mark.parametrize("change", [dict(), dict(level=" 2 "), dict(level="3", confirm_data_loss="yes"),
                                    dict(require_confirmation=True, confirm="true"), dict(services=["web"])])
def test_a_request_that_can_run_is_not_refused(change):
    assert request_refusal(dict(REQUEST, **change), *GROUPS) == ""


def test_an_inventory_without_services_and_a_request_naming_none_is_refused():
    assert request_refusal(REQUEST, [], []) == ("the inventory has no host in the rollback_services group and no "
                                                "service was given")
