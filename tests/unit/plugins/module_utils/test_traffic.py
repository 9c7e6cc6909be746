"""traffic: the compose side of stopping and resuming traffic (``docker compose stop|start`` of the services whose
state differs), with a fake project; the other platforms have their own files (kubernetes_traffic, server,
swarm)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils import traffic
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, RollbackModule


class Project:
    def __init__(self, module):
        self.name = "demo"
        self.running = dict(module.running)
        self.stuck = module.stuck
        self.ran = module.ran

    def select(self, wanted):
        return list(wanted) if wanted else sorted(self.running)

    def running_images(self, service):
        return ["demo/%s:1.0.0" % service] if self.running[service] else []

    def run(self, args, what):
        self.ran.append((args, what))
        for service in args[1:]:
            if service not in self.stuck:
                self.running[service] = args[0] == "start"


class Module:
    changed_result = RollbackModule.changed_result

    def __init__(self, state, running, services=None, check_mode=False, stuck=()):
        self.params = dict(state=state, services=services)
        self.running, self.stuck, self.ran = running, stuck, []
        self.check_mode = check_mode
        self._diff = True


@pytest.fixture(autouse=True)
def fake_project(monkeypatch):
    monkeypatch.setattr(traffic, "ComposeProject", Project)


def test_stop_stops_only_the_running_services():
    module = Module("stopped", dict(api=True, worker=False, web=True))
    result = traffic.compose_traffic(module)
    assert module.ran == [(["stop", "api", "web"], "docker compose stop")]
    assert result["changed"] is True and result["diff"]["after"] == dict(api=False, worker=False, web=False)
    assert result["diff"]["before"] == dict(api=True, worker=False, web=True)


def test_nothing_to_do_and_check_mode_run_nothing():
    module = Module("started", dict(api=True, web=True))
    assert traffic.compose_traffic(module)["changed"] is False and module.ran == []
    module = Module("started", dict(api=False, web=True), check_mode=True)
    assert traffic.compose_traffic(module)["changed"] is True and module.ran == []


def test_only_the_selected_services():
    module = Module("started", dict(api=False, web=False), services=["web"])
    assert traffic.compose_traffic(module)["services"] == ["web"]
    assert module.ran == [(["start", "web"], "docker compose start")]


def test_a_service_compose_could_not_stop_is_an_error():
    with pytest.raises(RollbackError, match=r"^after docker compose stop, service\(s\) web are still running$"):
        traffic.compose_traffic(Module("stopped", dict(api=True, web=True), stuck=("web",)))
    with pytest.raises(RollbackError, match=r"^after docker compose start, service\(s\) api are still stopped$"):
        traffic.compose_traffic(Module("started", dict(api=False), stuck=("api",)))


def test_the_spec_names_every_platform_and_state():
    assert traffic.TRAFFIC_SPEC["platform"]["choices"] == ["kubernetes", "compose", "server", "swarm"]
    assert traffic.TRAFFIC_SPEC["state"]["choices"] == ["stopped", "started"]
