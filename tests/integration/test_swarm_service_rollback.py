"""rollback.core.swarm_service_rollback on the lab's dockerd, a real single-node swarm.

Services of the demo app are deployed like runbook 002 does (``docker service update --image``) and rolled back
by image and by previous spec. The behaviour is tested on services of this test (free ports, the lab service's
update settings), which ``labctl deploy`` runs of other tests cannot disturb; the last test rolls the lab's own
service (LAB_SWARM_SERVICE on LAB_SWARM_PORT) back from 1.0.1 and leaves it at 1.0.0.
"""

import contextlib
import io
import json
import subprocess
import time
import urllib.error
import urllib.request

import docker
import pytest
from support.demo_images import demo_image
from support.http_servers import free_port

GOOD, BAD = demo_image("1.0.0"), demo_image("1.0.1")
BROKEN = "rollback-core-test/broken:1"


@pytest.fixture(scope="module")
def client(lab):
    return docker.DockerClient(base_url=lab["DOCKER_HOST"])


@contextlib.contextmanager
def demo_service(client):
    """A new swarm service of the demo app at 1.0.0 on a free port, set up like the lab's; removed after."""
    port = free_port()
    name = "rollback-core-test-swarm-%d" % port
    service = client.services.create(
        GOOD, name=name, networks=["host"], env=["PORT=%d" % port],
        update_config=docker.types.UpdateConfig(order="stop-first", monitor=2000000000, failure_action="pause"),
        rollback_config=docker.types.RollbackConfig(order="stop-first", monitor=2000000000, failure_action="pause"))
    try:
        assert app_version(port, timeout=60) == "1.0.0"
        yield name, port
    finally:
        service.remove()
        deadline = time.monotonic() + 30
        # The low-level list: containers.list() inspects each one, and swarm removes them meanwhile (404).
        while client.api.containers(all=True, filters={"label": "com.docker.swarm.service.name=" + name}):
            assert time.monotonic() < deadline, "the containers of %s were not removed" % name
            time.sleep(0.5)


@pytest.fixture(scope="module")
def swarm_service(client):
    with demo_service(client) as service:
        yield service


@pytest.fixture
def bad_release(lab_env, client, swarm_service):
    """The test's service running 1.0.1, deployed over 1.0.0: its previous spec is 1.0.0."""
    name, port = swarm_service
    if spec_image(client, name) != GOOD:
        deploy(lab_env, name, GOOD)
    deploy(lab_env, name, BAD)
    assert app_version(port) == "1.0.1"
    return swarm_service


