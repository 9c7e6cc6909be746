# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smoke check: validate options, run HTTP rounds and metric gates, summarise.

rollback.core.smoke_check runs it alone; rollback.core.rollback_decision runs it before deciding when it is given
checks or metrics (the verify role's one task per service).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.http_checks import (
    CHECK_SPEC, latency_summary, run_checks, summarise)
from ansible_collections.rollback.core.plugins.module_utils.prometheus import METRIC_SPEC, check_metric

# Documented by plugins/doc_fragments/smoke.py.
SMOKE_SPEC = dict(
    checks=dict(type="list", elements="dict", default=[], options=CHECK_SPEC),
    metrics=dict(type="list", elements="dict", default=[], options=METRIC_SPEC),
    rounds=dict(type="int", default=1),
    interval=dict(type="float", default=1.0),
    consecutive_successes=dict(type="int", default=1),
    max_failures=dict(type="int", default=0),
    timeout=dict(type="float", default=5.0),
    concurrency=dict(type="int", default=64),
    validate_certs=dict(type="bool", default=True),
)


def verify(module):
    """The smoke_check module's flow: a failed check or metric fails the task unless fail_on_error is false."""
    result, failure = smoke_check(module.params)
    if failure and module.params["fail_on_error"]:
        raise RollbackError(failure, **result)
    return result


def smoke_check(params):
    """``(result, failure)``: the checks' and metrics' reports and summary, and why they failed (None: passed)."""
    if not params["checks"] and not params["metrics"]:
        raise RollbackError("nothing to verify: give checks and/or metrics")
    for name in ("rounds", "concurrency", "consecutive_successes"):
        if params[name] < 1:
            raise RollbackError("%s must be at least 1, got %d" % (name, params[name]))
    if params["consecutive_successes"] > params["rounds"]:
        raise RollbackError("consecutive_successes (%d) cannot exceed rounds (%d)"
                            % (params["consecutive_successes"], params["rounds"]))
    reports, rounds, samples = [], 0, []
    if params["checks"]:
        reports, rounds, samples = run_checks(
            params["checks"], params["rounds"], params["interval"], params["consecutive_successes"],
            params["max_failures"], params["timeout"], params["concurrency"], params["validate_certs"])
    metrics = [check_metric(metric, params["timeout"], params["validate_certs"]) for metric in params["metrics"]]
    summary, failure = summarise(reports, metrics)
    return dict(summary, checks=reports, metrics=metrics, rounds=rounds, latency_ms=latency_summary(samples)), failure
