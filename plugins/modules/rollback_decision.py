#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollback_decision
short_description: Decide ROLLBACK, EVALUATE or MONITOR from the runbooks' decision matrices
description:
  - Applies the decision matrices and triggers of the five runbooks as one ordered rule table and
    returns the action, its urgency, the recommended rollback level and every reason.
  - Signals come from the options, from a smoke check, or both (options win). The smoke check is a registered
    rollback.core.smoke_check result (O(smoke)), or this module runs it itself when given O(checks) or
    O(metrics) (the options of rollback.core.smoke_check; a failing check is a signal, not a failed task).
    Its Prometheus metrics named like the signals count as those signals.
  - 'Default thresholds and their sources (override any of them per environment with O(thresholds)):
    C(error_rate_rollback=5.0) % (runbooks 001, 002, 003, 004);
    C(error_rate_evaluate=1.0) % (004 "consideration 1-5%", 000 P1 "> 1% sustained");
    C(error_rate_monitor=0.1) % (000 success criteria, 004 "UI glitch");
    C(latency_rollback_ms=5000) together with an error rate above C(error_rate_evaluate) (000 "high error spike", 004);
    C(latency_evaluate_ms=2000) (004 "performance degradation > 2s", 000 "p95 < 2s");
    C(latency_ratio_rollback=2.0) (002 "p99 > 2x baseline");
    C(health_failures_rollback=3) (001, 003; 002 uses 2);
    C(smoke_failure_rate_evaluate=50) % (001 manual criteria);
    C(memory_percent_rollback=90) % (002, 003);
    C(oom_kills_rollback=3) pods (001 "OOMKilled > 3 pods in 5 minutes");
    C(latency_p95_rollback_ms) unset, so off (001 "p95 > 200ms for 10 minutes"; set it to 200 where runbook 001
    applies and the p95 is a sustained figure, such as a Prometheus alert''s value).'
  - 'Level: 3 for data corruption or a lost database (004), or a migration that ran and failed (001 tree);
    2 when configuration or secrets changed (001 risk table); otherwise 1 (001 tree).'
  - Decides only; changes nothing.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
options:
  smoke:
    description:
      - A registered rollback.core.smoke_check result. Not with O(checks) or O(metrics).
      - Gives C(error_rate_percent) (100 - success rate), C(smoke_failure_rate_percent), C(latency_p95_ms)
        (worst check), C(consecutive_health_failures) (worst check) and any metric named like a signal; so does
        the smoke check this module runs.
    type: dict
  error_rate_percent:
    description: Failed requests in percent (2.5 means 2.5%).
    type: float
  latency_p95_ms:
    description: p95 latency in milliseconds.
    type: float
  latency_p99_ms:
    description: p99 latency in milliseconds.
    type: float
  latency_ratio:
    description:
      - Current p99 latency divided by the baseline's (runbook 002).
      - Computed from O(latency_p99_ms) and O(baseline_p99_ms) when not given.
    type: float
  baseline_p99_ms:
    description: Baseline p99 latency, to compute O(latency_ratio) from O(latency_p99_ms).
    type: float
  consecutive_health_failures:
    description: Health checks failed in a row.
    type: int
  smoke_failure_rate_percent:
    description: Failed smoke tests in percent.
    type: float
  memory_percent:
    description: Memory use in percent.
    type: float
  oom_killed_pods:
    description: Pods of the service OOMKilled within the trigger's window (runbook 001).
    type: int
  data_corruption:
    description: Data corruption detected.
    type: bool
    default: false
  security_breach:
    description: Security breach or vulnerability exploited in production.
    type: bool
    default: false
  database_lost:
    description: Database connectivity lost.
    type: bool
    default: false
  complete_outage:
    description: The service is completely down.
    type: bool
    default: false
  critical_feature_down:
    description: A critical workflow (login, registration, core API) is broken.
    type: bool
    default: false
  all_providers_down:
    description: All upstream providers are failing (runbook 000).
    type: bool
    default: false
  migration_ran:
    description: The release being undone ran database migrations.
    type: bool
    default: false
  migration_failed:
    description: Those migrations failed.
    type: bool
    default: false
  config_changed:
    description: The release being undone changed configuration or secrets.
    type: bool
    default: false
  thresholds:
    description: Overrides of the default thresholds, by name (see the description).
    type: dict
    default: {}
  verify_service:
    description:
      - The rolled-back service the smoke check (O(smoke), or O(checks) and O(metrics)) checked. Also returns
        what the rollback keeps of its verification (RV(verified), RV(passed), RV(success_rate), RV(latency_ms),
        RV(failed_checks), RV(decision)), and fails when the service is not healthy (the smoke check failed, or
        the decision is not MONITOR) with runbook 000's escalation, those fields in the failed result.
      - 'No smoke check (a skipped O(smoke), or neither O(checks) nor O(metrics): the service has no checks)
        verifies nothing - RV(verified) false, RV(passed) null, RV(decision) C(NOT VERIFIED: no checks) - and does
        not fail.'
    type: str
