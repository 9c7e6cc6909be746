# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alertmanager's webhook notification (payload version 4), read into trigger alerts.

The body Alertmanager 0.25 posts (notify/webhook/webhook.go, Message = template.Data + version, groupKey,
truncatedAlerts): {"version": "4", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
"commonLabels", "commonAnnotations", "externalURL", "alerts": [{"status": "firing"|"resolved", "labels",
"annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}]}. Times are Go RFC 3339 with up to nine
fraction digits; a zero endsAt is "0001-01-01T00:00:00Z".

The collection's trigger rules (extensions/prometheus) label each alert with ``service`` (the inventory host),
``trigger``, ``signal`` (the rollback_decision signal its value feeds), ``priority`` (P1 or P2) and ``runbook``,
and put the value in the annotation ``value``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import math
import re
import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")


def parse_time(text):
    """Epoch seconds of an RFC 3339 time (Go's nanosecond fractions included); ValueError otherwise."""
    match = RFC3339.match(str(text or "").strip())
    if not match:
        raise ValueError("not an RFC 3339 time: %r" % (text,))
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    epoch = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    epoch += float(match.group(7) or 0)
    zone = match.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        epoch -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return epoch


def iso(epoch):
    """An epoch as UTC ISO 8601 with milliseconds."""
    whole = int(epoch)
    return "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)), int((epoch - whole) * 1000))


class Alert:
    """One alert of a notification."""

    def __init__(self, raw, index):
        if not isinstance(raw, dict):
            raise RollbackError("alert %d of the notification is not an object" % index)
        labels = raw.get("labels")
        annotations = raw.get("annotations") or {}
        if not isinstance(labels, dict) or not isinstance(annotations, dict):
            raise RollbackError("alert %d of the notification has no labels object" % index)
        self.status = raw.get("status")
        if self.status not in ("firing", "resolved"):
            raise RollbackError("alert %d has status %r; Alertmanager sends firing or resolved" % (index, self.status))
        self.labels = dict((str(k), str(v)) for k, v in labels.items())
        self.annotations = dict((str(k), str(v)) for k, v in annotations.items())
        self.name = self.labels.get("alertname", "unnamed alert")
        self.service = self.labels.get("service")
        self.priority = self.labels.get("priority", "")
        self.signal = self.labels.get("signal")
        self.fingerprint = raw.get("fingerprint")
        try:
            self.starts_at = parse_time(raw.get("startsAt"))
        except ValueError as error:
            raise RollbackError("alert %d (%s): startsAt %s" % (index, self.name, error))
        self.value = _number(self.annotations.get("value"))

    def describe(self):
        """One line for notifications and the report: name, service, value and the rule's own summary."""
        text = "%s on %s" % (self.name, self.service or "no service")
        if self.value is not None:
            text += " = %s" % _short(self.value)
        summary = self.annotations.get("summary")
        return text + (" (%s)" % summary if summary else "")

    def as_dict(self):
        return dict(alertname=self.name, service=self.service, status=self.status, priority=self.priority,
                    trigger=self.labels.get("trigger"), signal=self.signal, runbook=self.labels.get("runbook"),
                    value=self.value, starts_at=iso(self.starts_at), summary=self.annotations.get("summary"),
                    fingerprint=self.fingerprint)


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _short(value):
    """A value as people read it: 50, 57.24, 0.8 (never NaN here: _number drops it)."""
    return ("%.2f" % value).rstrip("0").rstrip(".")


def read_notification(notification):
    """The notification's alerts; one RollbackError line when it is not an Alertmanager webhook body."""
    if not isinstance(notification, dict):
        raise RollbackError("the notification is not a JSON object (expected Alertmanager's webhook body)")
    if str(notification.get("version")) != "4":
        raise RollbackError("not an Alertmanager webhook notification: payload version %r, expected \"4\""
                            % notification.get("version"))
    alerts = notification.get("alerts")
    if not isinstance(alerts, list):
        raise RollbackError("the Alertmanager notification has no alerts list")
    return [Alert(raw, index) for index, raw in enumerate(alerts)]


def truncated(notification):
    """Alerts Alertmanager left out of the notification (its receiver's max_alerts)."""
    try:
        return int(notification.get("truncatedAlerts") or 0)
    except (TypeError, ValueError):
        return 0
