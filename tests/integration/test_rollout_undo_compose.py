"""rollout_undo platform=compose on the lab's real Docker engine, Compose v2 and registry (issue 19).

After a rollback the project's own configuration names the release, so ``docker compose up -d --dry-run`` has
nothing to do and a project brought down and up again stays on it, for the three layouts compose projects use:
the tag from a variable (``.env``), the compose files in git (runbook 004's ``git checkout``), and a literal tag
(a pinned override in ``COMPOSE_FILE``). The deploy history decides what ran before; images not on the host
are pulled from the lab's registry (htpasswd auth), and refused credentials or missing tags change nothing.
"""

import io
import subprocess
import time

import docker
import pytest
from support.compose_project import Project, health, service
from support.http_servers import free_port, free_ports


def image(lab, tag, repository="rollback-demo"):
    return "%s/%s:%s" % (lab["LAB_REGISTRY"], repository, tag)


def undo(ansible_module, project, check=False, diff=False, env=None, verbosity=0, **extra):
    args = dict(platform="compose", name=project.name, project_src=project.dir, project_name=project.name,
                wait_timeout=60, **extra)
    return ansible_module("rollout_undo", args, check=check, diff=diff, env=env, verbosity=verbosity)


def git(project, *args):
    subprocess.run(["git", "-C", project.dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com"] + list(args),
                   check=True, capture_output=True)


# Persistence: three layouts --------------------------------------------------------------------------------------

def variable_layout(project, lab, port):
    """image: ...:${APP_TAG}, the tag in .env (runbook 000 option B's variable form)."""
    project.write("compose.yaml", "services:\n" + service("web", image(lab, "${APP_TAG:-1.0.0}"), port))
    project.write(".env", "# the release\nAPP_TAG=1.0.1\nDB_PASSWORD=not-for-diffs\n")


def git_layout(project, lab, port):
    """The compose file names the tag and lives in git, one tag per release (runbook 004)."""
    git(project, "init", "-q")
    for tag in ("1.0.0", "1.0.1"):
        project.write("compose.yaml", "services:\n" + service("web", image(lab, tag), port))
        git(project, "add", "compose.yaml")
        git(project, "commit", "-qm", "release " + tag)
        git(project, "tag", "v" + tag)


def literal_layout(project, lab, port):
    """The pipeline rewrote the tag in the file (runbook 000 option B's sed), no git."""
    project.write("compose.yaml", "services:\n" + service("web", image(lab, "1.0.1"), port))


LAYOUTS = {"env": (variable_layout, {}), "git": (git_layout, {"to_version": "v1.0.0"}),
           "override": (literal_layout, {})}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_rollback_survives_the_next_up(ansible_module, lab, lab_env, tmp_path, layout):
    project = Project(tmp_path / layout, lab, lab_env, "persist-" + layout)
    make, extra = LAYOUTS[layout]
    port = free_port()
    make(project, lab, port)
    project.record("web", image(lab, "1.0.0"))
    project.record("web", image(lab, "1.0.1"))
    try:
        project.compose("up", "-d")
        assert project.images() == {"web": image(lab, "1.0.1")}
        before = {name: project.read(name) for name in ("compose.yaml", ".env") if (tmp_path / layout / name).exists()}

        if layout != "git":  # (the git layout's plan is the same code in check mode; one run less)
            check = undo(ansible_module, project, check=True, diff=True, **extra)
            assert not check.failed, check.stdout
            assert check.result["changed"] and check.result["layouts"] == {"web": layout}
            assert {name: project.read(name) for name in before} == before, "check mode writes nothing"
            assert project.images() == {"web": image(lab, "1.0.1")}

        run = undo(ansible_module, project, diff=True, **extra)
        assert not run.failed, run.stdout
        assert run.result["layouts"] == {"web": layout}
        assert (run.result["from_version"], run.result["to_version"]) == ("1.0.1", "1.0.0")
        assert project.images() == {"web": image(lab, "1.0.0")}
        assert health(port) == (200, "1.0.0")
        assert all(open(copy).read() == before.get(copy.split("/")[-1].split(".pre-rollback-")[0], open(copy).read())
                   for copy in run.result["saved_to"]), "the previous files are saved as they were"
        if layout == "env":
            assert "APP_TAG=1.0.0" in project.read(".env") and "DB_PASSWORD=not-for-diffs" in project.read(".env")
            assert "-APP_TAG=1.0.1" in run.stdout and "+APP_TAG=1.0.0" in run.stdout
            assert "not-for-diffs" not in run.stdout, "the env file's other values stay out of --diff"
        elif layout == "git":
            assert project.read("compose.yaml").count(image(lab, "1.0.0")) == 1
        else:
            assert image(lab, "1.0.1") in project.read("compose.yaml"), "the team's file is not edited"
            assert image(lab, "1.0.0") in project.read("compose.rollback.yaml")
            assert "compose.rollback.yaml" in project.read(".env")

        # What the next `docker compose up` (a reboot, the pipeline, an operator) does: nothing.
        assert project.dry_run() == []
        container = project.containers("web")[0].id
        project.compose("up", "-d")
        assert project.containers("web")[0].id == container, "a plain up leaves the rolled-back container"
        project.down()
        project.compose("up", "-d", "--wait")
        assert project.images() == {"web": image(lab, "1.0.0")} and health(port) == (200, "1.0.0")

        last = project.history()[-1]
        assert (last["event"], last["from"], last["image_id"]) == (
            "rollback", image(lab, "1.0.1"), project.containers("web")[0].attrs["Image"])
        if layout == "env":
            again = undo(ansible_module, project, **extra)
            assert not again.failed and again.result["changed"] is False, again.stdout
    finally:
        project.down()


# What ran before ---------------------------------------------------------------------------------------------------

def test_history_picks_what_ran_before_over_a_newer_built_image(ansible_module, lab, lab_env, tmp_path):
    """1.0.0 ran, then 1.0.2: 1.0.1 was built after 1.0.0 (the lab imports 1.0.0, 1.0.1, 1.0.2 in that order) but
    never ran here, so the creation-time guess picks it; the history knows better."""
    project = Project(tmp_path, lab, lab_env, "history")
    variable_layout(project, lab, free_port())
    project.write(".env", "APP_TAG=1.0.2\n")
    project.record("web", image(lab, "1.0.0"))
    project.record("web", image(lab, "1.0.2"))
    try:
        project.compose("up", "-d")
        guess = undo(ansible_module, project, check=True, history_file=str(tmp_path / "none.jsonl"))
        assert not guess.failed, guess.stdout
        assert guess.result["to_version"] == "1.0.1" and "creation time" in guess.result["previous_from"]["web"]
        assert "is a guess, the newest local image of the repository created before" in guess.stderr

        run = undo(ansible_module, project)
        assert not run.failed, run.stdout
        assert run.result["to_version"] == "1.0.0" and run.result["previous_from"]["web"].startswith("history: ")
        assert project.images() == {"web": image(lab, "1.0.0")}
        assert [(e["event"], e["image"]) for e in project.history()][-1] == ("rollback", image(lab, "1.0.0"))
    finally:
        project.down()


# Pulls and the registry -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pull_images(lab, lab_env):
    """A repository of its own in the lab's registry (images built from the demo releases), so that removing
    one locally really removes it."""
    client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
    for tag in ("1.0.0", "1.0.1"):
        target = image(lab, tag, "rollback-pull")
        dockerfile = io.BytesIO(("FROM %s\nLABEL rollback.core.test=pull\n" % image(lab, tag)).encode())
        client.images.build(fileobj=dockerfile, tag=target, rm=True)
        for line in client.images.push(target.rpartition(":")[0], tag=tag, stream=True, decode=True, auth_config=dict(
                username=lab["LAB_REGISTRY_USER"], password=lab["LAB_REGISTRY_PASSWORD"])):
            assert "error" not in line, line
    return client


@pytest.fixture
def pull_project(ansible_module, lab, lab_env, tmp_path, pull_images):
    project = Project(tmp_path, lab, lab_env, "pull")
    web = service("web", image(lab, "${APP_TAG}", "rollback-pull"), free_port())
    project.write("compose.yaml", "services:\n" + web)
    project.write(".env", "APP_TAG=1.0.1\n")
    project.record("web", image(lab, "1.0.0", "rollback-pull"))
    project.record("web", image(lab, "1.0.1", "rollback-pull"))
    project.compose("up", "-d")
    try:
        pull_images.images.remove(image(lab, "1.0.0", "rollback-pull"))
    except Exception:  # noqa: BLE001 - not there: fine
        pass
    yield project
    project.down()


def unchanged(project, lab, pull_images):
    assert project.read(".env") == "APP_TAG=1.0.1\n"
    assert project.images() == {"web": image(lab, "1.0.1", "rollback-pull")}
    assert [e["event"] for e in project.history()] == ["deploy", "deploy"]
    assert not pull_images.images.list(name=image(lab, "1.0.0", "rollback-pull"))


def test_an_image_removed_locally_is_pulled(ansible_module, lab, pull_project, pull_images):
    check = undo(ansible_module, pull_project, check=True)
    assert not check.failed, check.stdout
    assert check.result["images"] == {image(lab, "1.0.0", "rollback-pull"): "in registry"}
    unchanged(pull_project, lab, pull_images)

    run = undo(ansible_module, pull_project)
    assert not run.failed, run.stdout
    assert run.result["images"] == {image(lab, "1.0.0", "rollback-pull"): "pulled"}
    assert pull_project.images() == {"web": image(lab, "1.0.0", "rollback-pull")}


@pytest.mark.parametrize("how", ["registry_password", "no client config"])
def test_refused_credentials_fail_with_one_line_and_change_nothing(ansible_module, lab, pull_project, pull_images,
                                                                   tmp_path, how):
    if how == "registry_password":
        run = undo(ansible_module, pull_project, verbosity=3, registry_username=lab["LAB_REGISTRY_USER"],
                   registry_password="wrong-password")
        source = "registry_username/registry_password"
    else:
        run = undo(ansible_module, pull_project, env={"DOCKER_CONFIG": str(tmp_path / "empty-config")})
        source = "the Docker client config (DOCKER_CONFIG or ~/.docker/config.json)"
    assert run.failed
    assert run.result["msg"].startswith("registry %s refused the credentials from %s for %s (" % (
        lab["LAB_REGISTRY"], source, image(lab, "1.0.0", "rollback-pull")))
    assert run.result["msg"].endswith("): nothing was changed") and "\n" not in run.result["msg"]
    assert "wrong-password" not in run.stdout + run.stderr, "registry_password is no_log, even at -vvv"
    unchanged(pull_project, lab, pull_images)


def test_a_missing_tag_fails_with_one_line_and_changes_nothing(ansible_module, lab, pull_project, pull_images):
    run = undo(ansible_module, pull_project, to_version="9.9.9")
    assert run.failed
    assert run.result["msg"] == ("registry %s has no image %s (manifest unknown: manifest unknown): nothing was "
                                 "changed" % (lab["LAB_REGISTRY"], image(lab, "9.9.9", "rollback-pull")))
    unchanged(pull_project, lab, pull_images)


# Two files, dependency order ---------------------------------------------------------------------------------------

def test_two_file_project_rolls_back_only_the_app_files_services_in_dependency_order(
        ansible_module, lab, lab_env, tmp_path):
    """Runbook 004: infrastructure in docker-compose.yml, the application in docker-compose.app.yml (used with -f);
    the gateway starts once the api is healthy (depends_on: condition: service_healthy)."""
    project = Project(tmp_path, lab, lab_env, "twofile")
    ports = free_ports(3)
    project.write("docker-compose.yml", "services:\n" + service("cache", image(lab, "1.0.0"), ports[0]))
    gateway = "    depends_on:\n      api:\n        condition: service_healthy\n"
    project.write("docker-compose.app.yml", "services:\n" + service("api", image(lab, "${APP_TAG}"), ports[1])
                  + service("gateway", image(lab, "${APP_TAG}"), ports[2], gateway))
    project.write(".env", "APP_TAG=1.0.2\n")
    for name in ("api", "gateway"):
        project.record(name, image(lab, "1.0.0"))
        project.record(name, image(lab, "1.0.2"))
    app, infra = ["docker-compose.app.yml"], ["docker-compose.yml"]
    try:
        project.compose("up", "-d", files=infra)
        project.compose("up", "-d", "--wait", files=app)
        cache = project.containers("cache")[0]
        began = time.time()

        run = undo(ansible_module, project, files=app)
        assert not run.failed, run.stdout
        assert run.result["services"] == ["api", "gateway"]
        assert project.images() == {"cache": image(lab, "1.0.0"), "api": image(lab, "1.0.0"),
                                    "gateway": image(lab, "1.0.0")}
        now = project.containers("cache")[0]
        assert (now.id, now.attrs["State"]["StartedAt"]) == (cache.id, cache.attrs["State"]["StartedAt"]), \
            "the infrastructure service is not touched"

        events = list(project.client.events(since=int(began) - 1, until=int(time.time()) + 1, decode=True,
                                            filters={"type": "container",
                                                     "label": "com.docker.compose.project=twofile"}))
        api_healthy = [e["timeNano"] for e in events if e["Actor"]["Attributes"].get("com.docker.compose.service")
                       == "api" and e["status"] == "health_status: healthy"]
        gateway_started = [e["timeNano"] for e in events if e["status"] == "start"
                           and e["Actor"]["Attributes"].get("com.docker.compose.service") == "gateway"]
        assert api_healthy and gateway_started and min(gateway_started) > min(api_healthy), events
        assert project.dry_run(files=app) == [] and project.dry_run(files=infra) == []
    finally:
        project.down(files=app + infra)
