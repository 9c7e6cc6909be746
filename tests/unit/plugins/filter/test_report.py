"""The report filters: service names, one record per phase, and the incident report of a whole run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.filter.report import (
    FilterModule,
    cache_summary,
    phase_record,
    PHASE_GATE,
    phase_records,
    planned_backups,
    restore_point_line,
    rollback_report,
)
from ansible_collections.rollback.core.plugins.filter.run import level_phases

# The host facts the rollback.core.phase role sets (roles/phase/tasks/run.yml) and the report reads.
RECORDS, FAILURE = "_phase_records", "_phase_failure"

SERVICE_PHASES = ["traffic_stop", "config", "app", "traffic_resume", "verify"]
NOISE = dict(invocation=dict(module_args=dict(password="secret")), diff=dict(before="a", after="b"),
             exception="Traceback ...", stdout_lines=["x"])


# ---------------------------------------------------------------------------------------------- phase_record


def test_phase_record_keeps_only_the_whitelisted_keys():
    result = dict(NOISE, changed=True, service="api", platform="kubernetes", from_version="1.4.0",
                  to_version="1.3.2", revision=0, switched=False, release_path="", units=[], snapshot={},
                  holder=None, _ansible_no_log=False, rc=0, stderr="warning")
    record = phase_record(result, "app", "api")
    assert record == dict(phase="app", host="api", planned=False, status="changed",
                          details=dict(service="api", platform="kubernetes", from_version="1.4.0",
                                       to_version="1.3.2", revision=0, switched=False))
    assert "invocation" not in record["details"] and "diff" not in record["details"]


@pytest.mark.parametrize("result,status", [
    (dict(changed=True), "changed"),
    (dict(changed=False), "unchanged"),
    (dict(), "unchanged"),
    (None, "unchanged"),
    (dict(failed=True, changed=True, msg="boom"), "failed"),
    (dict(skipped=True, changed=False, skip_reason="Conditional result was False"), "skipped"),
    (dict(failed=True, skipped=True, msg="boom"), "failed"),
    (dict(unreachable=True, changed=False, msg="ssh: connect to host"), "failed"),
])
def test_phase_record_status(result, status):
    assert phase_record(result, "config", "api")["status"] == status


def test_failed_record_carries_msg_and_task():
    record = phase_record(dict(NOISE, failed=True, msg="rollout undo timed out"), "app", "web",
                          task="Undo the rollout")
    assert record["status"] == "failed"
    assert record["msg"] == "rollout undo timed out"
    assert record["task"] == "Undo the rollout"
    assert record["details"] == dict(msg="rollout undo timed out")


@pytest.mark.parametrize("result,msg", [
    (dict(failed=True, stderr="permission denied"), "permission denied"),
    (dict(failed=True, msg="", stderr="permission denied"), "permission denied"),
    (dict(failed=True), "failed"),
])
def test_failed_record_msg_falls_back_to_stderr(result, msg):
    assert phase_record(result, "app", "web")["msg"] == msg


def test_records_that_did_not_fail_carry_no_msg_or_task():
    record = phase_record(dict(changed=True, msg="done"), "app", "web", task="Undo the rollout")
    assert "task" not in record
    assert "msg" not in record
    assert record["details"]["msg"] == "done"


@pytest.mark.parametrize("planned,expected", [(True, True), (1, True), (False, False), (None, False)])
def test_planned_is_a_bool(planned, expected):
    assert phase_record(dict(changed=True), "app", "api", planned=planned)["planned"] is expected


def test_loop_results_are_summarised_item_by_item():
    result = dict(changed=True, msg="All items completed", results=[
        dict(NOISE, item="api", ansible_loop_var="item", changed=True, service="api", from_version="1.4.0"),
        dict(NOISE, item="web", ansible_loop_var="item", changed=False, skipped=True),
        "not a result",
    ])
    record = phase_record(result, "app", "api")
    assert record["status"] == "changed"
    assert record["details"] == dict(msg="All items completed",
                                     results=[dict(service="api", from_version="1.4.0"), dict()])


def test_filters_are_registered_under_their_names():
    filters = FilterModule().filters()
    assert filters == dict(phase_record=phase_record, phase_records=phase_records, rollback_report=rollback_report,
                           cache_summary=cache_summary, planned_backups=planned_backups,
                           restore_point_line=restore_point_line)


# --------------------------------------------------------------------------------------------- phase_records
# The records one task adds for a batch after a phase (roles/phase/tasks/record_batch.yml, run once).


def test_phase_records_adds_a_record_for_each_host_that_ran_the_phase():
    planned = phase_record(dict(changed=True), "app", "a", planned=True)
    hostvars = {
        "a": {RECORDS: [planned], FAILURE: None, "app_result": dict(changed=True, to_version="1.0.0")},
        # decide.yml emptied the result of every host of the batch: b did not take part.
        "b": {RECORDS: [], FAILURE: None, "app_result": {}},
        "c": {RECORDS: [], FAILURE: None, "app_result": dict(changed=False)},
    }
    rows = phase_records(hostvars, ["a", "b", "c"], "app", "app_result")
    assert [row["host"] for row in rows] == ["a", "c"]
    assert rows[0]["records"][0] == planned, "the earlier records are kept, in order"
    assert [(r["phase"], r["planned"], r["status"]) for r in rows[0]["records"][1:]] == [("app", False, "changed")]
    assert rows[0]["records"][1]["details"]["to_version"] == "1.0.0"
    assert rows[1]["records"] == [dict(phase="app", host="c", planned=False, status="unchanged", details={})]
    assert rows[0]["failure"] is None and rows[1]["failure"] is None


def test_phase_records_leaves_out_a_host_the_phase_gate_skipped():
    # The entry points import the phase role under PHASE_GATE: its registering task, skipped on a host that does
    # not take part, still sets the result (ansible-core TaskExecutor._execute: skipped, skip_reason and the
    # false_condition, the first of the task's conditions - its parents' first - that was false).
    gated = dict(changed=False, skipped=True, skip_reason="Conditional result was False", false_condition=PHASE_GATE)
    own = dict(gated, false_condition="database_caches | length > 0")
    hostvars = {"a": {RECORDS: [], FAILURE: None, "database_result": gated},
                "b": {RECORDS: [], FAILURE: None, "database_result": own}}
    rows = phase_records(hostvars, ["a", "b"], "database", "database_result")
    assert [(row["host"], row["records"][0]["status"]) for row in rows] == [("b", "skipped")], \
        "a task skipped by a condition of its own is the phase's result; one the gate skipped is no part in it"


def test_phase_records_leaves_out_a_failure_the_rescue_recorded():
    failed = phase_record(dict(failed=True, msg="undo timed out"), "app", "a", task="Roll back")
    hostvars = {"a": {RECORDS: [failed], FAILURE: failed, "app_result": dict(failed=True, msg="undo timed out")},
                # A result registered before a later task of the phase failed: still recorded once, by the rescue.
                "b": {RECORDS: [phase_record(dict(failed=True), "app", "b")], FAILURE: None,
                      "app_result": dict(changed=True)}}
    assert phase_records(hostvars, ["a", "b"], "app", "app_result") == []


def test_phase_records_fails_a_host_that_did_not_answer():
    earlier = phase_record(dict(failed=True, msg="x"), "traffic_stop", "gone")
    hostvars = {"gone": {RECORDS: [], FAILURE: None, "probe_result": dict(unreachable=True, msg="ssh: refused")},
                "late": {RECORDS: [earlier], FAILURE: earlier, "probe_result": dict(unreachable=True)}}
    gone, late = phase_records(hostvars, ["gone", "late"], "first", "probe_result")
    record = gone["records"][-1]
    assert (record["phase"], record["status"]) == ("first", "failed")
    assert record["msg"] == "gone did not answer: ssh: refused"
    assert record["task"] == "Fail the phase when the host did not answer - first"
    assert gone["failure"] == record
    assert late["failure"] == earlier, "the first failure stays the cause"
    assert late["records"][-1]["msg"] == "late did not answer: unreachable"


def test_phase_records_of_a_plan_are_planned():
    hostvars = {"a": {"app_result": dict(changed=True)}}
    [row] = phase_records(hostvars, ["a"], "app", "app_result", planned=True)
    assert row["records"] == [dict(phase="app", host="a", planned=True, status="changed", details={})]
    assert row["failure"] is None


# ---------------------------------------------------------------------------------------------- rollback_report


def request(**extra):
    """The run context (rollback_run) as the report role passes it, with finished/check_mode/escalation added."""
    level = int(extra.get("level", 3))
    services = extra.get("services", ["api", "web"])
    databases = extra.get("databases", ["db1"] if level == 3 else [])
    traffic = services if level == 3 else []
    values = dict(id="20251112T100000-abcd", environment="production", level=level, reason="bad deploy",
                  operator="alice", services=services, databases=databases, started="2025-11-12T10:00:00Z",
                  finished="2025-11-12T10:05:00Z", check_mode=False, escalation=["on-call", "team lead"],
                  phases=level_phases(level), traffic=traffic, hosts=databases + services,
                  blast_radius=[dict(service=s, selected=True, databases=databases) for s in traffic])
    values.update(extra)
    return values


def host(name, records, failure=None):
    return {"inventory_hostname": name, RECORDS: records, FAILURE: failure}


def test_the_plan_is_listed_per_host_in_the_phase_table_order_whatever_order_it_was_planned_in():
    # The planning play includes on each host only its rows; ansible-core merges equal includes of all hosts into
    # one list in the order it first met them (playbook/included_file.py, IncludedFile.process_include_results):
    # with a host whose rows are traffic_stop, traffic_resume first, another host plans traffic_resume before its
    # config and app (seen in the lab's level 3 drill with -v).
    def planned(phase, name):
        return phase_record(dict(changed=True), phase, name, planned=True)

    api = [planned(phase, "api") for phase in ("traffic_stop", "traffic_resume", "config", "restore_points", "app")]
    db1 = [planned("restore_points", "db1"), planned("database", "db1")]
    report = rollback_report([host("db1", db1), host("api", api)], request(services=["api"]), {})
    assert [(r["host"], r["phase"]) for r in report["plan"]] == [
        ("db1", "database"), ("db1", "restore_points"), ("api", "traffic_stop"), ("api", "config"),
        ("api", "restore_points"), ("api", "app"), ("api", "traffic_resume")]


DATABASE_RESULT = dict(NOISE, changed=True, restored_db="app", previous_db="app_before_rollback",
                       snapshot=dict(id="app-2025-11-12.dump"), emergency_backup="/var/backups/app-emergency.dump",
                       data_loss_window="15 minutes")
VERSIONS = {"api": ("kubernetes", "1.4.0", "1.3.2"), "web": ("compose", "2.1.0", "2.0.9")}


def service_result(phase, name):
    if phase == "app":
        platform, old, new = VERSIONS[name]
        return dict(NOISE, changed=True, service=name, platform=platform, from_version=old, to_version=new)
    if phase == "verify":
        return dict(NOISE, changed=False, passed=True, decision="ROLLBACK_OK", success_rate=100.0, latency_ms=120,
                    failed_checks=[])
    if phase == "config":
        return dict(NOISE, changed=True, updated=["FEATURE_X"], saved_to="/backups/%s.env" % name)
    return dict(NOISE, changed=True, maintenance_file="/srv/%s/maintenance" % name)


def plan(name):
    """The planning pass's records (check mode, planned=True) that come before the applied ones."""
    if name == "db1":
        return [phase_record(dict(changed=True, restored_db="app"), "database", "db1", planned=True)]
    return [phase_record(dict(changed=True), phase, name, planned=True) for phase in SERVICE_PHASES]


