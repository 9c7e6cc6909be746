# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus instant queries checked against a threshold (runbook error-rate and latency gates)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math

from ansible.module_utils.six.moves.urllib.parse import urlencode

from ansible_collections.rollback.core.plugins.module_utils.http_checks import request

METRIC_SPEC = dict(
    name=dict(type="str", required=True),
    url=dict(type="str", required=True),
    query=dict(type="str", required=True),
    max=dict(type="float"),
    min=dict(type="float"),
    no_data=dict(type="str", choices=["fail", "pass", "inconclusive"], default="fail"),
    headers=dict(type="dict", default={}, no_log=True),
)


def query_values(url, query, headers, timeout, validate_certs):
    """The values of an instant query; raises ValueError with the reason on any error.

    As Prometheus' HTTP API (web/api/v1) answers: errors are ``{"status": "error", "errorType", "error"}`` with
    400 (bad_data: a parse error), 422 (execution) or 503 (timeout); a success's ``data.resultType`` is vector,
    scalar, matrix (a range selector) or string, and sample values are strings that may be "NaN", "+Inf", "-Inf".
    """
    status, text, error = request(url.rstrip("/") + "/api/v1/query?" + urlencode({"query": query}), "GET", headers,
                                  None, timeout, validate_certs)
    if error:
        raise ValueError("request failed: %s" % error)
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError("status %s, body is not JSON" % status)
    if status != 200 or document.get("status") != "success":
        raise ValueError("status %s: %s" % (status, document.get("error", "query failed")))
    data = document.get("data", {})
    kind = data.get("resultType")
    if kind == "scalar":
        return [float(data["result"][1])]
    if kind == "vector":
        return [float(series["value"][1]) for series in data.get("result", [])]
    if kind == "matrix":
        raise ValueError("the query returns a range vector (matrix): gate on an instant vector, "
                         "e.g. rate(metric[5m]) instead of metric[5m]")
    raise ValueError("the query returns a %s, not a number" % kind)


def check_metric(metric, timeout, validate_certs):
    """One metric's report: value, verdict (pass/fail/inconclusive) and reason."""
    report = dict(name=metric["name"], query=metric["query"], value=None, verdict="pass", reason=None)
    try:
        values = query_values(metric["url"], metric["query"], metric["headers"], timeout, validate_certs)
    except ValueError as error:
        report.update(verdict="fail", reason=str(error))
        return report
    if not values:
        report.update(verdict=metric["no_data"], reason="query returned no data")
        return report
    # NaN is 0/0, e.g. an error ratio over a window without requests: it says nothing, like no data (and any
    # comparison with it is false, so it would otherwise pass every gate).
    values = [value for value in values if not math.isnan(value)]
    if not values:
        report.update(verdict=metric["no_data"], reason="query returned NaN only (0/0: nothing to measure)")
        return report
    # The worst series decides: the highest against a max, the lowest against a min.
    high, low = max(values), min(values)
    report["value"] = high if metric.get("max") is not None else low
    if metric.get("max") is not None and high > metric["max"]:
        report.update(verdict="fail", reason="%g > max %g" % (high, metric["max"]))
    elif metric.get("min") is not None and low < metric["min"]:
        report.update(value=low, verdict="fail", reason="%g < min %g" % (low, metric["min"]))
    return report
