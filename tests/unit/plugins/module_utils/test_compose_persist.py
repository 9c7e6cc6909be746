"""Where a Compose rollback is written (compose_persist.plan), on project directories without an engine."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils.compose_persist import PIN_FILE, plan

APP = "registry.example.com/app"


class Project:
    """What plan() reads of a ComposeProject: its directory, -f/--env-file lists and raw model."""

    def __init__(self, directory, raw_images, files=(), env_files=()):
        self.src = str(directory)
        self.files = [self.path(name) for name in files]
        self.env_files = [self.path(name) for name in env_files]
        self.raw = {"name": "demo", "services": dict((name, {"image": image}) for name, image in raw_images.items())}

    def path(self, name):
        return os.path.join(self.src, name)


@pytest.fixture
def project_dir(tmp_path, monkeypatch):
    for name in ("APP_TAG", "COMPOSE_FILE", "COMPOSE_PATH_SEPARATOR", "COMPOSE_DISABLE_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    return tmp_path


def test_a_variable_tag_is_written_in_dot_env_and_only_its_line_is_shown(project_dir):
    (project_dir / ".env").write_text("APP_TAG=1.0.1\nDB_PASSWORD=secret\n")
    found = plan(Project(project_dir, {"web": APP + ":${APP_TAG:-1.0.0}"}), ["web"], {"web": APP + ":1.0.0"}, None)
    assert found.layouts == {"web": "env"} and found.warnings == []
    assert [(c.path, c.after) for c in found.changes] == [(str(project_dir / ".env"),
                                                           "APP_TAG=1.0.0\nDB_PASSWORD=secret\n")]
    assert found.diffs()[0]["before"] == "APP_TAG=1.0.1\n" and "secret" not in str(found.diffs())


def test_a_variable_shared_with_a_service_not_rolled_back_is_not_written(project_dir):
    raw = {"web": APP + ":${APP_TAG}", "worker": APP + "-worker:${APP_TAG}"}
    found = plan(Project(project_dir, raw), ["web"], {"web": APP + ":1.0.0"}, None)
    assert found.layouts == {"web": "override"}
    assert found.warnings == ["APP_TAG is also used outside the services rolled back: the image of web is pinned in "
                              "compose.rollback.yaml instead"]
    env, pins = found.changes
    assert env.before is None and env.after == "COMPOSE_FILE=%s:%s\n" % (project_dir / "compose.yaml",
                                                                         project_dir / PIN_FILE)
    assert pins.after.endswith('services:\n  "web":\n    image: "%s:1.0.0"\n' % APP)


def test_a_variable_set_in_the_environment_wins_over_dot_env_so_the_image_is_pinned(project_dir, monkeypatch):
    monkeypatch.setenv("APP_TAG", "1.0.1")
    found = plan(Project(project_dir, {"web": APP + ":${APP_TAG}"}), ["web"], {"web": APP + ":1.0.0"}, None)
    assert found.layouts == {"web": "override"} and "wins over the env file" in found.warnings[0]


def test_the_pin_file_joins_an_existing_compose_file_list_with_its_separator(project_dir):
    (project_dir / ".env").write_text("COMPOSE_PATH_SEPARATOR=,\nCOMPOSE_FILE=compose.yaml,compose.prod.yaml\n")
    found = plan(Project(project_dir, {"web": APP + ":1.0.1"}), ["web"], {"web": APP + ":1.0.0"}, None)
    assert found.changes[0].after == ("COMPOSE_PATH_SEPARATOR=,\nCOMPOSE_FILE=compose.yaml,compose.prod.yaml,%s\n"
                                      % (project_dir / PIN_FILE))
    assert found.up_files is None, "compose reads COMPOSE_FILE from .env: our up takes the project as it is"


def test_with_explicit_files_the_pin_is_ours_to_pass_and_a_warning_says_so(project_dir):
    (project_dir / "docker-compose.app.yml").write_text("services: {}\n")
    project = Project(project_dir, {"api": APP + ":1.0.1"}, files=["docker-compose.app.yml"])
    found = plan(project, ["api"], {"api": APP + ":1.0.0"}, None)
    assert [c.path for c in found.changes] == [str(project_dir / PIN_FILE)]
    assert found.up_files == [str(project_dir / "docker-compose.app.yml"), str(project_dir / PIN_FILE)]
    assert "must add -f %s" % (project_dir / PIN_FILE) in found.warnings[0]


def test_a_later_rollback_updates_the_pins_it_wrote(project_dir):
    (project_dir / ".env").write_text("COMPOSE_FILE=%s:%s\n" % (project_dir / "compose.yaml", project_dir / PIN_FILE))
    pins = 'services:\n  "web":\n    image: "%s:1.0.1"\n  "db":\n    image: "pg:15"\n' % APP
    (project_dir / PIN_FILE).write_text(pins)
    found = plan(Project(project_dir, {"web": APP + ":1.0.1"}), ["web"], {"web": APP + ":1.0.0"}, None)
    assert [c.path for c in found.changes] == [str(project_dir / PIN_FILE)], ".env already includes it"
    assert '"db":\n    image: "pg:15"' in found.changes[0].after and APP + ":1.0.0" in found.changes[0].after
