"""Swarm rollback logic: image references, spec diffs, the plan and the convergence predicate.

The service and task dicts are shaped like the Engine API's (recorded from the lab's dockerd).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.rollback.core.plugins.module_utils import swarm
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

SPEC = {
    "Name": "app-backend",
    "Labels": {},
    "TaskTemplate": {"ContainerSpec": {"Image": "registry.example.com/app-backend:bad", "Env": ["PORT=8080"]},
                     "ForceUpdate": 0, "Networks": [{"Target": "host-net-id"}], "Runtime": "container"},
    "Mode": {"Replicated": {"Replicas": 2}},
    "UpdateConfig": {"FailureAction": "pause", "Monitor": 2000000000, "Order": "stop-first", "Parallelism": 1},
}
BAD = "registry.example.com/app-backend:bad"
GOOD = "registry.example.com/app-backend:good"


def service(image=BAD, previous=GOOD, state=None, message=None, replicas=2):
    spec = swarm.with_image(SPEC, image)
    spec["Mode"] = {"Replicated": {"Replicas": replicas}}
    found = {"ID": "svc1", "Version": {"Index": 40}, "Spec": spec}
    if previous:
        found["PreviousSpec"] = swarm.with_image(SPEC, previous)
        del found["PreviousSpec"]["Labels"]  # swarm drops empty sections from PreviousSpec
    if state:
        found["UpdateStatus"] = {"State": state, "Message": message or state}
    return found


def task(image, state="running", desired="running", err=None, stamp="2025-11-12T10:00:00Z"):
    status = {"State": state, "Message": state, "Timestamp": stamp}
    if err:
        status["Err"] = err
    return {"ID": "t-%s-%s" % (image, state), "Spec": {"ContainerSpec": {"Image": image}}, "Status": status,
            "DesiredState": desired}


@pytest.mark.parametrize("running,wanted,same", [
    ("rollback-demo:1.0.0", "rollback-demo:1.0.0", True),
    ("rollback-demo:1.0.0", "rollback-demo:1.0.1", False),
    ("nginx", "nginx:latest", True),
    ("docker.io/library/nginx:1.25", "nginx:1.25", True),
    ("app:1@sha256:aaa", "app:1", True),
    ("app:1@sha256:aaa", "app:1@sha256:bbb", False),
    ("app:1@sha256:aaa", "app@sha256:aaa", True),
    ("registry:5000/app:1", "registry:5000/app", False),
    ("registry:5000/app", "registry:5000/app:latest", True),
    ("other/app:1", "app:1", False),
])
def test_same_image(running, wanted, same):
    assert swarm.same_image(running, wanted) is same


def test_version_of_names_the_tag_or_digest():
    assert swarm.version_of("registry.example.com:5000/app:4f2a9c1") == "4f2a9c1"
    assert swarm.version_of("app@sha256:abc") == "sha256:abc"
    assert swarm.version_of("app") == "latest"


def test_with_image_changes_only_the_image_and_leaves_the_spec_alone():
    target = swarm.with_image(SPEC, GOOD)
    assert swarm.spec_image(target) == GOOD and swarm.spec_image(SPEC) == BAD
    before, after = swarm.spec_diff(SPEC, target)
    assert before == {"TaskTemplate.ContainerSpec.Image": BAD} and after == {"TaskTemplate.ContainerSpec.Image": GOOD}


def test_spec_diff_lists_every_changed_path_and_ignores_empty_sections():
    changed = copy.deepcopy(SPEC)
    del changed["Labels"]
    changed["TaskTemplate"]["ContainerSpec"]["Env"] = ["PORT=9090"]
    changed["Mode"]["Replicated"]["Replicas"] = 3
    changed["UpdateConfig"].pop("Monitor")
    before, after = swarm.spec_diff(SPEC, changed)
    assert sorted(after) == ["Mode.Replicated.Replicas", "TaskTemplate.ContainerSpec.Env", "UpdateConfig.Monitor"]
    assert before["Mode.Replicated.Replicas"] == 2 and after["Mode.Replicated.Replicas"] == 3
    assert before["UpdateConfig.Monitor"] == 2000000000 and after["UpdateConfig.Monitor"] is None
    assert swarm.spec_diff(SPEC, copy.deepcopy(SPEC)) == ({}, {})


def test_plan_image_updates_only_when_the_image_differs():
    target, action = swarm.plan(service(), image=GOOD)
    assert action == "update" and swarm.spec_image(target) == GOOD
    pinned = service(image=GOOD + "@sha256:abc")
    assert swarm.plan(pinned, image=GOOD) == (pinned["Spec"], None)


def test_plan_previous_rolls_back_to_the_previous_spec():
    target, action = swarm.plan(service(), previous=True)
    assert action == "rollback" and swarm.spec_image(target) == GOOD


@pytest.mark.parametrize("state", ["rollback_started", "rollback_completed"])
def test_plan_previous_after_a_rollback_changes_nothing(state):
    # The previous spec of a rolled-back service is the bad release: a second rollback would go forward.
    rolled_back = service(image=GOOD, previous=BAD, state=state)
    assert swarm.plan(rolled_back, previous=True) == (rolled_back["Spec"], None)


def test_plan_previous_equal_to_the_spec_changes_nothing():
    same = service(image=GOOD, previous=GOOD, state="completed")
    assert swarm.plan(same, previous=True)[1] is None


def test_plan_previous_of_a_paused_update_rolls_back():
    assert swarm.plan(service(state="paused"), previous=True)[1] == "rollback"


@pytest.mark.parametrize("found,kwargs,message", [
    (service(previous=None), dict(previous=True), "swarm service app-backend has no previous spec (it was never "
                                                  "updated): give image"),
    (service(state="rollback_paused", message="rollback paused"), dict(previous=True),
     "the last rollback of swarm service app-backend is paused (rollback paused)"),
    (service(), dict(image=GOOD, previous=True), "image and previous=true exclude each other"),
    (service(), dict(), "give image (the image to run) or previous=true"),
])
def test_plan_refuses(found, kwargs, message):
    with pytest.raises(RollbackError) as raised:
        swarm.plan(found, **kwargs)
    assert message in raised.value.msg


def test_converged_when_every_expected_task_runs_the_image():
    tasks = [task(GOOD), task(GOOD), task(BAD, state="shutdown", desired="shutdown")]
    done, state = swarm.convergence(service(image=GOOD, state="completed"), tasks, GOOD)
    assert done and "2/2 task(s) running %s" % GOOD in state


@pytest.mark.parametrize("state,tasks", [
    # Just after the update call: swarm has reset UpdateStatus, the old tasks still run.
    (None, [task(BAD), task(BAD)]),
    ("updating", [task(GOOD), task(BAD, desired="shutdown")]),
    ("updating", [task(GOOD), task(GOOD)]),  # swarm still monitors the new tasks
    ("rollback_started", [task(GOOD), task(GOOD)]),
    ("completed", [task(GOOD), task(GOOD, state="starting")]),
    ("completed", [task(GOOD), task(GOOD), task(BAD, desired="shutdown")]),
])
def test_not_converged_while_updating_or_tasks_are_missing(state, tasks):
    done, text = swarm.convergence(service(image=GOOD, state=state), tasks, GOOD)
    assert not done, text


def test_first_update_without_update_status_converges_on_tasks():
    assert swarm.convergence(service(image=GOOD), [task(GOOD), task(GOOD)], GOOD)[0]


def test_zero_replicas_converge_with_no_task_running():
    assert swarm.convergence(service(image=GOOD, replicas=0, state="completed"), [], GOOD)[0]


def test_global_service_expects_the_tasks_swarm_wants_running():
    found = service(image=GOOD, state="completed")
    found["Spec"]["Mode"] = {"Global": {}}
    tasks = [task(GOOD), task(GOOD, state="pending")]
    assert not swarm.convergence(found, tasks, GOOD)[0]
    assert swarm.convergence(found, [task(GOOD), task(GOOD)], GOOD)[0]


def test_paused_update_fails_with_the_task_errors_of_the_image():
    exited = "task: non-zero exit (3)"
    tasks = [task(GOOD, "rejected", "shutdown", err="No such image: %s" % GOOD, stamp="2025-11-12T10:00:02Z"),
             task(GOOD, "failed", "shutdown", err=exited, stamp="2025-11-12T10:00:03Z"),
             task(GOOD, "failed", "shutdown", err=exited, stamp="2025-11-12T10:00:01Z"),
             task("other:1", "failed", "shutdown", err="unrelated")]
    found = service(image=GOOD, state="paused", message="update paused due to failure of task x")
    with pytest.raises(RollbackError) as raised:
        swarm.convergence(found, tasks, GOOD)
    assert raised.value.msg == (
        "the update of swarm service app-backend to %s is paused: update paused due to failure of task x; task errors: "
        "%s failed: task: non-zero exit (3) | %s rejected: No such image: %s" % (GOOD, GOOD, GOOD, GOOD))


def test_update_rolled_back_by_swarm_fails():
    # failure_action=rollback: swarm swapped the spec back, so it no longer asks for the wanted image.
    found = service(image=BAD, previous=GOOD, state="rollback_completed", message="rollback completed")
    with pytest.raises(RollbackError, match="now asks for %s instead of %s" % (BAD, GOOD)):
        swarm.convergence(found, [task(BAD)], GOOD)


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.params = dict(name="app-backend", image=None, previous=False, docker_host=None, wait=True,
                           wait_timeout=0, wait_sleep=0.0)
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = True

    def changed_result(self, before, after, **result):
        result.update(changed=before != after, diff=dict(before=before, after=after))
        return result


class FakeEngine:
    """SwarmEngine's surface, over canned service states."""

    def __init__(self, states, tasks, manager=True):
        self.states, self.task_list, self.manager, self.sent = list(states), tasks, manager, []

    def require_manager(self):
        if not self.manager:
            raise RollbackError("not a swarm manager")

    def service(self, name):
        return self.states[0] if len(self.states) == 1 else self.states.pop(0)

    def tasks(self, service):
        return self.task_list

    def require_image(self, image):
        self.sent.append(("require_image", image))

    def update(self, service, spec):
        self.sent.append(("update", swarm.spec_image(spec)))

    def rollback(self, service):
        self.sent.append(("rollback", service["ID"]))