def successful_run():
    hosts = [host("db1", plan("db1") + [phase_record(DATABASE_RESULT, "database", "db1")])]
    for name in ("api", "web"):
        hosts.append(host(name, plan(name) + [phase_record(service_result(phase, name), phase, name)
                                              for phase in SERVICE_PHASES]))
    return hosts


def failed_run():
    """The database restored; on web the app phase failed while api's succeeded; nothing ran after."""
    failure = phase_record(dict(NOISE, failed=True, msg="rollout undo timed out"), "app", "web",
                           task="Undo the rollout")
    api = [phase_record(service_result(phase, "api"), phase, "api") for phase in SERVICE_PHASES[:3]]
    web = [phase_record(service_result(phase, "web"), phase, "web") for phase in SERVICE_PHASES[:2]] + [failure]
    return [host("db1", plan("db1") + [phase_record(DATABASE_RESULT, "database", "db1")]),
            host("api", plan("api") + api), host("web", plan("web") + web, failure)], failure


def refused_run():
    """The planning pass refused on the database host: nothing was applied."""
    failure = phase_record(dict(failed=True, msg="no backup newer than 24 hours"), "database", "db1", planned=True,
                           task="Find the backup")
    return [host("db1", [failure], failure), host("api", plan("api")), host("web", plan("web"))], failure


