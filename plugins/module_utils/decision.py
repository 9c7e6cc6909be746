# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbooks' rollback decision matrices as one ordered rule table.

Each rule names the runbook rows it comes from (runbooks in ../shared/runbooks:
000 Squad API, 001 catalytic-saas, 002 compose, 003 blue/green, 004 platform).
The first rule of the strongest action decides the urgency; every matching
rule is reported as a reason. Thresholds are per environment: DEFAULT_THRESHOLDS
hold the runbooks' values and any of them can be overridden.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.smoke import smoke_check

DEFAULT_THRESHOLDS = dict(
    error_rate_rollback=5.0,  # % - 001 triggers, 002 criteria, 003 triggers, 004 "error rate >5%"
    error_rate_evaluate=1.0,  # % - 004 "consideration: error rate 1-5%"; 000 P1 ">1% sustained"
    error_rate_monitor=0.1,  # % - 000 success criteria "< 0.1%"; 004 matrix "UI glitch <0.1%"
    latency_rollback_ms=5000.0,  # 000 "high error spike >1% and >5s"; 004 "critical feature >5s"
    latency_evaluate_ms=2000.0,  # 004 "major feature / performance degradation >2s"; 000 success "p95 < 2s"
    latency_ratio_rollback=2.0,  # 002 "p99 latency > 2x baseline"
    health_failures_rollback=3,  # 001 "3 consecutive checks", 003 "3 consecutive failures" (002 uses 2)
    smoke_failure_rate_evaluate=50.0,  # % - 001 manual criteria "smoke test failure rate > 50%"
    memory_percent_rollback=90.0,  # 002 "memory usage > 90%", 003 "memory > 90% for 10 minutes"
    oom_kills_rollback=3,  # 001 automatic trigger "OOMKilled > 3 pods in 5 minutes"
    # 001 automatic trigger "p95 > 200ms for 10 minutes": off by default (004 only evaluates below 5 s); an
    # environment on runbook 001 sets it to 200 for sustained figures (its Prometheus alert's value).
    latency_p95_rollback_ms=None,
)

ACTIONS = ("MONITOR", "EVALUATE", "ROLLBACK")
URGENCIES = ("none", "low", "medium", "high", "immediate")

FLAG_RULES = (
    ("data_corruption", "data corruption detected (000 matrix, 001 triggers, 004 matrix)"),
    ("security_breach", "security breach (000 matrix, 001 triggers, 004 matrix)"),
    ("database_lost", "database connectivity lost (000 matrix and P1 triggers)"),
    ("complete_outage", "complete outage (004 matrix)"),
    ("critical_feature_down", "critical functionality broken (004 immediate rollback, 001 critical workflow)"),
)


def _above(value, threshold):
    return value is not None and threshold is not None and value > threshold


def _at_least(value, threshold):
    return value is not None and threshold is not None and value >= threshold


