"""The phase role's entry points per row of the phase table (scripts/phase_entry_points.py): the files in
roles/phase/tasks are the ones the table writes, and the level includes them by the row's name."""

import os
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import phase_entry_points  # noqa: E402


def test_the_entry_points_are_the_ones_the_phase_table_writes():
    assert phase_entry_points.stale(phase_entry_points.entry_points()) == [], \
        "run scripts/phase_entry_points.py --write"


def _imports(tasks):
    for task in tasks:
        for key in ("block", "rescue"):
            yield from _imports(task.get(key, []))
        if "ansible.builtin.import_role" in task:
            yield task["ansible.builtin.import_role"]


def test_each_row_imports_its_role_run_and_planned():
    files = phase_entry_points.entry_points()
    for row in phase_entry_points.phase_rows():
        run = list(_imports(yaml.safe_load(files["run_%s.yml" % row["name"]])))
        assert run == [dict(name=row["role"], tasks_from=row["tasks_from"], rolespec_validate=False)]
        if not row.get("planned"):
            assert "plan_%s.yml" % row["name"] not in files, "verify is not planned"
            continue
        plan = list(_imports(yaml.safe_load(files["plan_%s.yml" % row["name"]])))
        assert plan[0] == dict(name=row["role"], tasks_from=row.get("plan_tasks_from") or row["tasks_from"],
                               rolespec_validate=False)
        # A phase that restores backups names the restore points its plan would use; the others do not.
        assert (plan[1:] == [dict(name="rollback.core.preflight", tasks_from="restore_points",
                                  rolespec_validate=False)]) == bool(row.get("restores")), row["name"]


def test_the_traffic_plan_has_its_own_entry_point_and_the_rollback_its_own():
    files = phase_entry_points.entry_points()
    # The traffic role's plan has no maintenance endpoint call: check mode skips ansible.builtin.uri.
    assert [list(_imports(yaml.safe_load(files[name])))[0]["tasks_from"] for name in (
        "plan_traffic_stop.yml", "plan_traffic_resume.yml", "run_traffic_stop.yml", "run_traffic_resume.yml")] == [
        "plan_stop", "plan_resume", "stop", "resume"]
    assert [list(_imports(yaml.safe_load(files[name])))[0]["tasks_from"] for name in (
        "plan_database.yml", "run_database.yml", "plan_config.yml", "plan_app.yml")] == ["main"] * 4


def test_a_run_entry_point_decides_runs_and_records_like_run_yml():
    generic = yaml.safe_load(open(os.path.join(REPO, "roles", "phase", "tasks", "run.yml")))
    written = yaml.safe_load(phase_entry_points.entry_points()["run_app.yml"])
    assert [task["name"] for task in written] == [task["name"] for task in generic]
    assert written[1]["when"] == generic[1]["when"] and written[1]["rescue"] == generic[1]["rescue"]
    # The gate rollback.core.phase_records reads in a result skipped by it (a host that did not take part).
    assert written[1]["when"] == phase_entry_points.PHASE_GATE


def test_the_level_includes_the_entry_point_of_each_row():
    rows = yaml.safe_load(open(os.path.join(REPO, "roles", "level", "tasks", "rows.yml")))[0]
    tasks_from = rows["ansible.builtin.include_role"]["tasks_from"]
    assert "'plan_'" in tasks_from and "'run_'" in tasks_from and "_level_phase.name" in tasks_from


def _role_step(tasks):
    """The tasks with the step that runs the phase's role (include by name, or import) taken out."""
    kept = []
    for task in tasks:
        task = dict(task)
        for key in ("block", "rescue"):
            if key in task:
                task[key] = _role_step(task[key])
        if "ansible.builtin.include_role" in task or "ansible.builtin.import_role" in task:
            continue
        kept.append(task)
    return kept


def test_the_generic_pair_runs_what_each_row_runs_with_the_role_named_by_a_variable():
    # run.yml and plan.yml (for a phase role named by a variable, e.g. tests/integration/test_phase_unreachable.py)
    # are the per-row entry points' text with the role included by name instead of imported.
    files = phase_entry_points.entry_points()
    pairs = (("run.yml", "run_app.yml"), ("plan.yml", "plan_app.yml"), ("plan.yml", "plan_traffic_stop.yml"))
    for generic, row in pairs:
        generic_tasks, row_tasks = yaml.safe_load(files[generic]), yaml.safe_load(files[row])
        assert _role_step(generic_tasks) == _role_step(row_tasks), (generic, row)
        included = generic_tasks[-1 if generic == "plan.yml" else 1]["block"][0]["ansible.builtin.include_role"]
        assert included == dict(name="{{ phase_role }}", tasks_from="{{ phase_tasks_from }}", rolespec_validate=False)
    # The generic files on disk are the ones written.
    assert "run.yml" not in phase_entry_points.stale(files) and "plan.yml" not in phase_entry_points.stale(files)
