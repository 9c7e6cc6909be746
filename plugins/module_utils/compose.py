# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Docker Compose project as the Compose v2 CLI loads it, and its containers as the engine runs them.

``docker compose config`` is the truth for the model (files, ``.env``, ``COMPOSE_FILE``, includes,
interpolation), read twice at once: interpolated, and with ``--no-interpolate`` to see which variable an
image comes from. The Docker SDK reads what really runs. The two config reads run while the SDK is
imported and the engine pinged: each costs about a third of a second.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, one_line

# The Docker SDK is imported when a Compose project is opened: it costs a third of a second that the
# Kubernetes and server platforms of the same modules should not pay.
DOCKER_IMPORT_ERROR = None if importlib.util.find_spec("docker") else "No module named 'docker'"

COMPOSE_SPEC = dict(
    project_src=dict(type="path"),
    files=dict(type="list", elements="path"),
    env_files=dict(type="list", elements="path"),
    project_name=dict(type="str"),
    services=dict(type="list", elements="str"),
)

# compose-go cli/options.go: DefaultFileNames and DefaultOverrideFileNames, in order of preference.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                     "docker-compose.override.yaml")


def _sdk():
    try:
        import docker
        from docker import errors
    except ImportError:
        raise RollbackError("the Docker SDK for Python is missing: %s" % traceback.format_exc().splitlines()[-1])
    return docker, errors


def split_image(reference):
    """``repo:tag`` -> (repo, tag); a registry port is not a tag."""
    name, _sep, digest = reference.partition("@")
    head, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return head, tag
    return name, "latest" if not digest else digest


def docker_host():
    return os.environ.get("DOCKER_HOST", "default")


class ComposeProject:
    """One project: its model (``config``, ``raw``), its CLI invocations and its containers."""

    def __init__(self, module, raw=False):
        self.module = module
        params = module.params
        if not params["project_src"]:
            raise RollbackError("platform compose needs project_src (the directory of the compose project)")
        if not os.path.isdir(params["project_src"]):
            raise RollbackError("project_src %s is not a directory" % params["project_src"])
        self.src = os.path.abspath(params["project_src"])
        self.files = [self.path(f) for f in params["files"] or []]
        self.env_files = [self.path(f) for f in params.get("env_files") or []]
        for path in self.files + self.env_files:
            if not os.path.exists(path):
                kind = "compose file" if path in self.files else "env file"
                raise RollbackError("%s %s does not exist" % (kind, path))
        self.compose = self._compose_command()
        pending = [self._start(self.base() + ["config", "--format", "json"])]
        if raw:
            pending.append(self._start(self.base() + ["config", "--no-interpolate", "--format", "json"]))
        try:
            sdk, self.errors = _sdk()
            self.docker = self._connect(sdk)
        except BaseException:
            for process in pending:
                process.kill()
                process.communicate()
            raise
        outputs = [self._finish(process, "docker compose config") for process in pending]
        self.config = self._json(outputs[0])
        self.raw = self._json(outputs[1]) if raw else None
        self.name = self.config["name"]

    def path(self, name):
        return name if os.path.isabs(name) else os.path.join(self.src, name)

    def _compose_command(self):
        # The standalone v2 binary starts faster than the docker CLI plugin (no docker CLI in between).
        standalone = self.module.get_bin_path("docker-compose")
        if standalone:
            return [standalone]
        plugin = self.module.get_bin_path("docker")
        if plugin:
            return [plugin, "compose"]
        raise RollbackError("Docker Compose v2 not found: install the docker compose plugin or docker-compose v2")

    def _connect(self, sdk):
        try:
            # Asks the engine for its API version already (docker-py's version="auto"): no ping needed.
            client = sdk.from_env()
        except self.errors.DockerException as error:
            raise RollbackError("cannot reach the Docker engine (DOCKER_HOST=%s): %s" % (docker_host(), error))
        return client

    def base(self, files=None):
        """The compose command line of this project; ``files`` replaces the project's ``-f`` list."""
        argv = list(self.compose) + ["--project-directory", self.src]
        for path in self.files if files is None else files:
            argv += ["-f", path]
        for path in self.env_files:
            argv += ["--env-file", path]
        if self.module.params["project_name"]:
            argv += ["-p", self.module.params["project_name"]]
        return argv

    def _start(self, argv, env=None):
        return subprocess.Popen(argv, cwd=self.src, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, universal_newlines=True)

    @staticmethod
    def _finish(process, what):
        out, err = process.communicate()
        if process.returncode != 0:
            raise RollbackError("%s failed (Compose v2 is needed): %s"
                                % (what, (err.strip().splitlines() or ["exit %d" % process.returncode])[-1]))
        return out

    @staticmethod
    def _json(text):
        try:
            return json.loads(text)
        except ValueError:
            raise RollbackError("docker compose config did not print JSON (Compose v2 is needed): %s" % text[:200])

    def config_of(self, files, env=None):
        """The model compose would load from another list of files (and environment)."""
        argv = self.base(files) + ["config", "--format", "json"]
        return self._json(self._finish(self._start(argv, env), "docker compose config"))

    def run(self, args, what, files=None):
        rc, out, err = self.module.run_command(self.base(files) + list(args), cwd=self.src)
        if rc != 0:
            raise RollbackError("%s failed: %s" % (what, one_line(err.strip().splitlines()[-1] if err.strip()
                                                                  else "exit %d" % rc)))
        return out

    def services(self):
        return sorted(self.config.get("services", {}))

    def select(self, wanted):
        """``services`` given, checked against the model; else every service of the model."""
        known = self.services()
        unknown = sorted(set(wanted or ()) - set(known))
        if unknown:
            raise RollbackError("service(s) %s not in compose project %s" % (", ".join(unknown), self.name))
        return list(wanted) if wanted else known

    def engine(self, what, func, *args, **kwargs):
        """One Docker SDK call; an engine that goes away mid-run is one clear error, not a traceback."""
        try:
            return func(*args, **kwargs)
        except (self.errors.ImageNotFound, self.errors.NotFound):
            raise
        except (self.errors.DockerException, OSError, ValueError) as error:
            raise RollbackError("the Docker engine did not answer while %s (DOCKER_HOST=%s): %s"
                                % (what, docker_host(), error))
        except Exception as error:  # noqa: BLE001 - requests' connection errors, without importing requests
            if type(error).__module__.startswith(("requests", "urllib3")):
                raise RollbackError("the Docker engine did not answer while %s (DOCKER_HOST=%s): %s"
                                    % (what, docker_host(), error))
            raise

    def containers(self, service, stopped=False):
        return self.engine("listing the containers of %s" % service, self.docker.containers.list, all=stopped,
                           filters={"label": ["com.docker.compose.project=%s" % self.name,
                                              "com.docker.compose.service=%s" % service]})

    def running_images(self, service, stopped=False):
        """Images of the service's running containers (and of its stopped ones with ``stopped``)."""
        return sorted(set(container.attrs["Config"]["Image"] for container in self.containers(service, stopped)))

    def up(self, services, wait, timeout, files=None):
        """``up -d --no-deps``: compose starts the services in dependency order, waiting on health conditions."""
        argv = ["up", "-d", "--no-deps", "--pull", "never"]
        if wait:
            argv += ["--wait", "--wait-timeout", str(timeout)]
        self.run(argv + sorted(services), "docker compose up", files)


def undo(module, wait):
    """``rollout_undo platform=compose``: compose_undo.py (imported here, as it imports this file)."""
    from ansible_collections.rollback.core.plugins.module_utils.compose_undo import undo as compose_undo

    return compose_undo(module, wait)