def decide(signals, thresholds=None):
    """``signals``: error_rate_percent, latency_p95_ms, latency_p99_ms, latency_ratio,
    consecutive_health_failures, smoke_failure_rate_percent, memory_percent, oom_killed_pods, the flags of
    FLAG_RULES plus all_providers_down, migration_ran, migration_failed, config_changed.
    Returns action, urgency, level, reasons, rules (names of the rules that matched)."""
    limits = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
    error = signals.get("error_rate_percent")
    latency = max([v for v in (signals.get("latency_p95_ms"), signals.get("latency_p99_ms")) if v is not None],
                  default=None)
    matched = []

    def rule(name, action, urgency, reason):
        matched.append(dict(rule=name, action=action, urgency=urgency, reason=reason))

    for flag, reason in FLAG_RULES:
        if signals.get(flag):
            rule(flag, "ROLLBACK", "immediate", reason)
    if signals.get("all_providers_down") and _above(error, limits["error_rate_evaluate"]):
        rule("all_providers_down", "ROLLBACK", "immediate",
             "all providers down with error rate %.2f%% > %g%% (000 matrix)" % (error, limits["error_rate_evaluate"]))
    if _above(error, limits["error_rate_rollback"]):
        rule("error_rate", "ROLLBACK", "immediate", "error rate %.2f%% > %g%% (001, 002, 003, 004)"
             % (error, limits["error_rate_rollback"]))
    failures = signals.get("consecutive_health_failures")
    if _at_least(failures, limits["health_failures_rollback"]):
        rule("health_checks", "ROLLBACK", "immediate", "%d consecutive health check failures >= %d (001, 003)"
             % (failures, limits["health_failures_rollback"]))
    if _at_least(signals.get("latency_ratio"), limits["latency_ratio_rollback"]):
        rule("latency_ratio", "ROLLBACK", "immediate", "p99 latency %.1fx baseline >= %gx (002)"
             % (signals["latency_ratio"], limits["latency_ratio_rollback"]))
    if _above(signals.get("oom_killed_pods"), limits["oom_kills_rollback"]):
        rule("oom_kills", "ROLLBACK", "immediate", "%d pods OOMKilled > %g (001 memory leak trigger)"
             % (signals["oom_killed_pods"], limits["oom_kills_rollback"]))
    if _above(signals.get("latency_p95_ms"), limits["latency_p95_rollback_ms"]):
        rule("latency_p95", "ROLLBACK", "immediate", "p95 latency %.0fms > %.0fms (001 response time trigger)"
             % (signals["latency_p95_ms"], limits["latency_p95_rollback_ms"]))
    if _above(signals.get("memory_percent"), limits["memory_percent_rollback"]):
        rule("memory", "ROLLBACK", "immediate", "memory %.0f%% > %g%% (002, 003)"
             % (signals["memory_percent"], limits["memory_percent_rollback"]))
    if _above(error, limits["error_rate_evaluate"]) and _above(latency, limits["latency_rollback_ms"]):
        rule("error_spike_with_latency", "ROLLBACK", "high", "error rate %.2f%% > %g%% with latency %.0fms > %.0fms "
             "(000 high error spike: rollback < 2 min)" % (error, limits["error_rate_evaluate"], latency,
                                                           limits["latency_rollback_ms"]))
    if _above(signals.get("smoke_failure_rate_percent"), limits["smoke_failure_rate_evaluate"]):
        rule("smoke_failures", "EVALUATE", "high", "smoke test failure rate %.0f%% > %g%% (001 manual criteria)"
             % (signals["smoke_failure_rate_percent"], limits["smoke_failure_rate_evaluate"]))
    if _above(error, limits["error_rate_evaluate"]):
        rule("elevated_error_rate", "EVALUATE", "medium", "error rate %.2f%% > %g%% (004 consideration, < 15 min)"
             % (error, limits["error_rate_evaluate"]))
    if _above(latency, limits["latency_evaluate_ms"]):
        rule("degraded_latency", "EVALUATE", "medium", "latency %.0fms > %.0fms (004 performance degradation, "
             "000 degraded latency)" % (latency, limits["latency_evaluate_ms"]))
    if _above(error, limits["error_rate_monitor"]):
        rule("minor_errors", "MONITOR", "low", "error rate %.2f%% > %g%% (004 minor feature: monitor < 30 min)"
             % (error, limits["error_rate_monitor"]))
    return _verdict(matched, signals)


def _verdict(matched, signals):
    if matched:
        strongest = max(ACTIONS.index(m["action"]) for m in matched)
        action = ACTIONS[strongest]
        urgency = max((m["urgency"] for m in matched if m["action"] == action), key=URGENCIES.index)
    else:
        action, urgency = "MONITOR", "none"
    level, level_reason = recommend_level(signals)
    reasons = [m["reason"] for m in matched] or ["no threshold crossed: keep monitoring"]
    return dict(action=action, urgency=urgency, level=level, level_reason=level_reason, reasons=reasons,
                rules=[m["rule"] for m in matched])


def recommend_level(signals):
    """Runbook 001's tree (migrations) and risk table (config), plus 004's database criteria."""
    if signals.get("database_lost") or signals.get("data_corruption"):
        return 3, "database restore needed: data corruption or database lost (004 'when to rollback database')"
    if signals.get("migration_ran") and signals.get("migration_failed"):
        return 3, "a migration ran and failed (001 decision tree: Level 3, app + database)"
    if signals.get("config_changed"):
        return 2, "configuration or secrets changed (001 risk assessment: Level 2)"
    if signals.get("migration_ran"):
        return 1, ("a migration ran and succeeded (001 decision tree: Level 1); if the previous release cannot "
                   "read the new schema, choose Level 3")
    return 1, "application only (001 decision tree: Level 1)"


