"""The PagerDuty events each notification sends, checked against the Events API v2 schema (tests/support)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError
from support.pagerduty import schema_errors

from ansible_collections.rollback.core.plugins.filter.pagerduty import pagerduty_events

KEY = "0123456789abcdef0123456789abcdef"
CONTEXT = dict(run_id="20260101T120000Z-000042", text="Rollback started: lab level 1 (demo-compose)",
               environment="lab", level="1", services=["demo-compose", "demo-server"], reason="alert X",
               operator="ansible-rulebook", timestamp="2026-01-01T12:00:00Z")


def test_start_triggers_an_alert_keyed_by_the_run_id():
    [request] = pagerduty_events("start", dict(routing_key=KEY), CONTEXT)
    body = request["body"]
    assert request["url"] == "https://events.pagerduty.com/v2/enqueue" and schema_errors(body) == []
    assert (body["event_action"], body["dedup_key"]) == ("trigger", CONTEXT["run_id"])
    assert body["payload"]["severity"] == "critical"
    assert body["payload"]["summary"] == "Rollback started: Rollback started: lab level 1 (demo-compose)"
    assert body["payload"]["component"] == "demo-compose,demo-server" and body["payload"]["group"] == "lab"
    assert body["payload"]["class"] == "rollback level 1"
    assert body["payload"]["custom_details"]["operator"] == "ansible-rulebook"


@pytest.mark.parametrize("end_action", ["resolve", "acknowledge"])
def test_end_resolves_or_acknowledges_the_same_alert(end_action):
    [request] = pagerduty_events("end", dict(routing_key=KEY, end_action=end_action), CONTEXT)
    assert request["body"] == dict(routing_key=KEY, event_action=end_action, dedup_key=CONTEXT["run_id"])
    assert schema_errors(request["body"]) == []


def test_failure_escalates_with_a_new_alert_on_the_escalation_service():
    other = "fedcba9876543210fedcba9876543210"
    requests = pagerduty_events("failure", dict(routing_key=KEY, severity="warning", escalation_routing_key=other),
                                CONTEXT)
    assert [(r["body"]["routing_key"], r["body"]["dedup_key"]) for r in requests] == [
        (KEY, CONTEXT["run_id"]), (other, CONTEXT["run_id"] + "-escalation")]
    assert all(r["body"]["payload"]["severity"] == "critical" and schema_errors(r["body"]) == [] for r in requests)
    assert requests[1]["body"]["payload"]["summary"].startswith("ROLLBACK FAILED - escalate: ")


def test_nothing_without_a_routing_key_or_for_notices():
    assert pagerduty_events("start", {}, CONTEXT) == []
    assert pagerduty_events("notice", dict(routing_key=KEY), CONTEXT) == []


def test_long_texts_are_cut_to_the_api_limits():
    context = dict(CONTEXT, text="x" * 5000, run_id="r" * 400)
    [request] = pagerduty_events("approval", dict(routing_key=KEY), context)
    assert len(request["body"]["payload"]["summary"]) == 1024 and len(request["body"]["dedup_key"]) == 255
    assert schema_errors(request["body"]) == []


@pytest.mark.parametrize("options,message", [
    (dict(routing_key=KEY, severity="high"), "severity 'high' is not one of"),
    (dict(routing_key=KEY, end_action="close"), "end_action must be resolve or acknowledge"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pagerduty_events("end" if "end_action" in options else "start", options, CONTEXT)
