# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn phase results into the incident report (runbooks 000, 001 and 004 templates)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible_collections.rollback.core.plugins.module_utils.restore_points import age_text


# What a report keeps of a module result; everything else (invocation, diff, tracebacks) is dropped.
KEPT = (
    "msg", "service", "platform", "from_version", "to_version", "revision", "from_revision", "release_path",
    "services", "project", "replicas_before", "replicas_after", "maintenance_file", "units", "restored_db",
    "previous_db", "side_db", "emergency_backup", "format", "backup_used", "data_loss_window", "snapshot",
    "db_instance", "previous_db_instance_identifier", "added", "updated", "removed", "saved_to", "created",
    "unchanged", "restarted", "backup_used", "path", "source", "verified", "passed", "success_rate", "latency_ms",
    "failed_checks", "decision", "reasons", "switched", "holder", "duration", "caches_invalidated",
    "migrations_stamped", "served_version", "previous_db_cluster_identifier", "old_instance", "dns", "restore_time",
    "read_replicas_left", "carried_over", "not_carried", "sessions", "dropped_leftovers", "restore_points",
    "restore_point_warnings", "pitr",
)

RDS_CUTOVER = ("old_instance", "dns", "read_replicas_left")


def _kept(result):
    details = {}
    for key in KEPT:
        if key in result and result[key] not in (None, "", [], {}):
            details[key] = result[key]
    if isinstance(result.get("results"), list):
        details["results"] = [_kept(item) for item in result["results"] if isinstance(item, Mapping)]
    return details


def _status(result):
    if result.get("failed") or result.get("unreachable"):
        return "failed"
    if result.get("skipped"):
        return "skipped"
    return "changed" if result.get("changed") else "unchanged"


def phase_record(result, phase, host, planned=False, task=None):
    """One line of the report: what ``phase`` did on ``host``."""
    result = dict(result or {})
    record = dict(phase=phase, host=host, planned=bool(planned), status=_status(result), details=_kept(result))
    if record["status"] == "failed":
        record["msg"] = result.get("msg") or result.get("stderr") or "failed"
        record["task"] = task
    return record


# The condition that gates a phase on each host in the phase role's entry points (scripts/phase_entry_points.py
# writes it): their phase role is imported under it, so a host that does not take part has every task of it
# skipped, and a skipped task still registers its result (``skipped``, with the ``false_condition``).
PHASE_GATE = "_phase_go | bool"


def phase_records(hostvars, hosts, phase, result, planned=False):
    """The records of ``phase`` to add for ``hosts`` after the phase (one host, or a batch run once for all).

    A host took part when its ``result`` variable is set (rollback.core.phase's decide.yml empties it on every host
    of the batch before the phase) and was not skipped by the phase's gate (``PHASE_GATE``). A host whose last
    record is this phase's failure was recorded by the phase's rescue. A host that did not answer (the plays run
    with ``ignore_unreachable``) gets a failed record, also its ``failure``. Returns ``[{host, records, failure}]``:
    the host's records with this one added, its first failure.
    """
    rows = []
    for host in hosts or []:
        variables = hostvars[host]
        outcome = variables.get(result) or {}
        if not outcome or outcome.get("skipped") and outcome.get("false_condition") == PHASE_GATE:
            continue
        records = list(variables.get("_phase_records") or [])
        last = records[-1] if records else {}
        if (last.get("phase"), last.get("planned"), last.get("status")) == (phase, bool(planned), "failed"):
            continue
        task = None
        if outcome.get("unreachable"):
            outcome = dict(failed=True, msg="%s did not answer: %s" % (host, outcome.get("msg") or "unreachable"))
            task = "Fail the phase when the host did not answer - %s" % phase
        record = phase_record(outcome, phase, host, planned=planned, task=task)
        rows.append(dict(host=host, records=records + [record],
                         failure=variables.get("_phase_failure") or (record if task else None)))
    return rows


def _outcome(failure, check_mode, not_verified, require_verification):
    if failure:
        return "refused" if failure.get("planned") else "failed"
    if check_mode:
        return "checked"
    return "not verified" if not_verified and require_verification else "succeeded"


def _traffic_left_stopped(run, done):
    """Services whose traffic this run stopped and did not resume."""
    stopped = []
    for host in run.get("traffic") or []:
        phases = done.get(host, {})
        resumed = phases.get("traffic_resume", {}).get("status") in ("changed", "unchanged")
        if "traffic_stop" in phases and not resumed:
            stopped.append(host)
    return stopped