def phases_of(report):
    return dict((h["host"], [(p["phase"], p["status"]) for p in h["phases"]]) for h in report["hosts"])


def test_successful_run():
    report = rollback_report(successful_run(), request(), {"total_seconds": 12.0, "budget_seconds": 300.0,
                                                           "phases": []})
    assert report["outcome"] == "succeeded"
    assert report["failure"] is None
    for key, value in request().items():
        assert key == "hosts" or report[key] == value, key  # the report's hosts are per host, with their phases
    assert report["run_id"] == "20251112T100000-abcd"
    assert phases_of(report) == {
        "db1": [("database", "changed")],
        "api": [("traffic_stop", "changed"), ("config", "changed"), ("app", "changed"),
                ("traffic_resume", "changed"), ("verify", "unchanged")],
        "web": [("traffic_stop", "changed"), ("config", "changed"), ("app", "changed"),
                ("traffic_resume", "changed"), ("verify", "unchanged")],
    }
    assert report["changed"] == ["api: app", "api: config", "api: traffic_resume", "api: traffic_stop",
                                 "db1: database", "web: app", "web: config", "web: traffic_resume",
                                 "web: traffic_stop"]
    assert report["versions"] == [
        dict(service="api", platform="kubernetes", from_version="1.4.0", to_version="1.3.2", status="changed"),
        dict(service="web", platform="compose", from_version="2.1.0", to_version="2.0.9", status="changed"),
    ]
    assert report["databases_restored"] == [
        dict(host="db1", status="changed", backup_used="app-2025-11-12.dump",
             emergency_backup="/var/backups/app-emergency.dump", restored_db="app", previous="app_before_rollback",
             data_loss_window="15 minutes", caches_invalidated=None, migrations_stamped=None),
    ]
    assert report["verification"] == [
        dict(service=name, status="unchanged", verified=True, passed=True, decision="ROLLBACK_OK",
             success_rate=100.0, latency_ms=120, failed_checks=None) for name in ("api", "web")
    ]
    assert report["not_verified"] == [] and report["traffic_left_stopped"] == []
    assert len(report["plan"]) == 11 and all(r["planned"] for r in report["plan"])
    assert report["timeline"] == {"total_seconds": 12.0, "budget_seconds": 300.0, "phases": []}
    assert report["summary"] == (
        "Rollback SUCCEEDED: production level 3 (api, web). Reason: bad deploy. api 1.4.0 -> 1.3.2, "
        "web 2.1.0 -> 2.0.9. Databases restored: db1; traffic stopped for api, web. Took 12 s of a 300 s budget. "
        "Run 20251112T100000-abcd.")


