"""Write (--write) or check the phase role's entry points for the rows of the phase table: run_<phase>.yml and
plan_<phase>.yml in roles/phase/tasks.

run.yml and plan.yml include the phase's role by name (``include_role: "{{ phase_role }}"``): an include is a
task run of its own per host and row (issue 22), and a role named by a variable cannot be imported. These entry
points are run.yml and plan.yml with the role of one row of rollback.core.level_phases (plugins/filter/run.py
PHASES) imported instead; the level role (roles/level/tasks/rows.yml) includes them. A row's table entry is the
one source: tests/unit/test_phase_entry_points.py fails when the table and these files differ until this is
re-run.
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
    """{file name: text} for every row of the table: run_<phase>.yml, and plan_<phase>.yml for a planned row."""
    files = {}
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