class Waiter:
    def __init__(self, enabled=True):
        self.enabled = enabled

    def wait(self, probe, what):
        if not self.enabled:
            return None
        done, state = probe()
        if not done:
            raise WaitTimeout("timed out after 0s waiting for %s: %s" % (what, state))
        return state


def test_rollback_by_image_updates_waits_and_reports():
    engine = FakeEngine([service(), service(image=GOOD, state="completed")], [task(GOOD), task(GOOD)])
    result = swarm.rollback(FakeModule(image=GOOD), engine, Waiter())
    assert engine.sent == [("require_image", GOOD), ("update", GOOD)]
    assert result["changed"] and result["before_image"] == BAD and result["after_image"] == GOOD
    assert result["from_version"] == "bad" and result["to_version"] == "good"
    assert result["changes"] == ["TaskTemplate.ContainerSpec.Image"] and result["tasks_running"] == 2
    assert result["diff"]["before"]["image"] == BAD and result["update_state"] == "completed"


def test_rollback_in_check_mode_validates_but_sends_nothing():
    engine = FakeEngine([service()], [task(BAD), task(BAD)])
    result = swarm.rollback(FakeModule(check_mode=True, previous=True), engine, Waiter(enabled=False))
    assert engine.sent == [("require_image", GOOD)]
    assert result["changed"] and result["after_image"] == GOOD and result["task_images"] == [BAD]


