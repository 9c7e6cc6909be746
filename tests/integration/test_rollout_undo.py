"""rollout_undo through Ansible on the lab's real Docker engine (Compose) and real unit files (server)."""

import os
import subprocess

import pytest
from support.compose_project import Project, health
from support.demo_images import demo_image
from support.server_release import current_release, point_current, systemctl


# Compose -------------------------------------------------------------------------------------------------------
# The layouts, the history, pulls and multi-file projects: test_rollout_undo_compose.py. Here: the lab's project.

def deploy_compose(project, tag, wait=False):
    """What the lab's pipeline does (labctl deploy): the tag in .env, docker compose up -d, a history line."""
    project.write(".env", "DEMO_TAG=%s\n" % tag)
    project.compose("up", "-d", *(["--wait"] if wait else []))
    project.record("web", demo_image(tag))


@pytest.fixture
def lab_project(lab, lab_env):
    return Project(lab["LAB_COMPOSE_DIR"], lab, lab_env, lab["LAB_COMPOSE_PROJECT"])


@pytest.fixture
def bad_compose_release(lab_project):
    deploy_compose(lab_project, "1.0.1")
    assert lab_project.images() == {"web": demo_image("1.0.1")}
    yield
    deploy_compose(lab_project, "1.0.0", wait=True)


