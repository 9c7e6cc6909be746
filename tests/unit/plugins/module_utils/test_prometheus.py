from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils import prometheus

METRIC = dict(name="m", url="http://prom", query="q", headers={}, max=None, min=None, no_data="fail")


@pytest.mark.parametrize("values,limits,verdict,value,reason", [
    ([0.05, 0.2], dict(max=0.1), "fail", 0.2, "0.2 > max 0.1"),
    ([0.05], dict(max=0.1), "pass", 0.05, None),
    ([99.5, 97.0], dict(min=99.0), "fail", 97.0, "97 < min 99"),
    ([99.5], dict(min=99.0, max=100.0), "pass", 99.5, None),
    ([], dict(max=1.0), "fail", None, "query returned no data"),
    ([float("nan")], dict(max=1.0), "fail", None, "query returned NaN only (0/0: nothing to measure)"),
    ([float("nan"), 0.5], dict(max=1.0), "pass", 0.5, None),
    ([float("inf")], dict(max=1.0), "fail", float("inf"), "inf > max 1"),
])
def test_worst_series_decides(monkeypatch, values, limits, verdict, value, reason):
    monkeypatch.setattr(prometheus, "query_values", lambda *args: values)
    report = prometheus.check_metric(dict(METRIC, **limits), 1.0, True)
    assert (report["verdict"], report["value"], report["reason"]) == (verdict, value, reason)
