"""incident_report: the Markdown an on-call engineer reads (levels, data-loss window, failure and escalation,
budget) and the write: atomic, private modes, changed only when the content changes, nothing in check mode, one
line when the directory cannot be written."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

from ansible_collections.rollback.core.plugins.module_utils import incident_report
from ansible_collections.rollback.core.plugins.modules import incident_report as incident_report_module

REPORT = dict(
    environment="production", started="2025-01-01T03:00:00Z", finished="2025-01-01T03:09:00Z", run_id="r-1",
    level=3, outcome="success", services=["api"], databases=["api-db"], reason="error rate 12% | rising\nfast",
    operator="alice", versions=[dict(service="api", platform="kubernetes", from_version="1.0.1",
                                     to_version="1.0.0", status="changed")],
    databases_restored=[dict(host="api-db", status="restored", backup_used="/dumps/api-0300.dump",
                             emergency_backup="/dumps/api-emergency.dump", previous="api_pre_rollback_1",
                             data_loss_window=dict(start="03:00", end="03:04"))],
    timeline=dict(phases=[dict(name="database", start=1.0, duration=120.5, module_seconds=117.25, status="ok",
                               tasks=3, changed=2),
                          dict(name="report", start=121.5, duration=0.5, status="ok", tasks=1, changed=0)],
                  budget_seconds=900, total_seconds=540.0, within_budget=True),
    hosts=[dict(host="api", phases=[dict(phase="app", status="changed")]),
           dict(host="api-db", phases=[dict(phase="database", status="changed")])],
    verification=[dict(service="api", passed=True, decision="MONITOR", success_rate=100.0)],
)


def test_level_3_report_names_the_backup_the_kept_database_and_the_data_loss_window():
    text = incident_report.markdown(REPORT)
    assert text.startswith("# Rollback incident report - production - 2025-01-01T03:00:00Z\n")
    assert "| Outcome | **SUCCESS** |" in text and "| Level | 3 (application + configuration + database) |" in text
    assert ("- **api-db**: restored. Backup used: /dumps/api-0300.dump. Emergency backup of the replaced database: "
            "/dumps/api-emergency.dump. Previous database kept as: api_pre_rollback_1. Data-loss window: 03:00 to "
            "03:04.") in text
    assert "| api | kubernetes | 1.0.1 | 1.0.0 | changed |" in text
    assert "| database | +1.0 s | 120.5 s | 117.2 s | ok | 3 | 2 |" in text
    assert "| report | +121.5 s | 0.5 s | - | ok | 1 | 0 |" in text  # a timeline of before 0.2.x
    assert "540.0 s of the level 3 budget of 900 s: **within budget**" in text
    assert "| api | changed | - |" in text and "| api-db | - | changed |" in text, "a phase a host never ran is -"
    assert "- api: PASSED (MONITOR, success rate 100.0%)" in text
    assert "- [ ] Notify users affected by the data-loss window; review lost transactions" in text


def test_table_cells_cannot_break_the_table():
    text = incident_report.markdown(REPORT)
    assert "| Reason | error rate 12% \\| rising fast |" in text


def test_a_failed_run_says_where_it_stopped_what_changed_and_whom_to_call():
    report = dict(REPORT, outcome="failed", changed=["api: traffic_stop"], escalation=["oncall", "db-lead"],
                  failure=dict(phase="database", host="api-db", msg="restore failed", planned=False),
                  timeline=dict(REPORT["timeline"], within_budget=False, total_seconds=950.0))
    text = incident_report.markdown(report)
    assert "## Failure - remediation stopped (runbook 000, when rollback fails)" in text
    assert "- Phase **database** on **api-db**: restore failed" in text
    assert "- Changed before the failure: api: traffic_stop" in text and "- Escalate: oncall -> db-lead" in text
    assert "**OVER BUDGET**" in text


def test_levels_below_3_have_no_database_section_and_a_check_run_says_nothing_changed():
    text = incident_report.markdown(dict(REPORT, level=1, databases=[], check_mode=True, timeline={},
                                         verification=[], versions=[]))
    assert "## Database" not in text and "| Databases | none (level < 3) |" in text
    assert "**SUCCESS (check mode: nothing was changed)**" in text
    assert "(No timeline: enable the rollback.core.timeline callback.)" in text
    assert "(the application phase did not run)" in text and "- Verification did not run." in text
    assert "Notify users affected" not in text


def test_write_is_private_and_changed_only_when_the_content_changes(run_module, tmp_path):
    dest = tmp_path / "reports" / "r-1"
    failed, result = run_module(incident_report_module.main, dict(report=REPORT, dest=str(dest)))
    assert not failed and result["changed"], result
    assert json.loads((dest / "report.json").read_text()) == REPORT
    assert (dest / "report.md").read_text() == result["markdown"] == incident_report.markdown(REPORT)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o750
    assert {stat.S_IMODE(os.stat(dest / name).st_mode) for name in ("report.json", "report.md")} == {0o640}
    failed, result = run_module(incident_report_module.main, dict(report=REPORT, dest=str(dest)))
    assert not failed and not result["changed"], "the same report again changes nothing"
    failed, result = run_module(incident_report_module.main, dict(report=dict(REPORT, outcome="failed"),
                                                                  dest=str(dest)))
    assert result["changed"] and "**FAILED**" in (dest / "report.md").read_text()
    assert sorted(os.listdir(dest)) == ["report.json", "report.md"], "no temporary file left behind"


def test_check_mode_writes_nothing(run_module, tmp_path):
    failed, result = run_module(incident_report_module.main, dict(report=REPORT, dest=str(tmp_path / "r")),
                                check_mode=True)
    assert not failed and result["changed"] and "# Rollback incident report" in result["markdown"]
    assert not (tmp_path / "r").exists()


def test_an_unwritable_destination_is_one_line(run_module, tmp_path):
    (tmp_path / "file").write_text("")
    failed, result = run_module(incident_report_module.main, dict(report=REPORT, dest=str(tmp_path / "file" / "r")))
    assert failed and result["msg"].startswith("cannot write the report to %s: " % (tmp_path / "file" / "r"))
