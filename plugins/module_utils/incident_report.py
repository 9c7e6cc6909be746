# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report as Markdown (runbooks 000, 001 and 004 templates) and its atomic write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write

LEVELS = {1: "application", 2: "application + configuration", 3: "application + configuration + database"}


def _cell(value, default="?"):
    if value in (None, "", [], {}):
        return default
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c, "") for c in row) + " |" for row in rows]
    return lines


def markdown(report):
    level = int(report.get("level") or 0)
    outcome = report.get("outcome", "unknown").upper()
    if report.get("check_mode"):
        outcome += " (check mode: nothing was changed)"
    out = ["# Rollback incident report - %s - %s" % (report.get("environment"), report.get("started")), ""]
    out += _table(["", ""], [
        ["Outcome", "**%s**" % outcome],
        ["Level", "%s (%s)" % (level, LEVELS.get(level, "?"))],
        ["Services", ", ".join(report.get("services") or [])],
        ["Databases", ", ".join(report.get("databases") or []) or "none (level < 3)"],
        ["Reason", report.get("reason")],
        ["Operator", report.get("operator")],
        ["Run", "%s (%s - %s)" % (report.get("run_id"), report.get("started"), report.get("finished"))],
    ])
    if level == 3:
        out += ["", "## Blast radius", "",
                "Traffic stopped while the databases were restored, for every service using one of them:", ""]
        out += _table(["service", "selected", "restored databases it uses"], [
            [b.get("service"), "yes" if b.get("selected") else "no (uses a restored database)",
             ", ".join(b.get("databases") or []) or "-"] for b in report.get("blast_radius") or []])
        if report.get("traffic_left_stopped"):
            out += ["", "**TRAFFIC IS STILL STOPPED for %s.**" % ", ".join(report["traffic_left_stopped"])]
    out += ["", "## Versions", ""]
    versions = [[v.get("service"), v.get("platform"), _cell(v.get("from_version")), _cell(v.get("to_version")),
                 v.get("status")] for v in report.get("versions") or []]
    out += _table(["service", "target", "from", "to", "status"],
                  versions or [["(the application phase did not run)", "", "", "", ""]])
    if level == 3:
        out += ["", "## Database (data loss)", ""]
        for d in report.get("databases_restored") or []:
            window = d.get("data_loss_window") or {}
            out.append("- **%s**: %s. Backup used: %s. Emergency backup of the replaced database: %s. Previous "
                       "database kept as: %s. Data-loss window: %s to %s." % (
                           d.get("host"), d.get("status"), _cell(d.get("backup_used")),
                           _cell(d.get("emergency_backup"), "none (the old one is kept)"),
                           _cell(d.get("previous"), "(not swapped)"), _cell(window.get("start")),
                           _cell(window.get("end"))))
            old = d.get("old_instance")
            if old:
                out.append("  - Old RDS %s: %s, %s (%s)." % (
                    old.get("id"), old.get("action"), "STILL WRITABLE" if old.get("writable") else "not writable",
                    old.get("note")))
            if d.get("dns"):
                out.append("  - Endpoint %s: %s." % (d["dns"].get("address"), "resolves to the restored database"
                                                     if d["dns"].get("verified") else "not verified"))
            if d.get("read_replicas_left"):
                out.append("  - Read replicas still on the old database: %s." % ", ".join(d["read_replicas_left"]))
            if d.get("migrations_stamped"):
                out.append("  - Alembic version table stamped: %s." % ", ".join(d["migrations_stamped"]))
            for cache in d.get("caches_invalidated") or []:
                out.append("  - Cache %s (%s, db %s): %s of %s keys deleted, %s." % (
                    cache.get("cache"), cache.get("mode"), _cell(cache.get("db")), _cell(cache.get("keys_deleted")),
                    _cell(cache.get("keys_before")), cache.get("status")))
        if not report.get("databases_restored"):
            out.append("- The database phase did not run.")
    timeline = report.get("timeline") or {}
    out += ["", "## Phases", ""]
    # "in modules": the phase's time waiting in the collection's modules; the rest of its duration is Ansible's.
    out += _table(["phase", "start", "duration", "in modules", "status", "tasks", "changed"], [
        [p["name"], "%+.1f s" % p["start"], "%.1f s" % p["duration"],
         "%.1f s" % p["module_seconds"] if isinstance(p.get("module_seconds"), (int, float)) else "-",
         p["status"], p["tasks"], p["changed"]]
        for p in timeline.get("phases") or []])
    if timeline.get("budget_seconds"):
        out += ["", "Total before the report: %.1f s of the level %s budget of %.0f s: **%s**." % (
            timeline["total_seconds"], level, timeline["budget_seconds"],
            "within budget" if timeline.get("within_budget") else "OVER BUDGET")]
    else:
        out += ["", "(No timeline: enable the rollback.core.timeline callback.)"]
    out += ["", "## What changed and what did not", ""]
    columns = []
    for host in report.get("hosts") or []:
        columns += [p["phase"] for p in host["phases"] if p["phase"] not in columns]
    out += _table(["host"] + columns, [
        [host["host"]] + [next((p["status"] for p in host["phases"] if p["phase"] == c), "-") for c in columns]
        for host in report.get("hosts") or []])
    failure = report.get("failure")
    if failure:
        planned = " while planning (nothing was changed)" if failure.get("planned") else ""
        out += ["", "## Failure - remediation stopped (runbook 000, when rollback fails)", "",
                "- Phase **%s** on **%s**%s: %s" % (
                    failure.get("phase"), failure.get("host"), planned, failure.get("msg")),
                "- Changed before the failure: %s" % (", ".join(report.get("changed") or []) or "nothing"),
                "- Traffic: %s" % (report.get("traffic_notice") or "nothing left stopped by this run"),
                "- Escalate: %s" % " -> ".join(report.get("escalation") or []),
                "- A re-run continues idempotently: phases already done report no change."]
    out += ["", "## Verification", ""]
    for v in report.get("verification") or []:
        detail = v.get("decision") or ""
        if v.get("success_rate") is not None:
            detail += ", success rate %s%%" % v["success_rate"]
        if v.get("failed_checks"):
            detail += ", failed: %s" % ", ".join(v["failed_checks"])
        verdict = "NOT VERIFIED" if v.get("verified") is False else "PASSED" if v.get("passed") else "FAILED"
        out.append("- %s: %s (%s)" % (v.get("service"), verdict, detail))
    if not report.get("verification"):
        out.append("- Verification did not run.")
    out += ["", "## Next steps", "", "- [ ] Root cause analysis", "- [ ] Fix and retest",
            "- [ ] Schedule re-deployment"]
    if level == 3:
        out += ["- [ ] Notify users affected by the data-loss window; review lost transactions",
                "- [ ] Remove the kept previous database once no longer needed"]
    return "\n".join(out) + "\n"


def _write(path, text, mode):
    """Write atomically; True when the content changed."""
    try:
        with open(path) as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    atomic_write(path, text, mode=mode, what="report")
    return True


def write(module):
    params = module.params
    directory = params["dest"]
    files = {"json": os.path.join(directory, "report.json"), "markdown": os.path.join(directory, "report.md")}
    texts = {"json": json.dumps(params["report"], indent=2, sort_keys=True) + "\n",
             "markdown": markdown(params["report"])}
    not_verified = params["report"].get("not_verified") or []
    if not_verified:
        module.warn("NOT VERIFIED: %s ha%s no checks (rollback_service_checks): the rollback is unconfirmed"
                    % (", ".join(not_verified), "s" if len(not_verified) == 1 else "ve"))
    if module.check_mode:
        return dict(changed=True, paths=files, markdown=texts["markdown"])
    try:
        os.makedirs(directory, mode=0o750, exist_ok=True)
        changed = [_write(files[f], texts[f], 0o640) for f in ("json", "markdown")]
    except OSError as error:
        raise RollbackError("cannot write the report to %s: %s" % (directory, error.strerror or error))
    return dict(changed=any(changed), paths=files, markdown=texts["markdown"])
