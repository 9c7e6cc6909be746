# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Automatic rollback from an Alertmanager notification: the runbooks' approval gates and the guards.

Per service, the values of its firing trigger alerts feed rollback_decision's table (decision.decide, the one copy
of the runbooks' matrices) together with its deploy marker's flags. Then:

- ``run``: a pre-approved priority (P1: a runbook's automatic trigger), the table says ROLLBACK and its level is
  pre-approved (1 by default). Runbook 001: "execute immediate rollback if ANY of these conditions are met";
  runbook 000's gate: "error rate > 1% for 2+ minutes: rollback approved (automatic)".
- ``approval``: any other trigger (P2 escalation triggers, levels 2 and 3, a table that does not say ROLLBACK).
  Runbook 000: "manual approval required: incident lead, ops lead".
- ``notify``: a guard stopped it; the notice names every guard. Guards: the alert does not follow a deploy of the
  service within ``deploy_window`` (or the deploy is still running), the service was already rolled back
  automatically within ``throttle_window`` (runbook 000: no repeated attempts without assessment), another
  rollback holds the environment's lock, ``dry_run``. A declared freeze turns a ``run`` into an ``approval``.

What was started is recorded in ``state_dir`` (the throttle's memory, kept across rulebook restarts).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import time

from ansible_collections.rollback.core.plugins.module_utils import lock as lock_utils
from ansible_collections.rollback.core.plugins.module_utils.alertmanager import (iso, parse_time, read_notification,
                                                                                 truncated)
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.decision import (FLAG_NAMES, SIGNAL_NAMES,
                                                                             checked_thresholds, decide)
from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import Marker, MarkerError, read_marker
from ansible_collections.rollback.core.plugins.module_utils.etcd import ETCD_CONNECTION_SPEC

# The lock the rollback playbook takes (rollback.core.rollback_lock's backend options), read here, never taken.
LOCK_OPTIONS = dict(
    ETCD_CONNECTION_SPEC,
    backend=dict(type="str", choices=["file", "etcd"], default="file"),
    lock_dir=dict(type="path", default="/var/lock/rollback-core"),
    name=dict(type="str"),
    key_prefix=dict(type="str", default="/rollback-core/locks/", no_log=False),
)

SPEC = dict(
    notification=dict(type="dict", required=True),
    environment=dict(type="str", required=True),
    services=dict(type="list", elements="str", required=True),
    thresholds=dict(type="dict", default={}),
    pre_approved_levels=dict(type="list", elements="int", default=[1]),
    pre_approved_priorities=dict(type="list", elements="str", default=["P1"]),
    scope=dict(type="str", choices=["service", "deploy"], default="service"),
    marker_dir=dict(type="path", required=True),
    deploy_window=dict(type="int", default=1800),
    deploy_timeout=dict(type="int", default=3600),
    state_dir=dict(type="path", required=True),
    throttle_window=dict(type="int", default=3600),
    freeze_windows=dict(type="list", elements="dict", default=[], options=dict(
        start=dict(type="str", required=True), end=dict(type="str", required=True), reason=dict(type="str"))),
    freeze_file=dict(type="path"),
    lock=dict(type="dict", default={}, options=LOCK_OPTIONS),
    dry_run=dict(type="bool", default=False),
    inventory=dict(type="str"),
    playbook=dict(type="str", default="playbooks/rollback.yml"),
    require_confirmation=dict(type="bool", default=False),
)

HISTORY_KEEP = 7 * 24 * 3600


def _duration(seconds):
    seconds = int(seconds)
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return "%d %s" % (seconds // size, unit)
    return "%d s" % seconds


def validate(params):
    """Everything checked before anything is read or written; RollbackError names the first problem."""
    levels = params["pre_approved_levels"]
    if any(level not in (1, 2) for level in levels):
        raise RollbackError("pre_approved_levels may hold 1 and 2 only, got %s: level 3 restores a database and "
                            "loses the data written since its backup, so it always needs approval (runbook 000)"
                            % levels)
    for name in ("deploy_window", "deploy_timeout", "throttle_window"):
        if params[name] < 1:
            raise RollbackError("%s must be at least 1 second, got %d" % (name, params[name]))
    if not params["services"]:
        raise RollbackError("services is empty: give the inventory's services (group rollback_services)")
    windows = []
    for index, window in enumerate(params["freeze_windows"]):
        try:
            start, end = parse_time(window["start"]), parse_time(window["end"])
        except ValueError as error:
            raise RollbackError("freeze_windows[%d]: %s" % (index, error))
        if end <= start:
            raise RollbackError("freeze_windows[%d] ends (%s) before it starts (%s)"
                                % (index, window["end"], window["start"]))
        windows.append((start, end, window.get("reason") or "change freeze"))
    return checked_thresholds(params["thresholds"]), windows


def signals_of(alerts):
    """rollback_decision signals from the alerts' ``signal`` labels and values (the worst value of each)."""
    signals = {}
    for alert in alerts:
        if alert.signal in SIGNAL_NAMES and alert.value is not None:
            value = alert.value
            if alert.signal in ("consecutive_health_failures", "oom_killed_pods"):
                value = int(round(value))
            signals[alert.signal] = max(signals.get(alert.signal, value), value)
        elif alert.signal in FLAG_NAMES:
            signals[alert.signal] = True
    return signals


class History:
    """What the automatic rollback started, per environment: ``<state_dir>/<environment>.json``, under a flock."""

    def __init__(self, state_dir, environment):
        if "/" in environment or environment in ("", ".", ".."):
            raise RollbackError("environment %r cannot name a state file" % environment)
        self.path = os.path.join(state_dir, environment + ".json")
        self.entries = []
        self.notices = {}

    @contextlib.contextmanager
    def locked(self, write):
        """Read (and, when ``write``, hold the flock until the caller has saved)."""
        if not write:
            self.entries, self.notices = self._read()
            yield self
            return
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        with open(self.path + ".flock", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                self.entries, self.notices = self._read()
                yield self
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def _read(self):
        try:
            with open(self.path) as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return [], {}
        except (OSError, ValueError) as error:
            raise RollbackError("the automatic rollback history %s is unreadable (%s): move it aside after checking "
                                "what it says" % (self.path, error))
        return list(document.get("entries") or []), dict(document.get("notices") or {})

    def last(self, service, action, since):
        found = [entry for entry in self.entries if entry.get("service") == service and entry.get("action") == action
                 and entry.get("epoch", 0) >= since]
        return max(found, key=lambda entry: entry["epoch"]) if found else None

    def save(self, new_entries, now):
        self.entries = [entry for entry in self.entries if entry.get("epoch", 0) >= now - HISTORY_KEEP] + new_entries
        temporary = self.path + ".tmp"
        with open(temporary, "w") as handle:
            json.dump(dict(version=1, entries=self.entries, notices=self.notices), handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, self.path)


def lock_holder(params, environment, now):
    """Who holds the environment's rollback lock now (an expired file lock is nobody's)."""
    options = dict(params["lock"] or {})
    options.setdefault("name", None)
    options.update(name=options["name"] or environment, ttl=3600)
    for name, spec in LOCK_OPTIONS.items():
        options.setdefault(name, spec.get("default"))
    lock = lock_utils.backend(options)
    holder = lock.holder()
    if holder and lock.expired(holder, now):
        return None
    return holder


def freeze_reason(windows, freeze_file, now):
    for start, end, reason in windows:
        if start <= now < end:
            return "a freeze is declared from %s to %s (%s)" % (iso(start), iso(end), reason)
    if freeze_file and os.path.exists(freeze_file):
        try:
            with open(freeze_file) as handle:
                text = handle.read().strip().splitlines()
        except OSError:
            text = []
        return "a freeze is declared in %s%s" % (freeze_file, " (%s)" % text[0] if text else "")
    return None


class Assessment:
    """One notification assessed: per service a verdict (run, approval, notify) and the guards that apply."""

    def __init__(self, params, now):
        self.params = params
        self.now = now
        self.thresholds, self.freezes = validate(params)
        self.notification = params["notification"]
        self.alerts = read_notification(self.notification)
        self.known = set(params["services"])
        self.markers = {}
        self.notices = []
        self.candidates = {}

    def marker(self, service):
        if service not in self.markers:
            try:
                self.markers[service] = read_marker(self.params["marker_dir"], service)
            except MarkerError as error:
                self.markers[service] = error
        return self.markers[service]

    def notice(self, services, text):
        self.notices.append(dict(services=sorted(services), message=_plain(text)))

    # -- per service: the decision and the gate --------------------------------------------------------------

    def firing_by_service(self):
        grouped = {}
        for alert in self.alerts:
            if alert.status != "firing":
                continue
            if not alert.service:
                self.notice([], "alert %s has no service label: it cannot be tied to an inventory host"
                            % alert.describe())
            elif alert.service not in self.known:
                self.notice([alert.service], "alert %s names %s, which is not in the inventory's services (%s)"
                            % (alert.describe(), alert.service, ", ".join(sorted(self.known))))
            else:
                grouped.setdefault(alert.service, []).append(alert)
        if truncated(self.notification):
            self.notice([], "Alertmanager left %d alert(s) out of this notification (max_alerts): they were not "
                            "considered" % truncated(self.notification))
        return grouped

    def gate(self, service, alerts):
        marker = self.marker(service)
        signals = signals_of(alerts)
        if isinstance(marker, Marker):
            signals.update(marker.flags)
        decision = decide(signals, self.thresholds)
        why = []
        if not any(alert.priority in self.params["pre_approved_priorities"] for alert in alerts):
            why.append("its triggers are %s, not pre-approved (%s): escalation triggers need approval (runbook 000)"
                       % ("/".join(sorted(set(a.priority or "unprioritised" for a in alerts))),
                          "/".join(self.params["pre_approved_priorities"])))
        if decision["action"] != "ROLLBACK":
            why.append("the decision table says %s, not ROLLBACK" % decision["action"])
        if decision["level"] not in self.params["pre_approved_levels"]:
            why.append("level %d is not pre-approved (pre-approved: %s; %s)"
                       % (decision["level"], ", ".join(str(x) for x in self.params["pre_approved_levels"]) or "none",
                          decision["level_reason"]))
        return dict(service=service, verdict="approval" if why else "run", level=decision["level"],
                    approval_because=why, decision=dict((k, decision[k]) for k in (
                        "action", "urgency", "level", "level_reason", "reasons", "rules")),
                    signals=signals, alerts=alerts, with_service=None, guards=[])

    # -- scope deploy: the whole deploy goes back together -----------------------------------------------------

    def widen_to_deploys(self):
        for service in sorted(self.candidates):
            marker = self.marker(service)
            if not isinstance(marker, Marker):
                continue
            for other in marker.services:
                if other in self.candidates or other == service:
                    continue
                if other not in self.known:
                    self.notice([other], "%s was deployed with %s (deploy %s) but is not in the inventory's services"
                                % (other, service, marker.deploy_id))
                    continue
                mine = self.marker(other)
                if not isinstance(mine, Marker) or mine.deploy_id != marker.deploy_id:
                    self.notice([other], "%s was part of deploy %s but its marker now says %s: not rolled back with "
                                         "%s" % (other, marker.deploy_id, _marker_text(mine), service))
                    continue
                self.candidates[other] = dict(service=other, verdict=self.candidates[service]["verdict"],
                                              level=self.candidates[service]["level"], approval_because=[],
                                              decision=None, signals={}, alerts=[], with_service=service, guards=[])
        groups = {}
        for service, candidate in self.candidates.items():
            marker = self.marker(service)
            if isinstance(marker, Marker):
                groups.setdefault(marker.deploy_id, []).append(candidate)
        for deploy_id, members in groups.items():
            level = max(member["level"] for member in members)
            needs_approval = [m["service"] for m in members if m["verdict"] == "approval"]
            for member in members:
                member["level"] = level
                if needs_approval and member["verdict"] == "run":
                    member["verdict"] = "approval"
                    member["approval_because"].append(
                        "deploy %s is rolled back as a whole and %s needs approval"
                        % (deploy_id, ", ".join(sorted(needs_approval))))

    # -- guards --------------------------------------------------------------------------------------------------

    def deploy_guards(self, candidate):
        service, marker = candidate["service"], self.marker(candidate["service"])
        if marker is None:
            return ["no deploy of %s is recorded (no marker in %s): the alert does not follow a deploy"
                    % (service, self.params["marker_dir"])]
        if isinstance(marker, MarkerError):
            return ["the deploy marker of %s cannot be read (%s)" % (service, marker)]
        guards = []
        members = [m for m in (self.marker(name) for name in marker.services) if isinstance(m, Marker)
                   and m.deploy_id == marker.deploy_id] if self.params["scope"] == "deploy" else [marker]
        running = [m.service for m in members if m.status == "in_progress"
                   and self.now - m.started < self.params["deploy_timeout"]]
        if running:
            guards.append("deploy %s (version %s) is still running on %s since %s: no rollback while it runs"
                          % (marker.deploy_id, marker.document.get("version"), ", ".join(sorted(running)),
                             marker.document["started_at"]))
        if candidate["alerts"]:
            window = self.params["deploy_window"]
            following = [a for a in candidate["alerts"] if 0 <= a.starts_at - marker.started <= window]
            if not following:
                first = min(candidate["alerts"], key=lambda a: a.starts_at)
                if first.starts_at < marker.started:
                    guards.append("%s fired at %s, before deploy %s of %s started (%s): the deploy did not cause it"
                                  % (first.name, iso(first.starts_at), marker.deploy_id, service,
                                     marker.document["started_at"]))
                else:
                    guards.append("%s fired %s after deploy %s of %s started, outside the %s window: not "
                                  "deploy-related" % (first.name, _duration(first.starts_at - marker.started),
                                                      marker.deploy_id, service, _duration(window)))
        return guards

    def throttle_guards(self, candidate, history):
        since = self.now - self.params["throttle_window"]
        window = _duration(self.params["throttle_window"])
        earlier = history.last(candidate["service"], "run", since)
        if earlier:
            return ["%s was already rolled back automatically at %s (level %s, %s) within the %s window: a second "
                    "attempt needs a human (runbook 000: no repeated rollbacks without assessment) - escalate"
                    % (candidate["service"], earlier["at"], earlier.get("level"), earlier.get("reason", "")[:160],
                       window)]
        if candidate["verdict"] == "approval":
            asked = history.last(candidate["service"], "approval", since)
            if asked:
                return ["approval to roll back %s was already requested at %s (level %s) within the %s window"
                        % (candidate["service"], asked["at"], asked.get("level"), window)]
        return []

    def apply_guards(self, history):
        holder = lock_holder(self.params, self.params["environment"], self.now) if self.candidates else None
        freeze = freeze_reason(self.freezes, self.params["freeze_file"], self.now) if self.candidates else None
        for candidate in self.candidates.values():
            guards = self.deploy_guards(candidate) + self.throttle_guards(candidate, history)
            if holder:
                guards.append("another rollback holds the lock of %s: %s"
                              % (self.params["environment"], lock_utils.describe(holder)))
            if guards:
                candidate.update(stopped=candidate["verdict"], verdict="notify", guards=guards)
            elif candidate["verdict"] == "run" and freeze:
                candidate.update(verdict="approval", guards=[freeze + ": no automatic rollback, approval requested"])
                candidate["approval_because"].append(freeze)
            if self.params["dry_run"] and candidate["verdict"] in ("run", "approval"):
                would = ("roll back automatically at level %d" if candidate["verdict"] == "run"
                         else "request approval for level %d") % candidate["level"]
                candidate.update(stopped=candidate["verdict"], verdict="notify",
                                 guards=candidate["guards"] + ["dry run: would %s" % would])

    # -- the result ------------------------------------------------------------------------------------------------

    def assess(self, history):
        for service, alerts in sorted(self.firing_by_service().items()):
            self.candidates[service] = self.gate(service, alerts)
        if self.params["scope"] == "deploy":
            self.widen_to_deploys()
        self.apply_guards(history)
        return self.result()

    def members(self, verdict):
        return [c for name, c in sorted(self.candidates.items()) if c["verdict"] == verdict]

    def reason(self, members):
        alerts = [alert for member in members for alert in member["alerts"]]
        texts = [alert.describe() for alert in sorted(alerts, key=lambda a: (a.service, a.name))]
        text = "; ".join(texts[:4]) + ("; and %d more alert(s)" % (len(texts) - 4) if len(texts) > 4 else "")
        joined = sorted(m["service"] for m in members if m["with_service"])
        if joined:
            text += "; with %s (same deploy)" % ", ".join(joined)
        return _plain("Alertmanager: " + text)

    def command(self, level, services, reason):
        params = self.params
        parts = ["ansible-playbook", params["playbook"]]
        if params["inventory"]:
            parts += ["-i", params["inventory"]]
        parts += ["-e", "level=%d" % level, "-e", "services=" + ",".join(services), "-e", "reason=" + reason]
        if level == 3:
            parts += ["-e", "confirm_data_loss=true"]
        if params["require_confirmation"]:
            parts += ["-e", "confirm=true"]
        return " ".join(shlex.quote(part) for part in parts)

    def result(self):
        run, approval = None, None
        members = self.members("run")
        if members:
            services = [m["service"] for m in members]
            level = max(m["level"] for m in members)
            reason = self.reason(members)
            run = dict(level=level, services=services, reason=reason,
                       extra_vars=survey_vars(level, services, reason))
        members = self.members("approval")
        if members:
            services = [m["service"] for m in members]
            level = max(m["level"] for m in members)
            reason = self.reason(members)
            because = sorted(set(text for m in members for text in m["approval_because"]))
            decisions = ["%s: %s (%s), level %d: %s" % (
                m["service"], m["decision"]["action"], m["decision"]["urgency"], m["decision"]["level"],
                "; ".join(m["decision"]["reasons"])) for m in members if m["decision"]]
            command = self.command(level, services, reason)
            message = "Rollback of %s at level %d needs approval: %s. Decision: %s. To roll back: %s" % (
                ", ".join(services), level, "; ".join(because), " | ".join(decisions), command)
            approval = dict(level=level, services=services, reason=reason, because=because, decisions=decisions,
                            command=command, extra_vars=survey_vars(level, services, reason), message=message)
        for member in self.members("notify"):
            alerts = sorted(set(alert.name for alert in member["alerts"]))
            self.notice([member["service"]], "%s: no automatic %s%s: %s" % (
                member["service"], "rollback" if member["stopped"] == "run" else "approval request",
                " on " + ", ".join(alerts) if alerts else "", "; ".join(member["guards"])))
        verdict = "run" if run else "approval" if approval else "notify" if self.notices else "none"
        resolved = [alert.as_dict() for alert in self.alerts if alert.status == "resolved"]
        return dict(verdict=verdict, run=run, approval=approval, notices=self.notices,
                    notice_text=" | ".join(n["message"] for n in self.notices),
                    services=[_public(c) for _name, c in sorted(self.candidates.items())],
                    alerts=[alert.as_dict() for alert in self.alerts if alert.status == "firing"], resolved=resolved,
                    dry_run=self.params["dry_run"])

    def history_entries(self, result):
        entries = []
        for action, block in (("run", result["run"]), ("approval", result["approval"])):
            for service in (block or {}).get("services", []):
                marker = self.marker(service)
                entries.append(dict(service=service, action=action, at=iso(self.now), epoch=self.now,
                                    level=block["level"], reason=block["reason"],
                                    deploy_id=marker.deploy_id if isinstance(marker, Marker) else None,
                                    group_key=self.notification.get("groupKey")))
        return entries


def survey_vars(level, services, reason):
    """The launch variables of the production survey (awx/surveys): AWX checks that a multiplechoice value is one of
    its string choices and a multiselect a list (awx/main/models/mixins.py, _survey_element_validation). No databases:
    the run restores the selected services' own databases (their blast radius from the inventory)."""
    return dict(level=str(level), services=list(services), databases=[], reason=reason,
                confirm_data_loss="yes" if level == 3 else "no", confirm="yes")


def _plain(text):
    """Alert texts become extra vars of a playbook: never let them read as Jinja."""
    for opening in ("{{", "{%", "{#"):
        text = text.replace(opening, opening[0] + " " + opening[1])
    return text


def _marker_text(marker):
    if marker is None:
        return "no deploy"
    if isinstance(marker, MarkerError):
        return "unreadable (%s)" % marker
    return "deploy %s (%s)" % (marker.deploy_id, marker.status)


def _public(candidate):
    return dict(service=candidate["service"], verdict=candidate["verdict"], level=candidate["level"],
                stopped=candidate.get("stopped"), guards=candidate["guards"],
                approval_because=candidate["approval_because"], decision=candidate["decision"],
                signals=candidate["signals"], with_service=candidate["with_service"],
                alerts=[alert.as_dict() for alert in candidate["alerts"]])


def run(module, now=None):
    """The auto_rollback module's flow: validate, assess, record what is started (not in check mode)."""
    params = module.params
    now = time.time() if now is None else now
    assessment = Assessment(params, now)
    record = not module.check_mode and not params["dry_run"]
    history = History(params["state_dir"], params["environment"])
    with history.locked(write=record):
        result = assessment.assess(history)
        entries = assessment.history_entries(result)
        # Alertmanager repeats a group's notification while it fires: the same notices are said once per window.
        digest = hashlib.sha256(result["notice_text"].encode("utf-8")).hexdigest() if result["notices"] else None
        said = history.notices.get("digest") == digest and history.notices.get("epoch", 0) >= now - params[
            "throttle_window"]
        result["notices_repeated"] = bool(digest) and said
        if digest and not said:
            history.notices = dict(digest=digest, epoch=now, at=iso(now))
        if record and (entries or (digest and not said)):
            history.save(entries, now)
    result.update(changed=bool(entries) and record, history=history.path, recorded=entries if record else [])
    return result