def test_phase_details_and_messages_are_per_host():
    report = rollback_report(successful_run(), request(), {})
    db1 = report["hosts"][0]
    assert db1["host"] == "db1"
    assert db1["phases"][0]["details"]["restored_db"] == "app"
    assert "invocation" not in db1["phases"][0]["details"]
    assert db1["phases"][0]["msg"] is None


def test_database_backup_used_wins_over_the_snapshot_id():
    result = dict(DATABASE_RESULT, backup_used="app-chosen.dump", previous_db=None,
                  previous_db_instance_identifier="app-old")
    report = rollback_report([host("db1", [phase_record(result, "database", "db1")])], request(), {})
    restored = report["databases_restored"][0]
    assert (restored["backup_used"], restored["previous"]) == ("app-chosen.dump", "app-old")


def test_an_rds_cutover_says_what_became_of_the_old_instance():
    old = dict(id="app-pre-rollback-1", action="keep", status="available", writable=True,
               note="the old instance still runs and accepts writes at its own endpoint until someone stops it")
    result = dict(DATABASE_RESULT, previous_db=None, previous_db_instance_identifier=old["id"], old_instance=old,
                  data_loss_window=dict(start="2025-11-12T09:40:00Z", end="2025-11-12T10:02:00Z", seconds=1320),
                  dns=dict(verified=True, address="app.c1.rds.amazonaws.com"), read_replicas_left=["app-ro"])
    report = rollback_report([host("db1", [phase_record(result, "database", "db1")])], request(), {})
    restored = report["databases_restored"][0]
    assert restored["old_instance"] == old and restored["read_replicas_left"] == ["app-ro"]
    from ansible_collections.rollback.core.plugins.module_utils.incident_report import markdown

    text = markdown(report)
    assert "Old RDS app-pre-rollback-1: keep, STILL WRITABLE (the old instance still runs" in text
    assert "Endpoint app.c1.rds.amazonaws.com: resolves to the restored database." in text
    assert "Read replicas still on the old database: app-ro." in text


