"""rollback.core.traffic, platform compose, in-process: compose_traffic's decisions (which services change, which
command, check mode, the refusal when a service did not follow) against a stand-in ComposeProject, so that the
mutants of plugins/module_utils/traffic.py (./dev mutate) have a test that sees them. The real docker compose runs
are in tests/integration/test_traffic.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils import compose, traffic
from ansible_collections.rollback.core.plugins.modules.traffic import main


class FakeProject:
    """The part of ComposeProject compose_traffic uses; ``running`` is the containers' state, ``stuck`` services
    ignore the command (as a container whose stop times out and restarts under ``restart: always``)."""

    name = "shop"

    def __init__(self, running, stuck=()):
        self.running = dict(running)
        self.stuck = set(stuck)
        self.commands = []

    def __call__(self, module):
        return self

    def select(self, services):
        return list(services or self.running)

    def running_images(self, service):
        return ["shop-%s:1.0" % service] if self.running[service] else []

    def run(self, argv, what):
        self.commands.append((argv, what))
        action, services = argv[0], argv[1:]
        for service in services:
            if service not in self.stuck:
                self.running[service] = action == "start"


@pytest.fixture
def project(monkeypatch):
    def make(running, stuck=()):
        fake = FakeProject(running, stuck)
        monkeypatch.setattr(traffic, "ComposeProject", fake)
        return fake

    monkeypatch.setattr(compose, "DOCKER_IMPORT_ERROR", None)
    return make


def run(run_module, state, services=None, check_mode=False, diff=False):
    args = dict(platform="compose", state=state, name="shop", project_src="/srv/shop")
    if services is not None:
        args["services"] = services
    return run_module(main, args, check_mode=check_mode, diff=diff)


def test_stop_stops_only_the_running_services(run_module, project):
    fake = project({"api": True, "worker": False, "web": True})
    failed, result = run(run_module, "stopped", diff=True)
    assert not failed, result
    assert result["changed"] is True
    assert fake.commands == [(["stop", "api", "web"], "docker compose stop")]
    assert fake.running == {"api": False, "worker": False, "web": False}
    assert result["diff"] == {"before": {"api": True, "worker": False, "web": True},
                              "after": {"api": False, "worker": False, "web": False}}
    assert result["project"] == "shop"
    assert result["service"] == "shop"
    assert result["services"] == ["api", "worker", "web"]


def test_start_starts_only_the_stopped_services(run_module, project):
    fake = project({"api": False, "worker": True})
    failed, result = run(run_module, "started")
    assert not failed, result
    assert result["changed"] is True
    assert fake.commands == [(["start", "api"], "docker compose start")]
    assert fake.running == {"api": True, "worker": True}


def test_already_in_state_runs_nothing(run_module, project):
    fake = project({"api": False, "worker": False})
    failed, result = run(run_module, "stopped")
    assert not failed, result
    assert result["changed"] is False
    assert fake.commands == []


def test_services_limit_what_is_stopped(run_module, project):
    fake = project({"api": True, "worker": True})
    failed, result = run(run_module, "stopped", services=["worker"])
    assert not failed, result
    assert fake.commands == [(["stop", "worker"], "docker compose stop")]
    assert fake.running == {"api": True, "worker": False}


def test_check_mode_reports_the_change_and_runs_nothing(run_module, project):
    fake = project({"api": True})
    failed, result = run(run_module, "stopped", check_mode=True)
    assert not failed, result
    assert result["changed"] is True
    assert fake.commands == []
    assert fake.running == {"api": True}


@pytest.mark.parametrize("state,running,left", [
    ("stopped", True, "still running"),
    ("started", False, "still stopped"),
])
def test_a_service_that_did_not_follow_fails_the_task(run_module, project, state, running, left):
    action = "stop" if state == "stopped" else "start"
    project({"api": running, "worker": running}, stuck={"worker"})
    failed, result = run(run_module, state)
    assert failed
    assert result["msg"] == "after docker compose %s, service(s) worker are %s" % (action, left)


@pytest.mark.parametrize("missing", ["platform", "state", "name"])
def test_platform_state_and_name_are_required(run_module, project, missing):
    fake = project({"api": True})
    args = dict(platform="compose", state="stopped", name="shop", project_src="/srv/shop")
    del args[missing]
    failed, result = run_module(main, args)
    assert failed
    assert result["msg"] == "missing required arguments: %s" % missing
    assert fake.commands == []


def test_spec_defaults():
    assert traffic.TRAFFIC_SPEC["units"]["default"] == []
    assert traffic.TRAFFIC_SPEC["kind"]["default"] == "Deployment"
