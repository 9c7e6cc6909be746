"""What ran before, from a Compose project's deploy history (compose_history, docs/compose-history.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.rollback.core.plugins.module_utils.compose_history import DeployHistory, event

A, B, C = "reg/app:1.0.0", "reg/app:1.0.1", "reg/app:1.0.2"


def history(tmp_path, *lines, project="demo"):
    path = tmp_path / "history.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    warnings = []
    return DeployHistory(str(path), project, warnings.append), warnings


def deploy(image, service="web", **extra):
    return dict(dict(service=service, image=image, event="deploy", at="2025-11-13T10:00:00Z"), **extra)


def rollback(image, undone, service="web"):
    return dict(service=service, image=image, event="rollback", at="2025-11-13T11:00:00Z", **{"from": undone})


@pytest.mark.parametrize("events,current,expected", [
    ([deploy(A), deploy(B)], B, A),
    ([deploy(A), deploy(B), deploy(B)], B, A),  # a redeploy of the same release is not "before" it
    ([deploy(A), deploy(C), deploy(B)], B, C),  # what ran, not what was built before
    ([deploy(A), deploy(B), rollback(A, B), deploy(C)], C, A),  # the rollback target ran before C
    ([deploy(A), deploy(B)], C, B),  # C deployed without a history line: the last known release ran before it
    ([deploy(A), deploy(B), rollback(A, B)], A, A),  # already rolled back: a re-run changes nothing
    ([deploy(A)], A, None),  # nothing before the first release
    ([deploy(A, service="worker")], A, None),  # other services' events do not count
])
def test_previous(tmp_path, events, current, expected):
    found, reason = history(tmp_path, *events)[0].previous("web", current)
    assert found == expected, reason


def test_events_of_other_projects_and_bad_lines_are_skipped_with_a_warning(tmp_path):
    found, warnings = history(tmp_path, deploy(A), "not json", deploy(C, project="other"), {"service": "web"},
                              dict(deploy(C), event="promote"), deploy(B, project="demo"))
    assert found.previous("web", B)[0] == A
    assert [w.split(" line ")[1] for w in warnings] == [
        "2 ignored: not JSON", "4 ignored: no image", "5 ignored: event 'promote' is not one of deploy, rollback"]


def test_a_minimal_pipeline_line_is_a_deploy(tmp_path):
    found = history(tmp_path, {"service": "web", "image": A}, {"service": "web", "image": B})[0]
    assert found.previous("web", B)[0] == A


def test_append_adds_whole_lines_after_a_line_without_newline(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(json.dumps(deploy(A)))  # a pipeline's echo -n
    found = DeployHistory(str(path), "demo", None)
    found.append([event("demo", "web", B, "rollback", "test", **{"from": C})])
    lines = path.read_text().splitlines()
    assert [json.loads(line)["image"] for line in lines] == [A, B]
    assert json.loads(lines[1])["from"] == C and found.previous("web", B)[0] == B


def test_image_id_is_the_last_one_recorded_for_that_image(tmp_path):
    found = history(tmp_path, deploy(A, image_id="sha256:1"), deploy(B), deploy(A, image_id="sha256:2"), deploy(B))[0]
    assert (found.image_id("web", A), found.image_id("web", B), found.image_id("worker", A)) == ("sha256:2", None, None)