def test_failed_run():
    hosts, failure = failed_run()
    report = rollback_report(hosts, request(), {})
    assert report["outcome"] == "failed"
    assert report["failure"] == failure
    assert report["failure"]["task"] == "Undo the rollout"
    assert phases_of(report) == {
        "db1": [("database", "changed")],
        "api": [("traffic_stop", "changed"), ("config", "changed"), ("app", "changed"),
                ("traffic_resume", "not run"), ("verify", "not run")],
        "web": [("traffic_stop", "changed"), ("config", "changed"), ("app", "failed"),
                ("traffic_resume", "not run"), ("verify", "not run")],
    }
    web_app = report["hosts"][2]["phases"][2]
    assert web_app["msg"] == "rollout undo timed out"
    assert all(p["details"] == {} and p["msg"] is None for h in report["hosts"] for p in h["phases"]
               if p["status"] == "not run")
    assert report["changed"] == ["api: app", "api: config", "api: traffic_stop", "db1: database",
                                 "web: config", "web: traffic_stop"]
    assert [(v["service"], v["status"]) for v in report["versions"]] == [("api", "changed"), ("web", "failed")]
    assert report["verification"] == []
    summary = report["summary"]
    assert summary.startswith("Rollback FAILED: production level 3 (api, web). Reason: bad deploy. ")
    assert "api 1.4.0 -> 1.3.2." in summary and "web 2.1.0" not in summary
    assert ("Failed in app on web: rollout undo timed out. Changed before the failure: api: app, api: config, "
            "api: traffic_stop, db1: database, web: config, web: traffic_stop. TRAFFIC IS STILL STOPPED for api, "
            "web: resume it") in summary
    assert report["traffic_left_stopped"] == ["api", "web"]
    assert "because the database phase failed" not in summary
    assert "Took" not in summary
    assert summary.endswith(" Run 20251112T100000-abcd.")


def test_failure_in_check_mode_is_still_failed():
    hosts, _failure = failed_run()
    assert rollback_report(hosts, request(check_mode=True), {})["outcome"] == "failed"


