"""alertmanager: reading Alertmanager's webhook body (payload version 4: notify/webhook/webhook.go of Alertmanager
0.25, Message = template.Data + version, groupKey, truncatedAlerts) into trigger alerts. Times are Go's RFC 3339
(up to nine fraction digits, time.RFC3339Nano)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.alertmanager import (
    Alert, iso, parse_time, read_notification, truncated)
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

ALERT = {"status": "firing", "labels": {"alertname": "RollbackErrorRate", "service": "demo-compose",
                                        "trigger": "error_rate", "signal": "error_rate_percent", "priority": "P1",
                                        "runbook": "001"},
         "annotations": {"value": "57.2413", "summary": "errors above 5 % for 2 minutes"},
         "startsAt": "2026-01-01T12:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus:9090/graph", "fingerprint": "1f2e3d4c5b6a7980"}
BODY = {"version": "4", "groupKey": "{}:{service=\"demo-compose\"}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "rollback", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": [ALERT]}


@pytest.mark.parametrize("text,epoch", [
    ("2026-01-01T12:00:00Z", 1767268800),
    ("2026-01-01t12:00:00z", 1767268800),
    ("2026-01-01T13:30:00+01:30", 1767268800),
    ("2026-01-01T07:00:00-05:00", 1767268800),
    ("2026-01-01T12:00:00.5Z", 1767268800.5),
])
def test_parse_time(text, epoch):
    assert parse_time(text) == epoch


@pytest.mark.parametrize("text", ["2026-01-01T12:00:00", "2026-01-01", "", None, "2026-01-01T12:00:00+0100"])
def test_parse_time_refuses_what_is_not_rfc3339(text):
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_time(text)


def test_a_notification_is_read_into_alerts():
    [alert] = read_notification(BODY)
    assert alert.as_dict() == dict(alertname="RollbackErrorRate", service="demo-compose", status="firing",
                                   priority="P1", trigger="error_rate", signal="error_rate_percent", runbook="001",
                                   value=57.2413, starts_at="2026-01-01T12:00:00.123Z",
                                   summary="errors above 5 % for 2 minutes", fingerprint="1f2e3d4c5b6a7980")
    assert alert.describe() == "RollbackErrorRate on demo-compose = 57.24 (errors above 5 % for 2 minutes)"


def test_values_people_read_and_no_value():
    alert = Alert(dict(ALERT, labels=dict(alertname="X"), annotations=dict(value="NaN")), 0)
    assert alert.value is None and alert.describe() == "X on no service"
    assert Alert(dict(ALERT, annotations=dict(value="50.000")), 0).describe() == \
        "RollbackErrorRate on demo-compose = 50"
    assert Alert(dict(ALERT, annotations=dict(value="0.8")), 0).describe().endswith("= 0.8")
    assert Alert(dict(ALERT, labels={"n": 1}, annotations=None), 0).name == "unnamed alert"


@pytest.mark.parametrize("body,message", [
    ([], "^the notification is not a JSON object"),
    (dict(BODY, version="3"), r"^not an Alertmanager webhook notification: payload version '3', expected \"4\"$"),
    (dict(BODY, alerts=None), "^the Alertmanager notification has no alerts list$"),
    (dict(BODY, alerts=["x"]), "^alert 0 of the notification is not an object$"),
    (dict(BODY, alerts=[ALERT, dict(ALERT, labels=None)]), "^alert 1 of the notification has no labels object$"),
    (dict(BODY, alerts=[dict(ALERT, status="pending")]), "^alert 0 has status 'pending'; Alertmanager sends firing "
                                                         "or resolved$"),
    (dict(BODY, alerts=[dict(ALERT, startsAt="soon")]), r"^alert 0 \(RollbackErrorRate\): startsAt not an RFC 3339"),
])
def test_what_is_not_a_webhook_body_is_one_error(body, message):
    with pytest.raises(RollbackError, match=message):
        read_notification(body)


def test_truncated_alerts_and_iso():
    assert truncated(dict(BODY, truncatedAlerts=3)) == 3
    assert truncated(dict(BODY, truncatedAlerts="many")) == 0 and truncated({}) == 0
    assert iso(1767268800.25) == "2026-01-01T12:00:00.250Z"