def test_rollback_already_done_sends_nothing():
    engine = FakeEngine([service(image=GOOD, state="completed")], [task(GOOD), task(GOOD)])
    result = swarm.rollback(FakeModule(image=GOOD), engine, Waiter())
    assert engine.sent == [] and not result["changed"] and result["changes"] == []


def test_rollback_not_converging_fails_and_says_the_service_changed():
    engine = FakeEngine([service(), service(image=GOOD, state="updating")], [task(BAD), task(BAD)])
    with pytest.raises(WaitTimeout) as raised:
        swarm.rollback(FakeModule(image=GOOD), engine, Waiter())
    assert raised.value.details["changed"] is True and raised.value.details["after_image"] == GOOD
    assert "update updating, 0/2 task(s) running %s, 2 running another image" % GOOD in raised.value.msg


def test_rollback_on_a_worker_fails_before_reading_anything():
    engine = FakeEngine([], [], manager=False)
    with pytest.raises(RollbackError, match="not a swarm manager"):
        swarm.rollback(FakeModule(image=GOOD), engine, Waiter())
    assert engine.sent == []


class FakeErrors:
    class DockerException(Exception):
        pass

    class APIError(DockerException):
        explanation = None

    class NotFound(APIError):
        pass


class FakeClient:
    def __init__(self, swarm_info):
        self.swarm_info = swarm_info
        self.api = object()

    def ping(self):
        return True

    def info(self):
        return {"Swarm": self.swarm_info}