def deploy(lab_env, service, image):
    """What a pipeline does (runbook 002): docker service update --image, until converged."""
    completed = subprocess.run(["docker", "service", "update", "--image", image, "--no-resolve-image",
                                "--detach=false", "--quiet", service], env=lab_env, capture_output=True, text=True,
                               timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr


def inspect(client, service):
    return client.api.inspect_service(service)


def spec_image(client, service):
    return inspect(client, service)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def app_version(port, timeout=20):
    """The version the app on ``port`` answers with (the last one seen, after ``timeout``, or None)."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/version" % port, timeout=2) as response:
                seen = json.load(response)["version"]
                return seen
        except (urllib.error.URLError, OSError, ValueError):
            seen = None
        if time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def args(name, **extra):
    return dict(dict(name=name, wait_timeout=120, wait_sleep=0.5), **extra)


def test_rollback_by_image_like_runbook_002(ansible_module, client, bad_release):
    name, port = bad_release
    version_before = inspect(client, name)["Version"]["Index"]
    check = ansible_module("swarm_service_rollback", args(name, image=GOOD), check=True, diff=True)
    assert not check.failed and check.result["changed"], check.stdout
    assert check.result["before_image"] == BAD and check.result["after_image"] == GOOD
    assert '-    "image": "%s"' % BAD in check.stdout and '+    "image": "%s"' % GOOD in check.stdout
    assert inspect(client, name)["Version"]["Index"] == version_before, "check mode changed the service"
    assert app_version(port) == "1.0.1"

    run = ansible_module("swarm_service_rollback", args(name, image=GOOD), diff=True)
    assert not run.failed and run.result["changed"], run.stdout
    result = run.result
    assert (result["from_version"], result["to_version"]) == ("1.0.1", "1.0.0")
    assert result["changes"] == ["TaskTemplate.ContainerSpec.Image"]
    assert result["update_state"] == "completed" and result["tasks_running"] == 1 and result["task_images"] == [GOOD]
    assert result["spec_version"] > version_before
    assert app_version(port, timeout=0) == "1.0.0", "the module returned before the app answered as 1.0.0"
    service = inspect(client, name)
    assert service["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == BAD
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["PORT=%d" % port], "only the image changes"

    again = ansible_module("swarm_service_rollback", args(name, image=GOOD))
    assert not again.failed and not again.result["changed"], again.stdout
    assert inspect(client, name)["Version"]["Index"] == result["spec_version"], "a second run updated the service"


def test_rollback_to_the_previous_spec_like_docker_service_rollback(ansible_module, client, bad_release):
    name, port = bad_release
    version_before = inspect(client, name)["Version"]["Index"]
    check = ansible_module("swarm_service_rollback", args(name, previous=True), check=True, diff=True)
    assert not check.failed and check.result["changed"] and check.result["after_image"] == GOOD, check.stdout
    assert inspect(client, name)["Version"]["Index"] == version_before, "check mode changed the service"

    run = ansible_module("swarm_service_rollback", args(name, previous=True))
    assert not run.failed and run.result["changed"], run.stdout
    assert (run.result["before_image"], run.result["after_image"]) == (BAD, GOOD)
    assert run.result["update_state"] == "rollback_completed" and run.result["task_images"] == [GOOD]
    assert app_version(port, timeout=0) == "1.0.0", "the module returned before the app answered as 1.0.0"
    service = inspect(client, name)
    assert service["UpdateStatus"]["Message"] == "rollback completed", "swarm itself rolled back"
    assert service["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"] == BAD

    # A second docker service rollback would go forward to 1.0.1 again: the module leaves the service alone.
    again = ansible_module("swarm_service_rollback", args(name, previous=True))
    assert not again.failed and not again.result["changed"], again.stdout
    assert inspect(client, name)["Version"]["Index"] == run.result["spec_version"]
    assert app_version(port) == "1.0.0"


BAD_INPUT = [
    (dict(name="no-such-service", image=GOOD), "swarm service no-such-service not found on unix://"),
    (dict(image="rollback-demo:9.9.9"), "image rollback-demo:9.9.9 is neither present on the Docker host"),
    (dict(image=GOOD, previous=True), "image and previous=true exclude each other"),
    (dict(), "give image (the image to run) or previous=true"),
    (dict(image=GOOD, docker_host="unix:///nonexistent/docker.sock"),
     "cannot reach the Docker engine (DOCKER_HOST=unix:///nonexistent/docker.sock)"),
]


def test_bad_input_fails_with_one_line_and_leaves_the_service(ansible_module, client, bad_release):
    name, port = bad_release
    before = inspect(client, name)
    for bad_args, message in BAD_INPUT:
        run = ansible_module("swarm_service_rollback", dict(dict(name=name, wait_timeout=30), **bad_args))
        assert run.failed and message in run.result["msg"], (bad_args, run.stdout)
        assert "\n" not in run.result["msg"]
        after = inspect(client, name)
        assert after["Version"] == before["Version"] and after["Spec"] == before["Spec"], bad_args
    assert app_version(port) == "1.0.1"


@pytest.fixture
def broken_image(client):
    """An image of the demo app whose container exits at once, as a release that cannot start."""
    client.images.build(fileobj=io.BytesIO(
        b'FROM %s\nCMD ["/bin/sh", "-c", "echo broken release; exit 3"]\n' % GOOD.encode()),
        tag=BROKEN, rm=True, network_mode="none")
    yield BROKEN
    client.images.remove(BROKEN, force=True)


def test_never_updated_service_and_an_update_swarm_pauses(ansible_module, client, broken_image):
    with demo_service(client) as (name, port):
        never = ansible_module("swarm_service_rollback", args(name, previous=True))
        assert never.failed and never.result["msg"] == (
            "swarm service %s has no previous spec (it was never updated): give image" % name), never.stdout
        assert "PreviousSpec" not in inspect(client, name)

        paused = ansible_module("swarm_service_rollback", args(name, image=broken_image, wait_timeout=60))
        assert paused.failed and paused.result["changed"] is True, paused.stdout
        assert "the update of swarm service %s to %s is paused" % (name, broken_image) in paused.result["msg"]
        assert "task errors: %s failed: task: non-zero exit (3)" % broken_image in paused.result["msg"]
        assert inspect(client, name)["UpdateStatus"]["State"] == "paused"

        back = ansible_module("swarm_service_rollback", args(name, previous=True))
        assert not back.failed and back.result["changed"], back.stdout
        assert (back.result["before_image"], back.result["after_image"]) == (broken_image, GOOD)
        assert back.result["update_state"] == "rollback_completed" and back.result["task_images"] == [GOOD]
        assert app_version(port, timeout=0) == "1.0.0"


def test_the_lab_service_rolls_back_from_the_bad_release_and_stays_at_1_0_0(ansible_module, lab, lab_env, client):
    name, port = lab["LAB_SWARM_SERVICE"], lab["LAB_SWARM_PORT"]
    deploy(lab_env, name, BAD)
    try:
        assert app_version(port) == "1.0.1"
        run = ansible_module("swarm_service_rollback", args(name, image=GOOD))
        assert not run.failed and run.result["changed"], run.stdout
        assert run.result["task_images"] == [GOOD] and app_version(port, timeout=0) == "1.0.0"
    finally:
        if spec_image(client, name) != GOOD:
            deploy(lab_env, name, GOOD)
    assert app_version(port) == "1.0.0"
