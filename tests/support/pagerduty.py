"""A local stand-in for PagerDuty's Events API v2 (POST /v2/enqueue) that checks every event against its schema.

Written from PagerDuty's developer docs (PagerDuty/developer-docs, docs/events-API-v2/01-Overview.md and
02-Trigger-Events.md):
- ``routing_key``: required, the 32-character integration key; ``event_action``: required, trigger, acknowledge
  or resolve; ``dedup_key``: at most 255 characters (acknowledge and resolve name the alert by it);
- a trigger's ``payload``: required ``summary`` (at most 1024 characters), ``source``, ``severity`` (critical,
  error, warning, info); optional ``timestamp`` (ISO 8601), ``component``, ``group``, ``class`` (strings) and
  ``custom_details`` (an object); ``links`` need ``href``, ``images`` need ``src``; at most 512 KB;
- 202 {"status": "success", "message": "Event processed", "dedup_key"}; a bad event 400 {"status": "invalid
  event", "message": "Event object is invalid", "errors": [...]};
- alert state per (routing key, dedup key): a trigger opens an alert (a page) or adds to the open one; an
  acknowledged alert notifies nobody on new triggers; acknowledge and resolve of an alert that is not open are
  dropped; a trigger after a resolve opens a new alert.
"""

import json
import re
import threading

from support.http_servers import QuietHandler, _Background

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ISO8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")
MAX_BYTES = 512 * 1024


def schema_errors(event):
    """The Events API v2's objections to one event (empty when it is valid)."""
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup or len(dedup) > 255):
        errors.append("'dedup_key' must be a non-empty string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for %s events" % action)
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return errors + ["'payload' is missing or not an object"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors.append("'payload.summary' is missing or blank")
        elif len(summary) > 1024:
            errors.append("'payload.summary' is longer than 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"].strip():
            errors.append("'payload.source' is missing or blank")
        if payload.get("severity") not in SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info")
        if "timestamp" in payload and not ISO8601.match(str(payload["timestamp"])):
            errors.append("'payload.timestamp' is not ISO 8601")
        for field in ("component", "group", "class"):
            if field in payload and not isinstance(payload[field], str):
                errors.append("'payload.%s' must be a string" % field)
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            errors.append("'payload.custom_details' must be an object")
    for field, required in (("links", "href"), ("images", "src")):
        for item in event.get(field) or []:
            if not isinstance(item, dict) or not item.get(required):
                errors.append("every item of '%s' needs '%s'" % (field, required))
    return errors


class PagerDutyStandIn(_Background):
    """``.events`` (every accepted event), ``.rejected`` (body, errors), ``.alerts`` ((key, dedup) -> state),
    ``.pages`` (alerts opened, each a page to the on-call), ``.dropped`` (ack/resolve of no open alert)."""

    def __init__(self):
        self.events, self.rejected, self.pages, self.dropped = [], [], [], []
        self.alerts = {}
        self.answers = []  # statuses to answer first (e.g. 429), then 202
        lock = threading.Lock()
        stand_in = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802
                raw = self.read_body()
                with lock:
                    status, body = stand_in.handle(self.path, self.headers, raw)
                self.reply_json(status, body)

        super().__init__(Handler)
        self.enqueue_url = self.url + "/v2/enqueue"

    def handle(self, path, headers, raw):
        if path != "/v2/enqueue":
            return 404, {"status": "error", "message": "not found"}
        if self.answers:
            return self.answers.pop(0), {"status": "throttle event",
                                         "message": "Requests for this service are arriving too quickly"}
        try:
            event = json.loads(raw)
        except ValueError:
            event, errors = None, ["Request body is not valid JSON"]
        else:
            errors = schema_errors(event)
        if len(raw) > MAX_BYTES:
            errors.append("Event is larger than 512 KB")
        if "json" not in (headers.get("Content-Type") or ""):
            errors.append("Content-Type must be application/json")
        if errors:
            self.rejected.append((event, errors))
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        self.events.append(event)
        key = (event["routing_key"], event.get("dedup_key") or "generated-%d" % len(self.events))
        state = self.alerts.get(key)
        if event["event_action"] == "trigger":
            if state in (None, "resolved"):
                self.alerts[key] = "triggered"
                self.pages.append(dict(dedup_key=key[1], routing_key=key[0], summary=event["payload"]["summary"]))
        elif state in ("triggered", "acknowledged"):
            self.alerts[key] = "resolved" if event["event_action"] == "resolve" else "acknowledged"
        else:
            self.dropped.append(event)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key[1]}

    def state(self, dedup_key):
        return dict((dedup, state) for (_key, dedup), state in self.alerts.items()).get(dedup_key)


def pagerduty_stand_in():
    return PagerDutyStandIn()