def engine_for(swarm_info):
    class Docker:
        @staticmethod
        def from_env(environment):
            assert environment["DOCKER_HOST"] == "tcp://manager:2376"
            return FakeClient(swarm_info)

    return swarm.SwarmEngine({"docker_host": "tcp://manager:2376"}, sdk=(Docker, FakeErrors))


@pytest.mark.parametrize("swarm_info,state", [
    ({"LocalNodeState": "inactive", "ControlAvailable": False}, "inactive"),
    ({"LocalNodeState": "active", "ControlAvailable": False}, "active"),
    ({}, "unknown"),
])
def test_engine_that_is_not_a_manager_is_refused(swarm_info, state):
    with pytest.raises(RollbackError) as raised:
        engine_for(swarm_info).require_manager()
    assert raised.value.msg == ("the Docker engine at tcp://manager:2376 is not a swarm manager (swarm state: %s): run "
                                "this against a manager node" % state)


def test_engine_that_is_a_manager_passes():
    engine_for({"LocalNodeState": "active", "ControlAvailable": True}).require_manager()


def test_unreachable_engine_is_one_line():
    class Docker:
        @staticmethod
        def from_env(environment):
            raise FakeErrors.DockerException("Error while fetching server API version: connection refused")

    with pytest.raises(RollbackError) as raised:
        swarm.SwarmEngine({"docker_host": "tcp://manager:2376"}, sdk=(Docker, FakeErrors))
    assert raised.value.msg == ("cannot reach the Docker engine (DOCKER_HOST=tcp://manager:2376): Error while fetching "
                                "server API version: connection refused")


class FakeResponse:
    def __init__(self, status_code, body):
        self.status_code, self.body, self.text = status_code, body, str(body)

    def json(self):
        return self.body


class FakeApi:
    base_url, api_version, timeout = "http+docker://localhost", "1.41", 60

    def __init__(self, response):
        self.response, self.posts = response, []

    def post(self, url, **kwargs):
        self.posts.append((url, kwargs))
        return self.response


def engine_with_api(api):
    engine = swarm.SwarmEngine.__new__(swarm.SwarmEngine)
    engine.api, engine.errors, engine.host = api, FakeErrors, "tcp://manager:2376"
    return engine


def test_engine_rollback_asks_swarm_for_the_previous_spec():
    api = FakeApi(FakeResponse(200, {"Warnings": None}))
    engine_with_api(api).rollback(service())
    assert api.posts == [("http+docker://localhost/v1.41/services/svc1/update",
                          dict(json=service()["Spec"], params={"version": 40, "rollback": "previous"}, timeout=60))]


def test_engine_rollback_refused_is_one_line():
    api = FakeApi(FakeResponse(400, {"message": "rpc error: code = FailedPrecondition desc = service svc1 does not "
                                                "have a previous spec"}))
    with pytest.raises(RollbackError) as raised:
        engine_with_api(api).rollback(service())
    assert raised.value.msg == ("the Docker engine (DOCKER_HOST=tcp://manager:2376) refused the rollback of swarm "
                                "service app-backend: HTTP 400: rpc error: code = FailedPrecondition desc = service "
                                "svc1 does not have a previous spec")


# Traffic at level 3: scaled to 0 and back, the count in a service label (as docker service scale sends the spec).