def compose_args(lab, **extra):
    return dict(dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"], wait_timeout=60), **extra)


def test_compose_undo_returns_to_the_previous_image(ansible_module, lab, lab_project, bad_compose_release):
    check = ansible_module("rollout_undo", compose_args(lab), check=True, diff=True)
    assert not check.failed, check.stdout
    assert (check.result["changed"], check.result["from_version"], check.result["to_version"]) == (True, "1.0.1",
                                                                                                   "1.0.0")
    assert lab_project.images() == {"web": demo_image("1.0.1")} and lab_project.read(".env") == "DEMO_TAG=1.0.1\n"
    run = ansible_module("rollout_undo", compose_args(lab), diff=True)
    assert not run.failed, run.stdout
    assert '-        "running": "%s"' % demo_image("1.0.1") in run.stdout
    assert '+        "running": "%s"' % demo_image("1.0.0") in run.stdout
    assert "-DEMO_TAG=1.0.1" in run.stdout and "+DEMO_TAG=1.0.0" in run.stdout
    assert lab_project.images() == {"web": demo_image("1.0.0")} and lab_project.read(".env") == "DEMO_TAG=1.0.0\n"
    assert health(lab["LAB_COMPOSE_PORT"]) == (200, "1.0.0")
    again = ansible_module("rollout_undo", compose_args(lab, to_version="1.0.0"))
    assert again.result["changed"] is False


def test_compose_missing_image_fails_before_any_change(ansible_module, lab, lab_project, bad_compose_release):
    run = ansible_module("rollout_undo", compose_args(lab, to_version="9.9.9"))
    assert run.failed
    assert run.result["msg"] == ("registry %s has no image %s (manifest unknown: manifest unknown): nothing was "
                                 "changed" % (lab["LAB_REGISTRY"], demo_image("9.9.9")))
    assert lab_project.images() == {"web": demo_image("1.0.1")} and lab_project.read(".env") == "DEMO_TAG=1.0.1\n"


def test_compose_bad_input(ansible_module, lab, lab_project):
    run = ansible_module("rollout_undo", compose_args(lab, services=["nope"]))
    assert run.failed and run.result["msg"] == "service(s) nope not in compose project demo"
    run = ansible_module("rollout_undo", compose_args(lab, project_src="/nonexistent"))
    assert run.failed and run.result["msg"] == "project_src /nonexistent is not a directory"
    run = ansible_module("rollout_undo", compose_args(lab), env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert run.failed and run.result["msg"].startswith("cannot reach the Docker engine (DOCKER_HOST=unix:///nonex")
    assert lab_project.images() == {"web": demo_image("1.0.0")}


# Server ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def bad_server_release(lab):
    point_current(lab, "v1.0.1")
    yield
    point_current(lab, "v1.0.0")


@pytest.fixture
def server_env(lab, lab_env):
    """The lab's systemctl first on PATH, as a server's own systemctl would be."""
    return {"PATH": lab["LAB_BIN"] + os.pathsep + lab_env["PATH"]}


def server_args(lab, **extra):
    return dict(dict(platform="server", name="demo", releases_dir=lab["LAB_SERVER_RELEASES_DIR"],
                     units=[lab["LAB_SERVER_UNIT"]], wait_timeout=30, wait_sleep=0.2), **extra)


def test_server_undo_switches_current_restarts_and_keeps_the_bad_release(
        ansible_module, lab, bad_server_release, server_env):
    assert health(lab["LAB_SERVER_PORT"]) == (503, "1.0.1")
    run = ansible_module("rollout_undo", server_args(lab), diff=True, env=server_env)
    assert not run.failed, run.stdout
    assert (run.result["from_version"], run.result["to_version"]) == ("v1.0.1", "v1.0.0")
    assert (run.result["service"], run.result["platform"]) == ("demo", "server")
    assert '-    "release": "v1.0.1"' in run.stdout and '+    "release": "v1.0.0"' in run.stdout
    assert current_release(lab) == "v1.0.0"
    assert health(lab["LAB_SERVER_PORT"]) == (200, "1.0.0")
    assert systemctl(lab, "is-active", lab["LAB_SERVER_UNIT"]).stdout.strip() == "active"
    assert os.path.isdir(os.path.join(lab["LAB_SERVER_RELEASES_DIR"], "releases", "v1.0.1"))
    again = ansible_module("rollout_undo", server_args(lab, to_version="v1.0.0"), env=server_env)
    assert again.result["changed"] is False


def test_server_failing_before_start_switches_nothing(ansible_module, lab, bad_server_release, server_env):
    run = ansible_module("rollout_undo", server_args(lab, before_start="false"), env=server_env)
    assert run.failed and run.result["msg"].startswith("before_start failed in ")
    assert current_release(lab) == "v1.0.1"


SERVER_BAD_INPUT = [
    (dict(to_version="v9.9.9"), "release v9.9.9 not found in"),
    (dict(releases_dir="/nonexistent"), "releases_dir /nonexistent has no releases/ directory"),
    (dict(units=["nope.service"]), "unit nope.service not found"),
    (dict(platform="swarm"), "value of platform must be one of: kubernetes, compose, server, got: swarm"),
]


def test_server_bad_input_changes_nothing(module_batch, lab, bad_server_release, server_env):
    runs = module_batch([("rollout_undo", server_args(lab, **extra)) for extra, _message in SERVER_BAD_INPUT],
                        env=server_env, state=current_release)  # one playbook, a task per case (module_batch.py)
    for (extra, message), run in zip(SERVER_BAD_INPUT, runs):
        assert run.failed and message in run.result.get("msg", ""), (extra, run.stdout)
        assert run.state == "v1.0.1", extra


def test_git_tag_release_back_to_the_previous_tag(ansible_module, lab):
    repo = lab["LAB_SERVER_REPO_DIR"]

    def head_tag():
        return subprocess.run(["git", "-C", repo, "tag", "--points-at", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.split()

    subprocess.run(["git", "-C", repo, "checkout", "--quiet", "v1.0.1"], check=True)
    try:
        run = ansible_module("rollout_undo", dict(platform="server", name="demo", repo_dir=repo))
        assert not run.failed, run.stdout
        assert (run.result["from_version"], run.result["to_version"]) == ("v1.0.1", "v1.0.0")
        assert head_tag() == ["v1.0.0"]
    finally:
        subprocess.run(["git", "-C", repo, "checkout", "--quiet", "v1.0.0"], check=True)