def rollback_report(hosts, request, timeline):
    """The report of a run from each host's records, the run context (with its phases) and the timeline."""
    records, failures, per_host, done, targets, plan = [], [], [], {}, {}, []
    for hostvars in hosts:
        host = hostvars.get("inventory_hostname")
        targets[host] = hostvars.get("rollback_service_target")
        mine = list(hostvars.get("_phase_records") or [])
        records.extend(mine)
        plan.extend(_in_table_order([r for r in mine if r["planned"]], request["phases"]))
        if hostvars.get("_phase_failure"):
            failures.append(hostvars.get("_phase_failure"))
        done[host] = dict((r["phase"], r) for r in mine if not r["planned"])
        phases = []
        for row in request["phases"]:
            if host not in (request.get(row["hosts"]) or []):
                continue
            record = done[host].get(row["name"])
            phases.append(dict(phase=row["name"], status=record["status"] if record else "not run",
                               details=record["details"] if record else {}, msg=(record or {}).get("msg")))
        per_host.append(dict(host=host, phases=phases))
    failures.sort(key=lambda f: (not f.get("planned"), f.get("phase") or ""))
    failure = failures[0] if failures else None
    if failure is None and not request.get("check_mode"):
        # Every phase records itself or its failure: a phase that never ran on a run that was never halted means
        # the host failed outside a phase (or Ansible dropped it) - never a success.
        lost = [(h["host"], p["phase"]) for h in per_host for p in h["phases"] if p["status"] == "not run"]
        if lost:
            failure = dict(phase=lost[0][1], host=lost[0][0], planned=False, status="failed", task=None,
                           details={}, msg="never ran: the host failed outside a phase or stopped answering (see "
                                           "the Ansible output); not run: %s" % ", ".join(
                                               "%s %s" % item for item in lost))
    applied = [r for r in records if not r["planned"]]
    verification = [dict(service=r["host"], status=r["status"], verified=r["details"].get("verified", True),
                         passed=r["details"].get("passed"), decision=r["details"].get("decision"),
                         success_rate=r["details"].get("success_rate"), latency_ms=r["details"].get("latency_ms"),
                         failed_checks=r["details"].get("failed_checks"))
                    for r in applied if r["phase"] == "verify"]
    not_verified = [v["service"] for v in verification if v["verified"] is False]
    left_stopped = _traffic_left_stopped(request, done)
    database_failed = bool(failure and failure.get("phase") == "database" and not failure.get("planned"))
    report = dict(
        request, run_id=request["id"],
        outcome=_outcome(failure, request.get("check_mode"), not_verified, request.get("require_verification")),
        failure=failure, hosts=per_host, not_verified=not_verified, traffic_left_stopped=left_stopped,
        changed=sorted("%s: %s" % (r["host"], r["phase"]) for r in applied if r["status"] == "changed"),
        versions=[dict(service=r["host"], platform=r["details"].get("platform") or targets.get(r["host"]),
                       from_version=r["details"].get("from_version"), to_version=_to_version(r["details"]),
                       status=r["status"]) for r in applied if r["phase"] == "app"],
        databases_restored=[_database(r) for r in applied if r["phase"] == "database"],
        verification=verification,
        plan=plan,
        restore_points=_restore_points(plan),
        timeline=dict(timeline or {}),
    )
    report["traffic_notice"] = ""
    if left_stopped:
        report["traffic_notice"] = (
            "TRAFFIC IS STILL STOPPED for %s%s: resume it (a re-run, or rollback.core.traffic state=started) only "
            "once the databases are checked. " % (
                ", ".join(left_stopped), " because the database phase failed" if database_failed else ""))
    report["summary"] = _summary(report)
    return report


def _in_table_order(planned, phases):
    """One host's plan in the phase table's order, its restore points after the row that restores the backups.
    The planning play includes on each host only its own rows, and Ansible merges equal includes of all hosts
    into one list in the order it first met them (ansible-core playbook/included_file.py,
    IncludedFile.process_include_results), so a host may plan its rows in another order (harmless in check mode);
    the report does not show that order."""
    order = dict((row["name"], index) for index, row in enumerate(phases))
    restores = set(row["name"] for row in phases if row.get("restores"))
    restoring = [order[r["phase"]] for r in planned if r["phase"] in restores]

    def rank(record):
        if record["phase"] == "restore_points" and restoring:
            return max(restoring) + 0.5
        return order.get(record["phase"], len(order))
    return sorted(planned, key=rank)


def _to_version(details):
    """What a service runs after the app phase; a blue/green front's colour with the version it serves."""
    version = details.get("to_version")
    served = details.get("served_version")
    return "%s (%s)" % (version, served) if version and served and served != version else version


