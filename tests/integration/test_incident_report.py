"""rollback.core.incident_report writes report.json and report.md, atomically, and nothing in check mode."""

import json
import os

import pytest

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

REPORT = dict(
    run_id="20261123T010203Z-000001", environment="production", level=3, reason="error rate 12%", operator="alice",
    services=["api"], databases=["api-db"], started="2026-11-23T01:02:03Z", finished="2026-11-23T01:04:03Z",
    check_mode=False, outcome="failed", escalation=["On-call engineer", "Incident commander"],
    versions=[dict(service="api", platform="kubernetes", from_version="api:1.4", to_version="api:1.3",
                   status="changed")],
    databases_restored=[dict(host="api-db", status="changed", backup_used="api-1.dump", emergency_backup="e.dump",
                             previous="api_pre_rollback_1",
                             data_loss_window=dict(start="01:00", end="01:03", seconds=180))],
    timeline=dict(budget_seconds=900.0, total_seconds=120.0, within_budget=True, phases=[
        dict(name="preflight", start=0.0, duration=3.0, status="ok", tasks=5, changed=0),
        dict(name="app", start=3.0, duration=2.0, status="failed", tasks=2, changed=1)]),
    hosts=[dict(host="api", phases=[dict(phase="app", status="failed"), dict(phase="verify", status="not run")]),
           dict(host="api-db", phases=[dict(phase="database", status="changed")])],
    failure=dict(phase="app", host="api", msg="rollout timed out", planned=False),
    changed=["api-db: database"], verification=[],
)


def test_writes_both_formats(ansible_module, tmp_path):
    dest = str(tmp_path / "reports" / "run-1")
    run = ansible_module("incident_report", dict(report=REPORT, dest=dest))
    assert run.result["changed"], run.stdout
    with open(os.path.join(dest, "report.json")) as handle:
        assert json.load(handle) == REPORT
    with open(os.path.join(dest, "report.md")) as handle:
        markdown = handle.read()
    assert "| Outcome | **FAILED** |" in markdown
    assert "| api | kubernetes | api:1.4 | api:1.3 | changed |" in markdown
    assert "Backup used: api-1.dump" in markdown and "Data-loss window: 01:00 to 01:03" in markdown
    assert "| api | failed | not run | - |" in markdown
    assert "Phase **app** on **api**: rollout timed out" in markdown
    assert "Escalate: On-call engineer -> Incident commander" in markdown
    assert oct(os.stat(os.path.join(dest, "report.md")).st_mode & 0o777) == "0o640"
    assert not ansible_module("incident_report", dict(report=REPORT, dest=dest)).result["changed"]


def test_check_mode_writes_nothing(ansible_module, tmp_path):
    dest = str(tmp_path / "run-1")
    run = ansible_module("incident_report", dict(report=REPORT, dest=dest), check=True)
    assert run.result["changed"] and "**FAILED**" in run.result["markdown"]
    assert not os.path.exists(dest)


def test_unwritable_destination_is_one_clear_error(ansible_module, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = ansible_module("incident_report", dict(report=REPORT, dest=str(blocker / "run-1")))
    assert run.failed and run.result["msg"].startswith("cannot write the report to")
