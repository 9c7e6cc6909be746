"""compose_undo: the decisions of a Docker Compose rollout undo that need no Docker: which tag is valid (the
reference grammar of distribution/reference, tag ``[\\w][\\w.-]{0,127}``), what runs and what is configured, the
target of each service (to_version, the deploy history, else a guess with a warning), and the warnings about a
moved tag. Container attributes are shaped as Docker's ContainerInspect returns them (``Config.Image``, ``Image``,
``Created``: Docker Engine API, /containers/{id}/json). The whole undo runs against Docker in the integration
tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils import compose_undo
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


class Container:
    def __init__(self, image, image_id="sha256:" + "a" * 64, created="2026-01-01T12:00:00.123456789Z"):
        self.attrs = dict(Config=dict(Image=image), Image=image_id, Created=created)


class Project:
    name = "demo"

    def __init__(self, services):
        self.config = dict(services=services)


@pytest.mark.parametrize("tag", [None, "1.0.0", "v1_2-rc.1", "_x", "a" * 128])
def test_valid_tags(tag):
    compose_undo._check_tag(tag)


@pytest.mark.parametrize("tag", ["", "-1.0", ".1", "1.0/evil", "a" * 129, "1.0 0", "latest:x"])
def test_invalid_tags_are_refused(tag):
    with pytest.raises(RollbackError, match="is neither a commit of a git work tree holding the project nor a valid "
                                            "image tag"):
        compose_undo._check_tag(tag)


def test_a_service_runs_exactly_one_image():
    project = Project({})
    assert compose_undo._running_image(project, "api", [Container("demo/api:1"), Container("demo/api:1")]) == \
        "demo/api:1"
    with pytest.raises(RollbackError, match="^service api of project demo runs demo/api:1, demo/api:2: expected "
                                            "exactly one image$"):
        compose_undo._running_image(project, "api", [Container("demo/api:2"), Container("demo/api:1")])
    with pytest.raises(RollbackError, match="runs no container: expected exactly one image"):
        compose_undo._running_image(project, "api", [])


def test_a_built_service_cannot_be_undone():
    project = Project(dict(api=dict(image="demo/api:1"), web=dict(build=".")))
    assert compose_undo._configured_image(project, "api") == "demo/api:1"
    with pytest.raises(RollbackError, match="^service web of project demo has no image .*rolls back images only$"):
        compose_undo._configured_image(project, "web")


def test_image_id_and_start_of_the_running_release():
    assert compose_undo._image_id([Container("x"), Container("x")]) == "sha256:" + "a" * 64
    assert compose_undo._image_id([Container("x"), Container("x", image_id="sha256:b")]) is None
    assert compose_undo._started([Container("x", created="2026-01-02T00:00:00Z"),
                                  Container("x", created="2026-01-01T12:00:00.5Z")]) == "2026-01-01T12:00:00Z"
    assert compose_undo._started([Container("x", created="")]) is None and compose_undo._started([]) is None


class History:
    def __init__(self, previous=(None, "no deploy of api before demo/api:1.0.1 in the history"), recorded=None):
        self._previous = previous
        self.recorded = recorded

    def previous(self, service, current):
        return self._previous

    def image_id(self, service, image):
        return self.recorded


def test_target_from_to_version_keeps_the_repository():
    assert compose_undo._target(None, History(), "api", "registry:5000/demo/api:1.0.1", "1.0.0", None) == (
        "registry:5000/demo/api:1.0.0", "to_version")


def test_target_from_the_history():
    history = History(previous=("demo/api:1.0.0", "deployed before demo/api:1.0.1"))
    assert compose_undo._target(None, history, "api", "demo/api:1.0.1", None, None) == (
        "demo/api:1.0.0", "history: deployed before demo/api:1.0.1")


def test_without_history_the_target_is_a_guess_and_says_so(monkeypatch):
    monkeypatch.setattr(compose_undo, "newest_created_before", lambda project, current: "demo/api:0.9.0")
    warnings = []
    image, reason = compose_undo._target(None, History(), "api", "demo/api:1.0.1", None, warnings.append)
    assert (image, reason) == ("demo/api:0.9.0", "creation time (no deploy of api before demo/api:1.0.1 in the "
                                                 "history)")
    assert warnings == ["api: no deploy of api before demo/api:1.0.1 in the history; demo/api:0.9.0 is a guess, the "
                        "newest local image of the repository created before demo/api:1.0.1 (creation time, not "
                        "what ran before)"]


class Image:
    def __init__(self, image_id):
        self.id = image_id


class Images:
    def __init__(self, local):
        self._local = local

    def local(self, target):
        return self._local


def test_a_tag_moved_since_it_ran_is_warned_about():
    warnings = []
    compose_undo._moved_tag(History(recorded="sha256:" + "1" * 64), Images(Image("sha256:" + "2" * 64)), "api",
                            "demo/api:1.0.0", warnings.append)
    assert warnings == ["api: the tag demo/api:1.0.0 names image sha256:222222222222 now, not sha256:111111111111, "
                        "which ran before: the tag was moved since"]
    for history, images in ((History(recorded="sha256:1"), Images(Image("sha256:1"))),
                            (History(recorded=None), Images(Image("sha256:2"))),
                            (History(recorded="sha256:1"), Images(None))):
        compose_undo._moved_tag(history, images, "api", "demo/api:1.0.0", warnings.append)
    assert len(warnings) == 1
