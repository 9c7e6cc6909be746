#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: smoke_check
short_description: Verify a service with concurrent HTTP checks, streaks, failure budgets and metric gates
description:
  - The verification step of every runbook (health endpoints, smoke tests, error-rate queries) in one task.
  - Each round sends all O(checks) at once from a thread pool, so a round costs about its slowest check.
  - A check passes when its last O(consecutive_successes) responses passed and it failed at most
    O(max_failures) times. Rounds stop as soon as every check passes, or as soon as one has spent its
    failure budget, or after O(rounds).
  - O(metrics) are Prometheus instant queries compared with a threshold, such as the runbooks' error rate < 0.1%
    or p95 < 2 s.
  - Reads only; never changes anything.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
options:
  fail_on_error:
    description: Fail the task when a check or metric fails. With V(false), report only (C(passed=false)).
    type: bool
    default: true
extends_documentation_fragment:
  - rollback.core.smoke
attributes:
  check_mode:
    description: Runs the same read-only checks.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Verify the rolled-back release (runbook 000 success criteria)
  rollback.core.smoke_check:
    checks:
      - name: health
        url: https://api.example.com/health
        json: {status: ok, version: "1.0.0"}
        max_latency_ms: 2000
      - name: login
        url: https://api.example.com/api/auth/login
        method: POST
        body: {user: smoke, password: "{{ smoke_password }}"}
        status: [200]
    rounds: 10
    interval: 3
    consecutive_successes: 3
    max_failures: 1
    metrics:
      - name: error_rate_percent
        url: http://prometheus:9090
        query: 100 * sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
        max: 0.1
  register: smoke
"""

RETURN = r"""
checks:
  description: One entry per check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Check name.
      type: str
    passed:
      description: Whether the check passed.
      type: bool
    passes:
      description: Passing responses.
      type: int
    failures:
      description: Failing responses.
      type: int
    consecutive_failures:
      description: Failures in a row at the end.
      type: int
    last_status:
      description: Last HTTP status; null when there was no response.
      type: int
    last_error:
      description: Why the last failure failed.
      type: str
    latency_ms:
      description: The p50, p95 and p99 latency in milliseconds.
      type: dict
metrics:
  description: One entry per metric with its C(value), C(verdict) (pass, fail, inconclusive) and C(reason).
  returned: always
  type: list
  elements: dict
success_rate:
  description: Percentage of all responses that passed.
  returned: always
  type: float
latency_ms:
  description: p50, p95 and p99 over all responses, in milliseconds.
  returned: always
  type: dict
rounds:
  description: Rounds run.
  returned: always
  type: int
passed:
  description: Every check and metric passed (inconclusive metrics do not fail).
  returned: always
  type: bool
failed_checks:
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.smoke import SMOKE_SPEC, verify


def main():
    module = RollbackModule(
        dict(SMOKE_SPEC, fail_on_error=dict(type="bool", default=True)),
        supports_check_mode=True,
    )
    module.run(verify)


if __name__ == "__main__":
    main()
