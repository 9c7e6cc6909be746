# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The smoke_check flow: validate options, run HTTP rounds and metric gates, summarise."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.http_checks import latency_summary, run_checks, summarise
from ansible_collections.rollback.core.plugins.module_utils.prometheus import check_metric


def verify(module):
    params = module.params
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
    result = dict(summary, checks=reports, metrics=metrics, rounds=rounds, latency_ms=latency_summary(samples))
    if failure and params["fail_on_error"]:
        raise RollbackError(failure, **result)
    return result
