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
  checks:
    description:
      - HTTP checks. Each response must meet every condition given.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check, unique; used in results and messages.
        type: str
        required: true
      url:
        description: URL to request.
        type: str
        required: true
      method:
        description: HTTP method.
        type: str
        default: GET
      headers:
        description: Request headers, for example an C(Authorization) token. Never logged.
        type: dict
        default: {}
      body:
        description: Request body; a dict or list is sent as JSON.
        type: raw
      status:
        description: Accepted status codes.
        type: list
        elements: int
        default: [200]
      json:
        description:
          - Expected values in a JSON body, by dotted path (C(status), C(data.items.0.id)); list items by index.
        type: dict
      contains:
        description: Text the body must contain.
        type: str
      max_latency_ms:
        description: Slowest acceptable response, in milliseconds.
        type: float
  metrics:
    description:
      - Prometheus instant queries (C(/api/v1/query)) gated by O(metrics[].max) and/or O(metrics[].min).
      - With several series the worst one decides.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of the metric in results. Name it like a rollback_decision signal (C(error_rate_percent),
            C(latency_p95_ms), ...) to feed rollback.core.rollback_decision directly.
        type: str
        required: true
      url:
        description: Base URL of the Prometheus server.
        type: str
        required: true
      query:
        description: PromQL expression.
        type: str
        required: true
      max:
        description: Fail when a value is above this.
        type: float
      min:
        description: Fail when a value is below this.
        type: float
      no_data:
        description: Verdict when the query returns no series.
        type: str
        choices: [fail, pass, inconclusive]
        default: fail
      headers:
        description: Request headers (authentication). Never logged.
        type: dict
        default: {}
  rounds:
    description: Most rounds to run.
    type: int
    default: 1
  interval:
    description: Seconds between rounds.
    type: float
    default: 1.0
  consecutive_successes:
    description: Passing responses in a row each check needs at the end.
    type: int
    default: 1
  max_failures:
    description: Failed responses each check may have before it fails.
    type: int
    default: 0
  timeout:
    description: Seconds for each request.
    type: float
    default: 5.0
  concurrency:
    description:
      - Most requests in flight at once (threads).
      - A round of up to this many checks costs about its slowest check.
    type: int
    default: 64
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  fail_on_error:
    description: Fail the task when a check or metric fails. With V(false), report only (C(passed=false)).
    type: bool
    default: true
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
from ansible_collections.rollback.core.plugins.module_utils.http_checks import CHECK_SPEC
from ansible_collections.rollback.core.plugins.module_utils.prometheus import METRIC_SPEC
from ansible_collections.rollback.core.plugins.module_utils.smoke import verify


def main():
    module = RollbackModule(
        dict(
            checks=dict(type="list", elements="dict", default=[], options=CHECK_SPEC),
            metrics=dict(type="list", elements="dict", default=[], options=METRIC_SPEC),
            rounds=dict(type="int", default=1),
            interval=dict(type="float", default=1.0),
            consecutive_successes=dict(type="int", default=1),
            max_failures=dict(type="int", default=0),
            timeout=dict(type="float", default=5.0),
            concurrency=dict(type="int", default=64),
            validate_certs=dict(type="bool", default=True),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    module.run(verify)


if __name__ == "__main__":
    main()