def _database(record):
    details = record["details"]
    snapshot = details.get("snapshot") or {}
    return dict(host=record["host"], status=record["status"],
                backup_used=details.get("backup_used") or snapshot.get("id"),
                emergency_backup=details.get("emergency_backup"), restored_db=details.get("restored_db"),
                previous=details.get("previous_db") or details.get("previous_db_instance_identifier")
                or details.get("previous_db_cluster_identifier"),
                data_loss_window=details.get("data_loss_window"), caches_invalidated=details.get("caches_invalidated"),
                migrations_stamped=details.get("migrations_stamped"),
                # A point in time restore (postgres_restore pitr): the backup set, target and newest archived WAL.
                **(dict(pitr=details["pitr"]) if details.get("pitr") else {}),
                # RDS cutover (rds_snapshot_restore): only when the module says something of it.
                **dict((key, details[key]) for key in RDS_CUTOVER if details.get(key)))


def planned_backups(records):
    """The backups the planned config and database phases of one host would restore (files, snapshot ids)."""
    found = []
    for record in records or []:
        if not record.get("planned") or record.get("phase") not in ("config", "database"):
            continue
        details = record.get("details") or {}
        for entry in [details] + list(details.get("results") or []):
            backup = entry.get("backup_used") or (entry.get("snapshot") or {}).get("id")
            if backup and backup not in found:
                found.append(backup)
    return found


def restore_point_line(row):
    """``demo-db-20260101T..: /path/demo-20260101.dump (2h ago, deploy release-42)`` for the operator."""
    age = row.get("age_seconds")
    when = "%s ago" % age_text(age) if age is not None else "age unknown"
    if not row.get("restore_point"):
        return "%s (%s; no restore point manifest names it)" % (row["backup"], when)
    return "restore point %s: %s (%s, deploy %s)%s" % (row["restore_point"], row["backup"], when,
                                                       row.get("deploy_id"), " OLDER THAN THE LAST DEPLOY"
                                                       if row.get("stale") else "")


def _restore_points(plan):
    rows = []
    for record in plan:
        if record["phase"] == "restore_points":
            rows.extend(dict(row, host=record["host"]) for row in record["details"].get("restore_points") or [])
    return rows


def cache_summary(result):
    """What the report keeps of one rollback.core.cache_invalidate loop result (no connection options)."""
    item = result.get("item") or {}
    return dict(cache=item.get("name") or item.get("host"), mode=result.get("mode"), db=result.get("db"),
                keys_before=result.get("keys_before"), keys_deleted=result.get("keys_deleted"),
                keys_after=result.get("keys_after"), status=_status(result))


def _summary(report):
    versions = ", ".join("%s %s -> %s" % (v["service"], v.get("from_version") or "?", v.get("to_version") or "?")
                         for v in report["versions"] if v["status"] == "changed") or "no application changed"
    text = "Rollback %s: %s level %s (%s). Reason: %s. %s." % (
        report["outcome"].upper(), report["environment"], report["level"], ", ".join(report["services"]),
        report["reason"], versions)
    if report.get("blast_radius"):
        text += " Databases restored: %s; traffic stopped for %s." % (
            ", ".join(report["databases"]) or "none", ", ".join(report["traffic"]) or "none")
    stale = [r for r in report["restore_points"] if r.get("stale")]
    if stale:
        text += " WARNING: restored from a restore point older than the last deploy: %s." % ", ".join(
            "%s %s" % (r["host"], r.get("restore_point") or r["backup"]) for r in stale)
    if report["failure"]:
        text += " Failed in %s on %s: %s. Changed before the failure: %s. %sEscalate." % (
            report["failure"]["phase"], report["failure"]["host"], report["failure"].get("msg"),
            ", ".join(report["changed"]) or "nothing", report["traffic_notice"])
    if report["not_verified"]:
        text += " NOT VERIFIED (no checks): %s." % ", ".join(report["not_verified"])
    total = report["timeline"].get("total_seconds")
    if total is not None:
        text += " Took %.0f s" % total
        if report["timeline"].get("budget_seconds"):
            text += " of a %.0f s budget" % report["timeline"]["budget_seconds"]
        text += "."
    return text + " Run %s." % report["run_id"]


class FilterModule(object):
    def filters(self):
        return dict(phase_record=phase_record, phase_records=phase_records, rollback_report=rollback_report,
                    cache_summary=cache_summary, planned_backups=planned_backups, restore_point_line=restore_point_line)
