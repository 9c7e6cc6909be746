"""deploy_marker: the deploy marker files an automatic rollback and the rollback's preflight read (format in the
module's docstring; times are RFC 3339, alertmanager.parse_time), on real files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import (
    Marker, MarkerError, marker_path, newest_deploy_start, newest_marker, read_marker, write_marker)


def doc(service="api", deploy_id="release-42", started_at="2026-01-01T12:00:00Z", **more):
    return dict(dict(service=service, deploy_id=deploy_id, status="in_progress", started_at=started_at), **more)


def put(directory, document):
    with open(marker_path(str(directory), document["service"]), "w") as handle:
        json.dump(document, handle)


@pytest.mark.parametrize("document,message", [
    ([], "is not a JSON object"),
    (dict(service="api", status="done"), "lacks deploy_id, started_at$"),
    (doc(status="rolled_back"), "has status 'rolled_back', expected one of in_progress, done, failed$"),
    (doc(started_at="yesterday"), "not an RFC 3339 time"),
    (doc(finished_at="2026-01-01 12:00"), "not an RFC 3339 time"),
])
def test_a_marker_that_cannot_be_trusted_is_refused(document, message):
    with pytest.raises(MarkerError, match=message):
        Marker(document, "/m/api.json")


def test_a_marker_reads_its_times_services_and_flags():
    marker = Marker(doc(finished_at="2026-01-01T13:00:00.5+01:00", config_changed=True, migration_ran="yes",
                        services=["api", "worker"]), "/m/api.json")
    assert marker.started == 1767268800 and marker.finished == 1767268800.5
    assert marker.services == ["api", "worker"] and marker.flags == dict(config_changed=True)  # only a real true
    assert Marker(doc(), "p").services == ["api"] and Marker(doc(), "p").as_dict()["migration_failed"] is None


def test_read_marker(tmp_path):
    assert read_marker(str(tmp_path), "api") is None  # no deploy recorded
    put(tmp_path, doc())
    assert read_marker(str(tmp_path), "api").deploy_id == "release-42"
    put(tmp_path, doc(service="worker"))
    os.rename(str(tmp_path / "worker.json"), str(tmp_path / "web.json"))
    with pytest.raises(MarkerError, match="names service 'worker', not 'web'$"):
        read_marker(str(tmp_path), "web")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MarkerError, match="bad.json is not JSON"):
        read_marker(str(tmp_path), "bad")


def test_write_marker_creates_the_directory_and_checks_first(tmp_path):
    directory = str(tmp_path / "markers")
    path = write_marker(directory, doc())
    assert path == os.path.join(directory, "api.json") and read_marker(directory, "api").status == "in_progress"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # read by other users' pipelines
    with pytest.raises(MarkerError, match="lacks started_at"):
        write_marker(directory, doc(started_at=None, status="done"))
    assert read_marker(directory, "api").status == "in_progress"  # the bad one replaced nothing
    (tmp_path / "file").write_text("")
    with pytest.raises(MarkerError, match="cannot create the deploy marker directory"):
        write_marker(str(tmp_path / "file" / "markers"), doc())


def test_newest_marker_and_the_start_of_the_newest_deploy(tmp_path):
    put(tmp_path, doc("api", "release-42", "2026-01-01T12:00:00Z"))
    put(tmp_path, doc("worker", "release-42", "2026-01-01T12:05:00Z"))
    put(tmp_path, doc("web", "release-41", "2026-01-01T11:00:00Z"))
    (tmp_path / "broken.json").write_text("[]")
    problems = []
    services = ["api", "worker", "web", "broken", "absent"]
    assert newest_marker(str(tmp_path), services, problems).service == "worker"
    assert problems == ["%s is not a JSON object" % marker_path(str(tmp_path), "broken")]
    start = newest_deploy_start(str(tmp_path), services, [])
    assert (start.service, start.deploy_id) == ("api", "release-42")  # the deploy began with its first service
    assert newest_marker(str(tmp_path), ["absent"], []) is None
    assert newest_deploy_start(str(tmp_path), ["absent"], []) is None
