"""docker_images: an image made sure of before anything changes (local, asked of its registry, pulled), with a fake
engine raising the Docker SDK's own errors (docker.errors.ImageNotFound, APIError with the engine's explanation).
The registry names come from the SDK's ``auth.resolve_repository_name`` (docker/auth.py); the explanations quoted
are the engine's (``manifest unknown``, ``unauthorized: authentication required``, ``no basic auth credentials``:
distribution/registry/api/errcode and the engine's /distribution and /images/create answers)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from docker import errors

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.docker_images import ImageSource


class Engine:
    def __init__(self, local=(), registry=(), pull_fails=None, pull_loses=False):
        self.local_images = set(local)
        self.registry = dict((name, None) for name in registry)
        self.pull_fails, self.pull_loses = pull_fails, pull_loses
        self.calls = []
        self.images = self
        self.api = self

    def get(self, reference):
        self.calls.append(("get", reference))
        if reference not in self.local_images:
            raise errors.ImageNotFound("No such image: %s" % reference)
        return "image %s" % reference

    def inspect_distribution(self, reference, auth_config=None):
        self.calls.append(("inspect", reference, auth_config))
        if reference not in self.registry:
            raise errors.APIError("404", explanation="manifest unknown: manifest unknown")
        return {}

    def pull(self, repository, tag=None, auth_config=None):
        self.calls.append(("pull", repository, tag))
        if self.pull_fails:
            raise errors.APIError("500", explanation=self.pull_fails)
        if not self.pull_loses:
            self.local_images.add("%s:%s" % (repository, tag))


class Project:
    errors = errors

    def __init__(self, engine):
        self.docker = engine

    def engine(self, what, func, *args, **kwargs):
        return func(*args, **kwargs)


def test_a_local_image_is_not_asked_for():
    engine = Engine(local=["demo/api:1.0.0"])
    assert ImageSource(Project(engine)).ensure("demo/api:1.0.0", False) == "local"
    assert engine.calls == [("get", "demo/api:1.0.0")]


def test_check_mode_only_asks_the_registry():
    engine = Engine(registry=["registry.example:5000/demo/api:1.0.0"])
    source = ImageSource(Project(engine), "ci", "s3cret")
    assert source.ensure("registry.example:5000/demo/api:1.0.0", True) == "in registry"
    assert engine.calls[-1] == ("inspect", "registry.example:5000/demo/api:1.0.0",
                                dict(username="ci", password="s3cret"))


def test_a_missing_image_is_asked_for_then_pulled():
    engine = Engine(registry=["demo/api:1.0.0"])
    assert ImageSource(Project(engine)).ensure("demo/api:1.0.0", False) == "pulled"
    assert [c[0] for c in engine.calls] == ["get", "inspect", "pull", "get"]
    assert engine.calls[2] == ("pull", "demo/api", "1.0.0")


def test_a_tag_the_registry_lacks_is_one_line():
    with pytest.raises(RollbackError) as error:
        ImageSource(Project(Engine())).ensure("demo/api:9.9.9", False)
    assert error.value.msg == ("registry docker.io has no image demo/api:9.9.9 (manifest unknown: manifest unknown): "
                               "nothing was changed")
    assert error.value.details == dict(image="demo/api:9.9.9", registry="docker.io")


@pytest.mark.parametrize("username,source", [
    ("ci", "registry_username/registry_password"), (None, "the Docker client config (DOCKER_CONFIG or "
                                                          "~/.docker/config.json)")])
def test_refused_credentials_name_where_they_came_from(username, source):
    engine = Engine(registry=["registry.example:5000/demo/api:1.0.0"],
                    pull_fails="Head \"https://registry.example:5000/v2/demo/api/manifests/1.0.0\": no basic auth\n"
                               "credentials")
    with pytest.raises(RollbackError, match="^registry registry.example:5000 refused the credentials from %s for "
                                            "registry.example:5000/demo/api:1.0.0 .*no basic auth credentials" %
                                            source.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        ImageSource(Project(engine), username, "x").ensure("registry.example:5000/demo/api:1.0.0", False)


def test_other_failures_and_a_pull_that_left_nothing():
    engine = Engine(registry=["demo/api:1.0.0"], pull_fails="connection reset by peer")
    with pytest.raises(RollbackError, match="^image demo/api:1.0.0 is not on this Docker host and could not be pulled "
                                            r"from docker.io \(connection reset by peer\)"):
        ImageSource(Project(engine)).ensure("demo/api:1.0.0", False)
    with pytest.raises(RollbackError, match="the engine reported a pull, but the image is not there"):
        ImageSource(Project(Engine(registry=["demo/api:1.0.0"], pull_loses=True))).ensure("demo/api:1.0.0", False)


def test_local_lookups_are_remembered():
    engine = Engine(local=["demo/api:1.0.0"])
    source = ImageSource(Project(engine))
    source.local("demo/api:1.0.0")
    source.local("demo/api:1.0.0")
    assert engine.calls == [("get", "demo/api:1.0.0")]
    assert source.local("demo/api:2") is None