extends_documentation_fragment:
  - rollback.core.smoke
attributes:
  check_mode:
    description: Decides the same way (the smoke checks only read).
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Decide from the smoke check of the new release
  rollback.core.rollback_decision:
    smoke: "{{ smoke }}"
    migration_ran: "{{ release_ran_migrations | default(false) }}"
    thresholds:
      error_rate_rollback: 1.0   # runbook 000's stricter P1 trigger
  register: decision

- name: Say what to run
  ansible.builtin.debug:
    msg: >-
      {{ decision.action }} ({{ decision.urgency }}): ansible-playbook rollback.core.rollback
      -e level={{ decision.level }} -e services={{ inventory_hostname }}
  when: decision.action == 'ROLLBACK'

- name: Smoke-check a rolled-back service and verify it (fails, escalating, when it is not healthy)
  rollback.core.rollback_decision:
    checks:
      - name: health
        url: https://shop.example.com/health
    rounds: 3
    consecutive_successes: 2
    max_failures: 1
    verify_service: "{{ inventory_hostname }}"
  register: verification
"""

RETURN = r"""
action:
  description: ROLLBACK, EVALUATE or MONITOR.
  returned: always
  type: str
urgency:
  description: immediate, high (< 2-5 min), medium (< 15 min), low (< 30 min) or none.
  returned: always
  type: str
level:
  description: Recommended rollback level (1 app, 2 app + config, 3 app + config + database).
  returned: always
  type: int
level_reason:
  description: Why that level.
  returned: always
  type: str
reasons:
  description: Every rule that matched, with its value, threshold and runbook source.
  returned: always
  type: list
  elements: str
rules:
  description: Names of the rules that matched.
  returned: always
  type: list
  elements: str
signals:
  description: The signals the decision used.
  returned: always
  type: dict
thresholds:
  description: The thresholds the decision used.
  returned: always
  type: dict
smoke:
  description: The smoke check's result (as rollback.core.smoke_check returns it) when O(checks) or O(metrics) ran.
  returned: when O(checks) or O(metrics) are given
  type: dict
verified:
  description: Whether a smoke check verified the service (false when it has no checks).
  returned: when O(verify_service) is set
  type: bool
passed:
  description: The smoke check passed and the decision is MONITOR; null when not verified.
  returned: when O(verify_service) is set
  type: bool
success_rate:
  description: The smoke check's success rate in percent, null when not verified.
  returned: when O(verify_service) is set
  type: float
latency_ms:
  description: The smoke check's latency percentiles (p50, p95, p99) in milliseconds, null when not verified.
  returned: when O(verify_service) is set
  type: dict
failed_checks:
  description: The checks that failed.
  returned: when O(verify_service) is set
  type: list
  elements: str
decision:
  description: 'The RV(action), or C(NOT VERIFIED: no checks).'
  returned: when O(verify_service) is set
  type: str
"""

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.decision import decide_from_params
from ansible_collections.rollback.core.plugins.module_utils.smoke import SMOKE_SPEC

FLOATS = ("error_rate_percent", "latency_p95_ms", "latency_p99_ms", "latency_ratio", "baseline_p99_ms",
          "smoke_failure_rate_percent", "memory_percent")
FLAGS = ("data_corruption", "security_breach", "database_lost", "complete_outage", "critical_feature_down",
         "all_providers_down", "migration_ran", "migration_failed", "config_changed")


def main():
    spec = dict(smoke=dict(type="dict"), consecutive_health_failures=dict(type="int"),
                oom_killed_pods=dict(type="int"), thresholds=dict(type="dict", default={}),
                verify_service=dict(type="str"))
    spec.update((name, dict(type="float")) for name in FLOATS)
    spec.update((name, dict(type="bool", default=False)) for name in FLAGS)
    module = RollbackModule(spec, shared_specs=[SMOKE_SPEC], supports_check_mode=True,
                            mutually_exclusive=[("smoke", "checks"), ("smoke", "metrics")])
    module.run(decide_from_params)


if __name__ == "__main__":
    main()