def test_refused_run():
    hosts, failure = refused_run()
    report = rollback_report(hosts, request(), {"total_seconds": 3.4})
    assert report["outcome"] == "refused"
    assert report["failure"] == failure
    assert all(status == "not run" for phases in phases_of(report).values() for _phase, status in phases)
    assert report["changed"] == []
    assert report["versions"] == [] and report["databases_restored"] == [] and report["verification"] == []
    assert len(report["plan"]) == 11
    assert report["summary"].startswith("Rollback REFUSED: production level 3")
    assert "Failed in database on db1: no backup newer than 24 hours. Changed before the failure: nothing." in (
        report["summary"])
    assert "Took 3 s." in report["summary"] and "budget" not in report["summary"]


def test_planned_failure_is_reported_before_an_applied_one():
    hosts, planned = refused_run()
    applied = phase_record(dict(failed=True, msg="boom"), "app", "web", task="Undo the rollout")
    hosts[2][FAILURE] = applied
    report = rollback_report(hosts, request(), {})
    assert report["outcome"] == "refused" and report["failure"] == planned


def test_checked_run():
    report = rollback_report(successful_run(), request(check_mode=True), {})
    assert report["outcome"] == "checked"
    assert report["failure"] is None
    assert report["summary"].startswith("Rollback CHECKED: production level 3 (api, web). Reason: bad deploy.")
    assert "Failed in" not in report["summary"]


def test_hosts_without_records_show_every_phase_not_run_and_the_run_failed():
    hosts = [{"inventory_hostname": "db1"}, {"inventory_hostname": "api"}]
    report = rollback_report(hosts, request(level="3", services=["api"]), {})
    assert phases_of(report) == {"db1": [("database", "not run")],
                                 "api": [(phase, "not run") for phase in SERVICE_PHASES]}
    assert report["outcome"] == "failed", "a host that dropped out of the run is never a success"
    assert report["failure"]["host"] == "db1" and report["failure"]["phase"] == "database"
    assert report["failure"]["msg"].startswith("never ran: the host failed outside a phase or stopped answering")
    assert "no application changed" in report["summary"]
    assert rollback_report(hosts, request(level=3, check_mode=True), {})["outcome"] == "checked"


@pytest.mark.parametrize("level,phases", [(1, ["app", "verify"]), (2, ["config", "app", "verify"])])
def test_lower_levels_expect_fewer_phases_and_none_on_databases(level, phases):
    hosts = [host("db1", []), host("api", [phase_record(dict(changed=True), phase, "api") for phase in phases])]
    report = rollback_report(hosts, request(level=level), {})
    assert phases_of(report) == {"db1": [], "api": [(phase, "changed") for phase in phases]}
    assert "level %d" % level in report["summary"] and "Databases restored" not in report["summary"]


def test_cache_summary_keeps_counts_and_drops_connection_options():
    result = dict(changed=True, mode="flushdb", db=3, keys_before=12, keys_deleted=12, keys_after=0,
                  item=dict(name="sessions", host="cache.internal", password="secret"),
                  invocation=dict(module_args=dict(password="VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")))
    assert cache_summary(result) == dict(cache="sessions", mode="flushdb", db=3, keys_before=12, keys_deleted=12,
                                         keys_after=0, status="changed")
    assert cache_summary(dict(changed=False, item=dict(host="cache.internal")))["cache"] == "cache.internal"


def test_a_service_without_checks_is_not_verified_never_passed():
    records = dict(api=dict(changed=False, verified=True, passed=True, decision="MONITOR"),
                   web=dict(changed=False, verified=False, passed=None, decision="NOT VERIFIED: no checks"))
    hosts = [host(name, [phase_record(dict(changed=True), "app", name), phase_record(result, "verify", name)])
             for name, result in records.items()]
    report = rollback_report(hosts, request(level=1), {})
    assert report["outcome"] == "succeeded" and report["not_verified"] == ["web"]
    assert [(v["service"], v["verified"], v["passed"]) for v in report["verification"]] == [
        ("api", True, True), ("web", False, None)]
    assert report["summary"].endswith("NOT VERIFIED (no checks): web. Run 20251112T100000-abcd.")
    required = rollback_report(hosts, request(level=1, require_verification=True), {})
    assert required["outcome"] == "not verified"


