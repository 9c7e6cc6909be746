"""Alertmanager webhook notifications as Alertmanager 0.25 posts them, for tests.

notify/webhook/webhook.go's Message: template.Data (receiver, status, alerts, groupLabels, commonLabels,
commonAnnotations, externalURL) + version "4", groupKey, truncatedAlerts; each alert has status, labels,
annotations, startsAt, endsAt (Go's zero time when unset), generatorURL, fingerprint; times are Go's RFC 3339
with nanoseconds. Labels are the collection's trigger rules' (extensions/prometheus).
"""

import json
import time
import urllib.request


def go_time(epoch):
    """As Go's time.Time marshals: RFC 3339 with nanoseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch))) + ".%09dZ" % round(epoch % 1 * 1e9)


def alert(service="demo-compose", name="RollbackErrorRateHigh", value="50", signal="error_rate_percent",
          priority="P1", starts=None, status="firing", runbook="001", trigger="error_rate"):
    labels = dict(alertname=name, service=service, signal=signal, priority=priority, runbook=runbook,
                  environment="lab", trigger=trigger)
    if signal is None:
        del labels["signal"]
    starts = time.time() - 60 if starts is None else starts
    return dict(status=status, labels=labels, annotations=dict(value=value, summary="%s: %s" % (service, name)),
                startsAt=go_time(starts), endsAt="0001-01-01T00:00:00Z", generatorURL="http://prometheus/graph",
                fingerprint="%016x" % (abs(hash((service, name))) % (1 << 64)))


def notification(*alerts, **extra):
    body = dict(version="4", groupKey='{}:{environment="lab"}', truncatedAlerts=0, receiver="rollback-eda",
                status="firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
                groupLabels=dict(environment="lab"), commonLabels=dict(environment="lab"), commonAnnotations={},
                externalURL="http://127.0.0.1:59093", alerts=list(alerts))
    body.update(extra)
    return body


def post(url, body, token):
    """POST a notification as Alertmanager's webhook receiver does (bearer token from http_config.authorization)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token,
                                              "User-Agent": "Alertmanager/0.25.0"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status
