# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke checks: HTTP probes in concurrent rounds, streaks, failure budgets, percentiles.

One round sends every check at once from a thread pool, so a round costs about
its slowest check. A check passes when its last ``consecutive_successes``
results succeeded and it failed no more than ``max_failures`` times; rounds stop
early once every check passes, or once any check has spent its budget.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import Request, make_context

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.progress import Record

CHECK_SPEC = dict(
    name=dict(type="str", required=True),
    url=dict(type="str", required=True),
    method=dict(type="str", default="GET"),
    headers=dict(type="dict", default={}, no_log=True),
    body=dict(type="raw"),
    status=dict(type="list", elements="int", default=[200]),
    json=dict(type="dict"),
    contains=dict(type="str"),
    max_latency_ms=dict(type="float"),
)

MISSING = object()


def percentile(samples, fraction):
    """Nearest-rank percentile; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[max(0, int(math.ceil(fraction * len(ordered))) - 1)], 2)


def latency_summary(samples):
    return {"p50": percentile(samples, 0.50), "p95": percentile(samples, 0.95), "p99": percentile(samples, 0.99)}


def json_path(document, path):
    """Value at a dotted path (``data.items.0.id``); MISSING when absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _request_takes_context():
    """ansible-core 2.17 added Request(context=...); 2.16's Request builds a TLS context for each request."""
    try:
        Request(context=None)
    except TypeError:
        return False
    return True


REQUEST_TAKES_CONTEXT = _request_takes_context()


_CONTEXTS = {}


def tls_context(validate_certs):
    """One TLS context per process (loading the system's CA certificates costs ~45 ms of CPU each time): a module
    run inside Ansible's worker finds it made already when the controller made it before forking (in_worker)."""
    key = bool(validate_certs)
    if key not in _CONTEXTS:
        _CONTEXTS[key] = make_context(validate_certs=validate_certs)
    return _CONTEXTS[key]


def _opener(context, validate_certs):
    if REQUEST_TAKES_CONTEXT:
        return Request(context=context or tls_context(validate_certs))
    return Request()


def request(url, method="GET", headers=None, body=None, timeout=5.0, validate_certs=True, context=None):
    """``(status, body text, error)`` of one HTTP request; HTTP errors are answers too."""
    data = None
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    elif body is not None:
        data = str(body).encode("utf-8")
    try:
        response = _opener(context, validate_certs).open(
            method, url, data=data, headers=headers, timeout=timeout, validate_certs=validate_certs,
            follow_redirects="safe")
        return response.getcode(), response.read().decode("utf-8", "replace"), None
    except HTTPError as error:
        return error.code, (error.read() or b"").decode("utf-8", "replace"), None
    except (URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return None, "", "%s" % reason


def evaluate(check, status, text, error, latency_ms):
    """The reason a response fails the check, or None when it passes."""
    if error:
        return "request failed: %s" % error
    if status not in check["status"]:
        return "status %s, expected %s" % (status, check["status"])
    if check.get("contains") and check["contains"] not in text:
        return "body does not contain %r" % check["contains"]
    if check.get("json"):
        try:
            document = json.loads(text)
        except ValueError:
            return "body is not JSON"
        for path, expected in check["json"].items():
            found = json_path(document, path)
            if found is MISSING:
                return "json %s missing" % path
            if found != expected:
                return "json %s is %s, expected %s" % (path, json.dumps(found), json.dumps(expected))
    if check.get("max_latency_ms") is not None and latency_ms > check["max_latency_ms"]:
        return "latency %.0fms > %.0fms" % (latency_ms, check["max_latency_ms"])
    return None


class CheckState:
    def __init__(self, check):
        self.check = check
        self.passes = 0
        self.failures = 0
        self.streak = 0
        self.consecutive_failures = 0
        self.max_consecutive_failures = 0
        self.latencies = []
        self.last_status = None
        self.last_error = None

    def record(self, status, reason, latency_ms):
        self.latencies.append(latency_ms)
        self.last_status = status
        if reason is None:
            self.passes += 1
            self.streak += 1
            self.consecutive_failures = 0
        else:
            self.failures += 1
            self.streak = 0
            self.consecutive_failures += 1
            self.max_consecutive_failures = max(self.max_consecutive_failures, self.consecutive_failures)
            self.last_error = reason

    def report(self, consecutive_successes, max_failures):
        passed = self.streak >= consecutive_successes and self.failures <= max_failures
        return dict(name=self.check["name"], url=self.check["url"], passed=passed, passes=self.passes,
                    failures=self.failures, streak=self.streak, consecutive_failures=self.consecutive_failures,
                    max_consecutive_failures=self.max_consecutive_failures, last_status=self.last_status,
                    last_error=self.last_error, latency_ms=latency_summary(self.latencies))


def probe(check, timeout, validate_certs, context):
    began = time.perf_counter()
    status, text, error = request(check["url"], check["method"], check["headers"], check.get("body"),
                                  timeout, validate_certs, context)
    latency_ms = (time.perf_counter() - began) * 1000.0
    return status, evaluate(check, status, text, error, latency_ms), latency_ms


def run_checks(checks, rounds, interval, consecutive_successes, max_failures, timeout, concurrency,
               validate_certs, sleeper=time.sleep):
    """Run the rounds; return ``(per-check reports, rounds run, every latency sample)``."""
    names = [check["name"] for check in checks]
    duplicates = sorted(set(name for name in names if names.count(name) > 1))
    if duplicates:
        raise RollbackError("check names must be unique; repeated: %s" % ", ".join(duplicates))
    states = [CheckState(check) for check in checks]
    context = tls_context(validate_certs)
    done_rounds = 0
    # The longest the rounds can take: what the progress line shows as the timeout.
    record = Record("smoke rounds of %d check(s)" % len(checks), round(rounds * (interval + timeout)))
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(checks)))) as pool:
            for number in range(rounds):
                if number:
                    sleeper(interval)
                results = list(pool.map(lambda check: probe(check, timeout, validate_certs, context), checks))
                for state, (status, reason, latency_ms) in zip(states, results):
                    state.record(status, reason, latency_ms)
                done_rounds += 1
                if all(state.streak >= consecutive_successes for state in states):
                    break
                if any(state.failures > max_failures for state in states):
                    break
                record.update("round %d/%d, %d of %d check(s) passing" % (
                    done_rounds, rounds, sum(1 for state in states if state.streak), len(states)))
    finally:
        record.close()
    reports = [state.report(consecutive_successes, max_failures) for state in states]
    return reports, done_rounds, [sample for state in states for sample in state.latencies]


def summarise(reports, metric_reports):
    """Overall figures and the one-line failure message (None when everything passed)."""
    requests = sum(report["passes"] + report["failures"] for report in reports)
    passes = sum(report["passes"] for report in reports)
    failing = ["%s: %s" % (report["name"], _why(report)) for report in reports if not report["passed"]]
    failing += ["metric %s: %s" % (metric["name"], metric["reason"]) for metric in metric_reports
                if metric["verdict"] == "fail"]
    return dict(
        success_rate=round(100.0 * passes / requests, 2) if requests else None,
        requests=requests,
        failed_checks=[report["name"] for report in reports if not report["passed"]],
        passed=not failing,
    ), ("smoke checks failed: " + "; ".join(failing)) if failing else None


def _why(report):
    if report["last_error"] and report["streak"] == 0:
        return "%d failure(s), last: %s" % (report["failures"], report["last_error"])
    return "%d failure(s) (budget exceeded or streak not reached, streak %d), last error: %s" % (
        report["failures"], report["streak"], report["last_error"])
