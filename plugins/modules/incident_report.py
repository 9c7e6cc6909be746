#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: incident_report
short_description: Write a rollback's incident report as JSON and Markdown
description:
  - Writes C(report.json) and C(report.md) into O(dest), each atomically (a temporary file renamed), mode 0640.
  - The Markdown follows the runbooks' templates - outcome, level, reason, operator, versions from and to, the
    database backup used and the data-loss window (level 3), each phase against the level's budget, what
    changed and what did not per host, the failure and escalation, verification, next steps.
  - O(report) is what the C(rollback.core.rollback_report) filter builds; the rollback.core.report role calls both.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
options:
  report:
    description:
      - The report. Keys used - run_id, environment, level, reason, operator, services, databases, started,
        finished, check_mode, outcome, versions, databases_restored, timeline, hosts, failure, changed,
        escalation, verification.
    type: dict
    required: true
  dest:
    description:
      - Directory of the two files, created (mode 0750) if missing.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    description: Renders the Markdown and returns it; writes nothing.
"""

EXAMPLES = r"""
- name: Write the report
  rollback.core.incident_report:
    report: >-
      {{ rollback_run.hosts | map('extract', hostvars) | list
      | rollback.core.rollback_report(rollback_run, timeline) }}
    dest: /var/log/rollback-core/{{ rollback_run.id }}
"""

RETURN = r"""
paths:
  description: The files, by format (json, markdown).
  returned: always
  type: dict
markdown:
  description: The Markdown report.
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import incident_report
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule


def main():
    module = RollbackModule(
        dict(report=dict(type="dict", required=True), dest=dict(type="path", required=True)),
        supports_check_mode=True,
    )
    module.run(incident_report.write)


if __name__ == "__main__":
    main()