def signals_from_smoke(smoke):
    """Signals measured by a smoke_check result (its metrics named like signals count too)."""
    signals = {}
    if smoke.get("success_rate") is not None:
        signals["error_rate_percent"] = round(100.0 - smoke["success_rate"], 4)
        signals["smoke_failure_rate_percent"] = signals["error_rate_percent"]
    checks = smoke.get("checks") or []
    p95 = [c["latency_ms"]["p95"] for c in checks if c.get("latency_ms", {}).get("p95") is not None]
    if p95:
        signals["latency_p95_ms"] = max(p95)
    if checks:
        signals["consecutive_health_failures"] = max(c.get("consecutive_failures", 0) for c in checks)
    for metric in smoke.get("metrics") or []:
        if metric.get("value") is not None and metric["name"] in SIGNAL_NAMES:
            signals[metric["name"]] = metric["value"]
    return signals


SIGNAL_NAMES = ("error_rate_percent", "latency_p95_ms", "latency_p99_ms", "latency_ratio",
                "consecutive_health_failures", "smoke_failure_rate_percent", "memory_percent", "oom_killed_pods")
FLAG_NAMES = tuple(flag for flag, _reason in FLAG_RULES) + ("all_providers_down", "migration_ran", "migration_failed",
                                                            "config_changed")


def checked_thresholds(overrides):
    """DEFAULT_THRESHOLDS with ``overrides`` applied; an unknown name or a non-number is a RollbackError."""
    unknown = sorted(set(overrides or {}) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise RollbackError("unknown threshold(s) %s; known: %s" % (", ".join(unknown),
                                                                    ", ".join(sorted(DEFAULT_THRESHOLDS))))
    thresholds = dict(DEFAULT_THRESHOLDS)
    for name, value in (overrides or {}).items():
        try:
            thresholds[name] = float(value)
        except (TypeError, ValueError):
            raise RollbackError("threshold %s must be a number, got %r" % (name, value))
    return thresholds


NOT_VERIFIED = "NOT VERIFIED: no checks"


def verification(service, smoke, decision):
    """What the verify role keeps of a rolled-back service, from its smoke check and the decision on it; a service
    that is not healthy is a RollbackError carrying the same fields (runbook 000: stop and escalate).
    No smoke check (a skipped one: the service has no checks) verifies nothing: never "passed"."""
    if not smoke or smoke.get("skipped"):
        return dict(verified=False, passed=None, success_rate=None, latency_ms=None, failed_checks=[],
                    decision=NOT_VERIFIED, reasons=[])
    kept = dict(verified=True, passed=bool(smoke.get("passed")) and decision["action"] == "MONITOR",
                success_rate=smoke.get("success_rate"), latency_ms=smoke.get("latency_ms"),
                failed_checks=list(smoke.get("failed_checks") or []), decision=decision["action"],
                reasons=list(decision["reasons"]))
    if not kept["passed"]:
        raise RollbackError(
            "%s is not healthy after the rollback (%s: %s). Runbook 000 - stop remediating and escalate to the "
            "incident commander." % (service, kept["decision"], "; ".join(kept["reasons"] + kept["failed_checks"])),
            **dict(decision, **kept))
    return kept


def decide_from_params(module):
    """The rollback_decision module's flow: gather signals, check thresholds, decide (and, for a rolled-back
    service, verify)."""
    params = module.params
    thresholds = checked_thresholds(params["thresholds"])
    ran_smoke = bool(params["checks"] or params["metrics"])
    # A smoke check run here: a failed check is a signal, not a failed task.
    smoke = smoke_check(params)[0] if ran_smoke else params["smoke"]
    signals = signals_from_smoke(smoke) if smoke else {}
    for name in SIGNAL_NAMES + ("baseline_p99_ms",) + FLAG_NAMES:
        if params.get(name) not in (None, False):
            signals[name] = params[name]
    if signals.get("latency_ratio") is None and signals.get("baseline_p99_ms") and signals.get("latency_p99_ms"):
        signals["latency_ratio"] = round(signals["latency_p99_ms"] / signals["baseline_p99_ms"], 3)
    result = decide(signals, thresholds)
    result.update(signals=signals, thresholds=thresholds)
    if ran_smoke:
        result["smoke"] = smoke
    if params.get("verify_service"):
        result.update(verification(params["verify_service"], smoke, result))
    return result