class ScaleEngine(FakeEngine):
    """Records the specs sent; the service then has them."""

    def update(self, service, spec):
        self.sent.append(("update", spec["Mode"]["Replicated"]["Replicas"], dict(spec["Labels"])))
        self.states = [dict(self.states[0], Spec=spec)]


def traffic_module(state, check_mode=False, replicas=None):
    return FakeModule(check_mode=check_mode, state=state, replicas=replicas)


def test_stop_scales_to_0_keeps_the_count_in_a_label_and_waits_for_no_task():
    engine = ScaleEngine([service(image=GOOD, replicas=3)], [task(GOOD, state="shutdown", desired="shutdown")])
    result = swarm.traffic(traffic_module("stopped"), engine, Waiter())
    assert engine.sent == [("update", 0, {swarm.SAVED_REPLICAS: "3"})]
    assert result["changed"] and (result["replicas_before"], result["replicas_after"]) == (3, 0)
    assert result["diff"] == dict(before=dict(replicas=3, saved=None), after=dict(replicas=0, saved="3"))


def test_stop_waits_while_a_task_is_still_running():
    engine = ScaleEngine([service(replicas=2)], [task(BAD, state="running", desired="shutdown")])
    with pytest.raises(WaitTimeout, match="no task left: 1 task.s. still running"):
        swarm.traffic(traffic_module("stopped"), engine, Waiter())


def test_stop_again_keeps_the_first_saved_count_and_changes_nothing():
    stopped = service(replicas=0)
    stopped["Spec"]["Labels"] = {swarm.SAVED_REPLICAS: "3"}
    engine = ScaleEngine([stopped], [])
    result = swarm.traffic(traffic_module("stopped"), engine, Waiter())
    assert engine.sent == [] and not result["changed"]


def test_resume_restores_exactly_the_saved_count_and_removes_the_label():
    stopped = service(image=GOOD, replicas=0)
    stopped["Spec"]["Labels"] = {swarm.SAVED_REPLICAS: "3", "team": "api"}
    engine = ScaleEngine([stopped], [task(GOOD), task(GOOD), task(GOOD)])
    result = swarm.traffic(traffic_module("started"), engine, Waiter())
    assert engine.sent == [("update", 3, {"team": "api"})], "other labels kept"
    assert result["changed"] and result["replicas_after"] == 3


def test_resume_without_a_saved_count_needs_replicas():
    engine = ScaleEngine([service(replicas=0)], [])
    with pytest.raises(RollbackError, match="no saved replica count .* give replicas to resume it"):
        swarm.traffic(traffic_module("started"), engine, Waiter())
    assert engine.sent == []
    assert swarm.traffic(traffic_module("started", replicas=2), ScaleEngine([service(replicas=0)], [task(BAD)] * 2),
                         Waiter())["replicas_after"] == 2


def test_a_never_stopped_service_resumes_as_it_is():
    engine = ScaleEngine([service(image=GOOD, replicas=2)], [task(GOOD), task(GOOD)])
    assert not swarm.traffic(traffic_module("started"), engine, Waiter())["changed"] and engine.sent == []


def test_check_mode_sends_nothing():
    engine = ScaleEngine([service(replicas=2)], [task(BAD)] * 2)
    result = swarm.traffic(traffic_module("stopped", check_mode=True), engine, Waiter(enabled=False))
    assert result["changed"] and engine.sent == []


def test_a_global_service_cannot_stop_and_is_refused_before_any_change():
    glob = service()
    glob["Spec"]["Mode"] = {"Global": {}}
    engine = ScaleEngine([glob], [])
    with pytest.raises(RollbackError, match="is in global mode: it cannot be scaled to 0; stop its traffic at its "
                                            "front instead"):
        swarm.traffic(traffic_module("stopped"), engine, Waiter())
    assert engine.sent == []


def test_the_label_survives_an_image_rollback_in_between():
    stopped = swarm.scaled(SPEC, 0, "2")
    assert swarm.with_image(stopped, GOOD)["Labels"] == {swarm.SAVED_REPLICAS: "2"}
    assert swarm.with_image(stopped, GOOD)["Mode"] == {"Replicated": {"Replicas": 0}}