def test_a_failed_database_phase_leaves_the_traffic_stopped_and_says_why():
    failure = phase_record(dict(failed=True, msg="pg_restore failed"), "database", "db1", task="Restore")
    stopped = [phase_record(dict(changed=True), "traffic_stop", name) for name in ("api", "web")]
    hosts = [host("db1", [failure], failure), host("api", stopped[:1]), host("web", stopped[1:])]
    report = rollback_report(hosts, request(), {})
    assert report["outcome"] == "failed" and report["traffic_left_stopped"] == ["api", "web"]
    assert report["traffic_notice"].startswith(
        "TRAFFIC IS STILL STOPPED for api, web because the database phase failed: resume it")
    assert report["traffic_notice"] in report["summary"]


def test_traffic_resumed_after_a_later_failure_is_not_left_stopped():
    failure = phase_record(dict(failed=True, msg="config save failed"), "config", "api", task="Restore")
    api = [phase_record(dict(changed=True), "traffic_stop", "api"), failure,
           phase_record(dict(changed=True), "traffic_resume", "api")]
    hosts = [host("db1", [phase_record(DATABASE_RESULT, "database", "db1")]), host("api", api, failure)]
    report = rollback_report(hosts, request(services=["api"]), {})
    assert report["outcome"] == "failed" and report["traffic_left_stopped"] == []
    assert report["traffic_notice"] == "" and "TRAFFIC" not in report["summary"]


def test_versions_take_the_platform_from_the_target_and_show_what_a_front_serves():
    switch = dict(changed=True, from_version="green", to_version="blue", served_version="1.0.0")
    hosts = [dict(host("front", [phase_record(switch, "app", "front")]), rollback_service_target="bluegreen")]
    report = rollback_report(hosts, request(level=1, services=["front"]), {})
    assert report["versions"] == [dict(service="front", platform="bluegreen", from_version="green",
                                       to_version="blue (1.0.0)", status="changed")]


# ---------------------------------------------------------------------------------------------- restore points


def test_planned_backups_are_the_planned_config_and_database_backups_once_each():
    records = [phase_record(dict(changed=True, backup_used="/b/db.dump"), "database", "db1", planned=True),
               phase_record(dict(changed=True, snapshot=dict(id="db-predeploy-1")), "database", "db1", planned=True),
               phase_record(dict(changed=True, results=[dict(backup_used="/b/app.env.backup-1"),
                                                        dict(backup_used="/b/app.env.backup-1")]),
                            "config", "api", planned=True),
               phase_record(dict(changed=True, backup_used="/b/applied.dump"), "database", "db1"),
               phase_record(dict(changed=True, backup_used="/b/other"), "app", "api", planned=True)]
    assert planned_backups(records) == ["/b/db.dump", "db-predeploy-1", "/b/app.env.backup-1"]


STALE = dict(backup="/b/db.dump", restore_point="db1-old", deploy_id="release-1", kind="postgres",
             taken="2025-11-10T10:00:00Z", age_seconds=2 * 86400 + 60, stale=True)


def test_the_report_names_the_restore_points_and_warns_of_a_stale_one():
    located = dict(changed=False, restore_points=[STALE], restore_point_warnings=["db1 will restore db1-old ..."])
    hosts = successful_run()
    hosts[0][RECORDS].insert(1, phase_record(located, "restore_points", "db1", planned=True))
    report = rollback_report(hosts, request(), {})
    assert report["restore_points"] == [dict(STALE, host="db1")]
    assert "WARNING: restored from a restore point older than the last deploy: db1 db1-old." in report["summary"]
    assert report["outcome"] == "succeeded", "a warning, never a refusal"
    assert rollback_report(successful_run(), request(), {})["restore_points"] == []


def test_restore_point_line():
    assert restore_point_line(STALE) == ("restore point db1-old: /b/db.dump (2d ago, deploy release-1) OLDER THAN "
                                         "THE LAST DEPLOY")
    assert restore_point_line(dict(backup="/b/x.dump", restore_point=None, age_seconds=None)) == (
        "/b/x.dump (age unknown; no restore point manifest names it)")
