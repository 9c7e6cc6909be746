# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches SMOKE_SPEC in plugins/module_utils/smoke.py (rollback.core.smoke_check, rollback.core.rollback_decision).
    DOCUMENTATION = r"""
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
"""
