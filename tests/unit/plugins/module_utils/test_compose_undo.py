"""compose_undo: the decisions of a Docker Compose rollout undo that need no Docker: which tag is valid (the
reference grammar of distribution/reference, tag ``[\\w][\\w.-]{0,127}``), what runs and what is configured, the
target of each service (to_version, the deploy history, else a guess with a warning), and the warnings about a
moved tag. Container attributes are shaped as Docker's ContainerInspect returns them (``Config.Image``, ``Image``,
``Created``: Docker Engine API, /containers/{id}/json). ``undo()`` itself runs here with a fake project, persist
plan and image source over the real deploy history file; against Docker in the integration tests."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils import compose_undo
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, RollbackModule


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


# The whole undo() with a fake project, persist plan and image source, and the real deploy history file.

class Plan:
    def __init__(self, services, targets):
        self.services, self.targets = services, targets
        self.warnings, self.layouts, self.up_files = [], {}, ["compose.yml"]

    def changed_files(self):
        return ["compose.yml"] if self.services else []

    def diffs(self):
        return []


class Flow:
    """The fake Docker side: what runs per service, what ``up`` does."""

    def __init__(self, running, up_fails=None, up_ignores=(), configured=None):
        self.running = dict(running)
        self.configured = dict(running, **(configured or {}))
        self.up_fails, self.up_ignores = up_fails, up_ignores
        self.calls = []


class FlowProject:
    name = "demo"

    def __init__(self, module, raw=False):
        self.flow = module.flow
        self.history_path = module.history_path
        self.config = dict(services=dict((s, dict(image=i)) for s, i in self.flow.configured.items()))

    def select(self, wanted):
        return list(wanted) if wanted else sorted(self.flow.running)

    def path(self, name):
        return self.history_path

    def containers(self, service, stopped=False):
        return [Container(self.flow.running[service], image_id="sha256:" + self.flow.running[service])]

    def up(self, services, wait, timeout, files=None):
        self.flow.calls.append(("up", services, files))
        if self.flow.up_fails:
            raise RollbackError(self.flow.up_fails)
        for service in services:
            self.flow.configured[service] = self.flow.targets[service]  # the files compose_persist wrote
            if service not in self.flow.up_ignores:
                self.flow.running[service] = self.flow.targets[service]


class FlowImages:
    def __init__(self, project, username, password):
        self.flow = project.flow

    def ensure(self, image, check_mode):
        self.flow.calls.append(("ensure", image, check_mode))
        return "local"

    def local(self, image):
        return None


class FlowModule:
    changed_result = RollbackModule.changed_result

    def __init__(self, flow, history_path, check_mode=False, **params):
        self.flow, self.history_path, self.check_mode, self._diff = flow, history_path, check_mode, False
        self.params = dict(dict(services=None, history_file=None, to_version=None, registry_username=None,
                                registry_password=None, wait_timeout=60), **params)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


@pytest.fixture
def flow_fakes(monkeypatch):
    monkeypatch.setattr(compose_undo, "ComposeProject", FlowProject)
    monkeypatch.setattr(compose_undo, "ImageSource", FlowImages)
    monkeypatch.setattr(compose_undo, "GitCommit", lambda project, version: None)  # not a commit: a tag

    def plan(project, services, targets, commit):
        project.flow.targets = targets
        project.flow.calls.append(("plan", list(services)))
        return Plan(services, targets)
    monkeypatch.setattr(compose_undo.compose_persist, "plan", plan)
    monkeypatch.setattr(compose_undo.compose_persist, "apply", lambda module, plan: ["compose.yml.saved"])


def history(path, *entries):
    compose_undo.DeployHistory(path, "demo", None).append([
        compose_undo.event("demo", service, image, kind, "test") for service, image, kind in entries])


def test_undo_rolls_back_what_the_history_says_ran_before(flow_fakes, tmp_path):
    path = str(tmp_path / "history.jsonl")
    history(path, ("api", "demo/api:1.0.0", "deploy"), ("api", "demo/api:1.0.1", "deploy"),
            ("db", "postgres:16", "rollback"))
    flow = Flow(dict(api="demo/api:1.0.1", db="postgres:16"))
    result = compose_undo.undo(FlowModule(flow, path), wait=True)  # db: already where it should be
    assert flow.running == dict(api="demo/api:1.0.0", db="postgres:16")
    assert flow.calls == [("plan", ["api"]), ("ensure", "demo/api:1.0.0", False), ("up", ["api"], ["compose.yml"])]
    assert result["changed"] is True and result["saved_to"] == ["compose.yml.saved"]
    assert (result["from_version"], result["to_version"]) == ("1.0.1", "1.0.0")
    recorded = compose_undo.DeployHistory(path, "demo", None).of("api")[-1]
    assert (recorded["event"], recorded["image"], recorded["from"]) == ("rollback", "demo/api:1.0.0", "demo/api:1.0.1")
    again = compose_undo.undo(FlowModule(flow, path), wait=True)  # a re-run: already rolled back
    assert again["changed"] is False and len(flow.calls) == 4


def test_undo_in_check_mode_asks_for_the_image_and_changes_nothing(flow_fakes, tmp_path):
    path = str(tmp_path / "history.jsonl")
    history(path, ("api", "demo/api:1.0.0", "deploy"), ("api", "demo/api:1.0.1", "deploy"))
    flow = Flow(dict(api="demo/api:1.0.1"))
    result = compose_undo.undo(FlowModule(flow, path, check_mode=True), wait=True)
    assert result["changed"] is True and flow.running == dict(api="demo/api:1.0.1")
    assert flow.calls == [("plan", ["api"]), ("ensure", "demo/api:1.0.0", True)]
    assert len(compose_undo.DeployHistory(path, "demo", None).events) == 2


def test_undo_to_a_named_tag_records_what_ran_unrecorded(flow_fakes, tmp_path):
    path = str(tmp_path / "history.jsonl")
    flow = Flow(dict(api="demo/api:1.0.1"))
    compose_undo.undo(FlowModule(flow, path, to_version="0.9.0"), wait=False)
    events = compose_undo.DeployHistory(path, "demo", None).of("api")
    assert [(e["event"], e["image"]) for e in events] == [("deploy", "demo/api:1.0.1"), ("rollback", "demo/api:0.9.0")]
    assert events[0]["source"] == "rollout_undo (seen running)"


def test_a_failed_up_names_the_files_already_written(flow_fakes, tmp_path):
    path = str(tmp_path / "history.jsonl")
    flow = Flow(dict(api="demo/api:1.0.1"), up_fails="docker compose up failed: api is unhealthy")
    with pytest.raises(RollbackError) as error:
        compose_undo.undo(FlowModule(flow, path, to_version="1.0.0"), wait=True)
    assert error.value.msg == ("docker compose up failed: api is unhealthy (the project's files already name the "
                               "target: compose.yml; previous files saved as compose.yml.saved)")
    assert error.value.details["changed"] is True


def test_a_service_that_did_not_move_is_an_error(flow_fakes, tmp_path):
    flow = Flow(dict(api="demo/api:1.0.1"), up_ignores=("api",))
    with pytest.raises(RollbackError, match="^after docker compose up, service api runs demo/api:1.0.1 instead of "
                                            "demo/api:1.0.0$"):
        compose_undo.undo(FlowModule(flow, str(tmp_path / "h.jsonl"), to_version="1.0.0"), wait=True)


def test_files_naming_another_release_than_the_running_one_are_put_right(flow_fakes, tmp_path):
    path = str(tmp_path / "history.jsonl")
    history(path, ("api", "demo/api:1.0.0", "rollback"))
    flow = Flow(dict(api="demo/api:1.0.0"), configured=dict(api="demo/api:1.0.1"))  # an earlier run stopped early
    result = compose_undo.undo(FlowModule(flow, path), wait=True)
    assert result["changed"] is True and flow.calls == [("plan", ["api"]), ("up", ["api"], ["compose.yml"])]
    assert len(compose_undo.DeployHistory(path, "demo", None).events) == 1  # no second rollback recorded
