"""Write (--write) or check the phase role's entry points in roles/phase/tasks: run_<phase>.yml and
plan_<phase>.yml for the rows of the phase table, and the generic run.yml and plan.yml.

run.yml and plan.yml include the phase's role by name (``include_role: "{{ phase_role }}"``), for a phase role
named by a variable: an include is a task run of its own per host and row (issue 22), and a role named by a
variable cannot be imported. The per-row entry points are the same text with the role of one row of
rollback.core.level_phases (plugins/filter/run.py PHASES) imported instead; the level role
(roles/level/tasks/rows.yml) includes them. One template writes both, so the generic pair runs what the rows run.
The table is the one source: tests/unit/test_phase_entry_points.py fails when the table and these files differ
until this is re-run.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = os.path.join(REPO, "roles", "phase", "tasks")
sys.path.insert(0, os.path.join(REPO, ".collections"))

# The run entry points' gate: rollback.core.phase_records knows a result registered while skipped by it.
from ansible_collections.rollback.core.plugins.filter.report import PHASE_GATE  # noqa: E402
from ansible_collections.rollback.core.plugins.filter.run import PHASES  # noqa: E402

HEADER = """---
# Written by scripts/phase_entry_points.py from the phase table (plugins/filter/run.py PHASES), row %(name)s:
# %(like)s, %(role)s (tasks_from: %(tasks_from)s) imported, not included: a task run per host fewer.
"""

IMPORT = """      ansible.builtin.import_role:
        name: %(role)s
        tasks_from: %(tasks_from)s
        rolespec_validate: false
"""

# The generic pair: the phase's role included by the name the including task gives (phase_role, phase_tasks_from).
INCLUDE = """      ansible.builtin.include_role:
        name: "{{ phase_role }}"
        tasks_from: "{{ phase_tasks_from }}"
        rolespec_validate: false
"""

RUN_HEADER = """---
# One phase on one host in the rollback: skipped once the run is halted; a failure is recorded, not raised,
# so every host stops remediating and the report still runs (runbook 000 "when rollback fails").
# Issue 22: every task here runs for every row of the level on every host (lockstep, roles/level/tasks/rows.yml),
# so the phase costs one task per host - run - and two for the batch (decide, record), and no argument
# validation: neither of this entry point (the rows come from the phase table) nor of the phase's role, whose
# options preflight checked (plan.yml). The verify phase is not planned: its module checks its own arguments.
# Written by scripts/phase_entry_points.py, with run_<phase>.yml (the same, with the row's role imported).
"""

PLAN_HEADER = """---
# One phase on one host, planned in check mode (the planning play, strategy free: each host at its own pace, only
# the rows it takes part in, rollback.core.level_rows). Two tasks per phase and host - run, record - besides the
# phase role's own: no decision, as nothing changes here; every host plans every phase it has, so the report
# names every refusal, not only the first. No argument validation of the phase's role (a task per host and
# phase, issue 22): preflight checked every host variable its options come from, once for the run's hosts
# (rollback.core.option_errors: the option dicts against the modules' specs, the other variables' types).
# Written by scripts/phase_entry_points.py, with plan_<phase>.yml (the same, with the row's role imported).
"""

RUN = """- name: Decide
  ansible.builtin.import_tasks: decide.yml

- name: Phase {{ phase_name }}
  when: %(gate)s
  block:
    - name: Run the phase - {{ phase_name }}
%(import)s  rescue:
    - name: Record the failure
      ansible.builtin.import_tasks: record_failure.yml

- name: Record the results
  ansible.builtin.import_tasks: record_batch.yml
"""

PLAN = """- name: Plan the phase - {{ phase_name }}
  block:
    - name: Run the phase - {{ phase_name }}
%(import)s
    - name: Record the result
      ansible.builtin.import_tasks: record.yml
  rescue:
    - name: Record the failure
      ansible.builtin.import_tasks: record_failure.yml
"""

# A row whose phase restores backups (the table's ``restores``): the plan then names the restore points the
# rollback will use. Imported: this file is itself included per row, and an include here is a task run per host.
RESTORE_POINTS = """
- name: Name the restore points the rollback will use - {{ phase_name }}
  ansible.builtin.import_role:
    name: rollback.core.preflight
    tasks_from: restore_points
    # Its options: the run context built and checked by preflight, and the role's defaults.
    rolespec_validate: false
  vars:
    preflight_run: "{{ level_run }}"
"""


def phase_rows():
    return PHASES


def entry_points(rows=None):
    """{file name: text}: run.yml and plan.yml, and for every row of the table run_<phase>.yml, and
    plan_<phase>.yml for a planned row."""
    files = {"run.yml": RUN_HEADER + RUN % {"import": INCLUDE, "gate": PHASE_GATE},
             "plan.yml": PLAN_HEADER + PLAN % {"import": INCLUDE}}
    for row in rows or phase_rows():
        values = dict(name=row["name"], role=row["role"], tasks_from=row["tasks_from"], like="run.yml")
        files["run_%s.yml" % row["name"]] = HEADER % values + RUN % {"import": IMPORT % values, "gate": PHASE_GATE}
        if row.get("planned"):
            values = dict(values, tasks_from=row.get("plan_tasks_from") or row["tasks_from"], like="plan.yml")
            files["plan_%s.yml" % row["name"]] = (HEADER % values + PLAN % {"import": IMPORT % values}
                                                  + (RESTORE_POINTS if row.get("restores") else ""))
    return files


def stale(files):
    """The entry points whose file is missing or differs, and the run_/plan_ files no row writes."""
    wrong = [name for name, text in files.items() if not os.path.exists(os.path.join(TASKS, name))
             or open(os.path.join(TASKS, name)).read() != text]
    extra = [name for name in os.listdir(TASKS) if name.startswith(("run_", "plan_")) and name not in files]
    return sorted(wrong + extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--write", action="store_true", help="write the files (default: check them)")
    args = parser.parse_args()
    files = entry_points()
    if args.write:
        for name in stale(files):
            path = os.path.join(TASKS, name)
            if name in files:
                with open(path, "w") as handle:
                    handle.write(files[name])
            else:
                os.remove(path)
        return 0
    wrong = stale(files)
    if wrong:
        print("phase entry points out of date (run scripts/phase_entry_points.py --write): " + ", ".join(wrong))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
