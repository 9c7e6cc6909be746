# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PagerDuty Events API v2 alert events for a rollback's notifications (runbook 000 step 1.3: page on-call).

Per PagerDuty's Events API v2 (developer docs, "Send an Alert Event"): POST https://events.pagerduty.com/v2/enqueue
with ``routing_key`` (the 32-character integration key), ``event_action`` trigger / acknowledge / resolve and a
``dedup_key`` (<= 255 characters) correlating them; a trigger carries ``payload`` with ``summary`` (<= 1024
characters), ``source`` and ``severity`` (critical, error, warning, info), optionally timestamp, component, group,
class and custom_details. Acknowledge and resolve of an alert already resolved are dropped, and an acknowledged
alert notifies nobody on a new trigger: so a failure escalates as a new alert, not as a trigger on the run's own.

- start: trigger, dedup_key = the run id;
- end: resolve (or acknowledge, ``end_action``) that alert;
- failure: trigger on the run's alert with the failure, and a new alert ``<run id>-escalation`` (on
  ``escalation_routing_key`` when given: the incident commander's service) so someone is paged again;
- approval: trigger ``dedup_key`` (the approval request's), so the approver is paged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
TITLES = {"start": "Rollback started", "failure": "ROLLBACK FAILED - escalate",
          "approval": "Rollback needs approval", "end": "Rollback complete"}


def _text(value, limit):
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def pagerduty_events(event, options, context):
    """The Events API v2 requests (``url``, ``body``) one notification makes; [] when paging is off or not needed.

    ``options``: routing_key, url, severity, source, escalation_routing_key, end_action. ``context``: run_id (the
    dedup key; for approvals the request's key), text, environment, level, services, reason, operator, timestamp.
    """
    if not isinstance(options, Mapping) or not isinstance(context, Mapping):
        raise AnsibleFilterError("pagerduty_events needs the PagerDuty options and the notification context as dicts")
    routing_key = options.get("routing_key") or ""
    if not routing_key or event not in ("start", "end", "failure", "approval"):
        return []
    dedup_key = _text(context.get("run_id"), 255)
    if not dedup_key:
        raise AnsibleFilterError("a PagerDuty event needs the run id (its dedup_key)")
    severity = options.get("severity") or "critical"
    if severity not in SEVERITIES:
        raise AnsibleFilterError("PagerDuty severity %r is not one of %s" % (severity, ", ".join(SEVERITIES)))
    url = options.get("url") or EVENTS_URL
    if event == "end":
        action = options.get("end_action") or "resolve"
        if action not in ("resolve", "acknowledge"):
            raise AnsibleFilterError("PagerDuty end_action must be resolve or acknowledge, got %r" % action)
        return [dict(url=url, event_action=action, body=dict(routing_key=routing_key, event_action=action,
                                                             dedup_key=dedup_key))]
    requests = [dict(url=url, event_action="trigger", body=_trigger(routing_key, dedup_key, event, severity, options,
                                                                    context))]
    if event == "failure":
        escalation_key = options.get("escalation_routing_key") or routing_key
        requests.append(dict(url=url, event_action="trigger", body=_trigger(
            escalation_key, _text(context.get("run_id"), 244) + "-escalation", event, "critical", options, context)))
    return requests


def _trigger(routing_key, dedup_key, event, severity, options, context):
    services = context.get("services") or []
    if not isinstance(services, (list, tuple)):
        services = [services]
    details = dict((key, context.get(key)) for key in ("run_id", "environment", "level", "reason", "operator")
                   if context.get(key) not in (None, ""))
    details.update(event=event, services=list(services))
    payload = dict(
        summary=_text("%s: %s" % (TITLES[event], context.get("text") or context.get("reason") or ""), 1024),
        source=_text(options.get("source") or "rollback.core/%s" % (context.get("environment") or "unnamed"), 255),
        severity=severity if event != "failure" else "critical",
        component=_text(",".join(str(s) for s in services), 255) or None,
        group=context.get("environment") or None,
        custom_details=details,
    )
    payload["class"] = "rollback level %s" % context.get("level") if context.get("level") else "rollback"
    if context.get("timestamp"):
        payload["timestamp"] = context["timestamp"]
    return dict(routing_key=routing_key, event_action="trigger", dedup_key=dedup_key, client="rollback.core",
                payload=dict((key, value) for key, value in payload.items() if value is not None))


class FilterModule(object):
    def filters(self):
        return dict(pagerduty_events=pagerduty_events)
