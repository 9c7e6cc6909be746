# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undo a Docker Compose rollout: run the previous image of each service.

The Compose v2 CLI reads the project (``docker compose config``) and applies the
change (``up -d --wait``) through a temporary override file that pins each
service's image, so the user's compose files are never edited. The Docker SDK
reads what really runs: the running containers' images are the truth for
``changed`` and for the check after the switch.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import tempfile
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

# The Docker SDK is imported when a Compose project is opened: it costs a third of a second that the
# Kubernetes and server platforms of the same modules should not pay.
DOCKER_IMPORT_ERROR = None if importlib.util.find_spec("docker") else "No module named 'docker'"


def _sdk():
    try:
        import docker
        from docker import errors
    except ImportError:
        raise RollbackError("the Docker SDK for Python is missing: %s" % traceback.format_exc().splitlines()[-1])
    return docker, errors


COMPOSE_SPEC = dict(
    project_src=dict(type="path"),
    files=dict(type="list", elements="path"),
    project_name=dict(type="str"),
    services=dict(type="list", elements="str"),
)


def split_image(reference):
    """``repo:tag`` -> (repo, tag); a registry port is not a tag."""
    name, _sep, digest = reference.partition("@")
    head, sep, tag = name.rpartition(":")
    if sep and "/" not in tag:
        return head, tag
    return name, "latest" if not digest else digest


class ComposeProject:
    def __init__(self, module):
        self.module = module
        params = module.params
        if not params["project_src"]:
            raise RollbackError("platform compose needs project_src (the directory of the compose project)")
        if not os.path.isdir(params["project_src"]):
            raise RollbackError("project_src %s is not a directory" % params["project_src"])
        self.src = params["project_src"]
        self.files = [f if os.path.isabs(f) else os.path.join(self.src, f) for f in params["files"] or []]
        for path in self.files:
            if not os.path.exists(path):
                raise RollbackError("compose file %s does not exist" % path)
        self.compose = self._compose_command()
        sdk, self.errors = _sdk()
        try:
            self.docker = sdk.from_env()
            self.docker.ping()
        except self.errors.DockerException as error:
            raise RollbackError("cannot reach the Docker engine (DOCKER_HOST=%s): %s"
                                % (os.environ.get("DOCKER_HOST", "default"), error))
        self.config = self._config()
        self.name = self.config["name"]

    def _compose_command(self):
        # The standalone v2 binary starts faster than the docker CLI plugin (no docker CLI in between).
        standalone = self.module.get_bin_path("docker-compose")
        if standalone:
            return [standalone]
        plugin = self.module.get_bin_path("docker")
        if plugin:
            return [plugin, "compose"]
        raise RollbackError("Docker Compose v2 not found: install the docker compose plugin or docker-compose v2")

    def _base(self, extra_files=()):
        argv = list(self.compose) + ["--project-directory", self.src]
        for path in list(self.files) + list(extra_files):
            argv += ["-f", path]
        if self.module.params["project_name"]:
            argv += ["-p", self.module.params["project_name"]]
        return argv

    def _config(self):
        rc, out, err = self.module.run_command(self._base() + ["config", "--format", "json"], cwd=self.src)
        if rc != 0:
            raise RollbackError("docker compose config failed (Compose v2 is needed): %s"
                                % (err.strip().splitlines() or ["exit %d" % rc])[-1])
        return json.loads(out)

    def engine(self, what, func, *args, **kwargs):
        """One Docker SDK call; an engine that goes away mid-run is one clear error, not a traceback."""
        try:
            return func(*args, **kwargs)
        except self.errors.ImageNotFound:
            raise
        except (self.errors.DockerException, OSError, ValueError) as error:
            raise RollbackError("the Docker engine did not answer while %s (DOCKER_HOST=%s): %s"
                                % (what, os.environ.get("DOCKER_HOST", "default"), error))
        except Exception as error:  # noqa: BLE001 - requests' connection errors, without importing requests
            if type(error).__module__.startswith(("requests", "urllib3")):
                raise RollbackError("the Docker engine did not answer while %s (DOCKER_HOST=%s): %s"
                                    % (what, os.environ.get("DOCKER_HOST", "default"), error))
            raise

    def running_images(self, service, stopped=False):
        """Images of the service's running containers (and of its stopped ones with ``stopped``)."""
        containers = self.engine("listing the containers of %s" % service, self.docker.containers.list,
                                 all=stopped, filters={"label": ["com.docker.compose.project=%s" % self.name,
                                                                 "com.docker.compose.service=%s" % service]})
        return sorted(set(container.attrs["Config"]["Image"] for container in containers))

    def previous_image(self, current):
        """The newest local image of the same repository created before ``current``."""
        repository, _tag = split_image(current)
        try:
            running = self.engine("reading image " + current, self.docker.images.get, current)
        except self.errors.ImageNotFound:
            raise RollbackError("the running image %s is no longer present locally" % current)
        candidates = []
        for image in self.engine("listing images of " + repository, self.docker.images.list, name=repository):
            if image.id == running.id:
                continue
            if image.attrs["Created"] < running.attrs["Created"]:
                tags = [tag for tag in image.tags if split_image(tag)[0] == repository]
                if tags:
                    candidates.append((image.attrs["Created"], sorted(tags)[-1]))
        if not candidates:
            raise RollbackError("no local image of %s older than %s: give to_version" % (repository, current))
        return max(candidates)[1]

    def require_image(self, reference):
        try:
            self.engine("reading image " + reference, self.docker.images.get, reference)
        except self.errors.ImageNotFound:
            raise RollbackError("image %s is not present on this Docker host: pull or load it first (nothing was "
                                "changed)" % reference)

    def up(self, targets, wait, timeout):
        override = {"services": dict((service, {"image": image}) for service, image in targets.items())}
        handle, path = tempfile.mkstemp(prefix="rollback-core-", suffix=".override.json")
        with os.fdopen(handle, "w") as stream:
            json.dump(override, stream)
        try:
            base = self._base([path]) if self.files else self._base(self._default_files() + [path])
            argv = base + ["up", "-d", "--no-deps"]
            if wait:
                argv += ["--wait", "--wait-timeout", str(timeout)]
            rc, out, err = self.module.run_command(argv + sorted(targets), cwd=self.src)
        finally:
            os.remove(path)
        if rc != 0:
            raise RollbackError("docker compose up failed: %s" % (err.strip().splitlines() or ["exit %d" % rc])[-1])

    def _default_files(self):
        """The files compose would pick by itself: needed once an extra -f is given."""
        for names in (("compose.yaml", "compose.override.yaml"), ("compose.yml", "compose.override.yml"),
                      ("docker-compose.yaml", "docker-compose.override.yaml"),
                      ("docker-compose.yml", "docker-compose.override.yml")):
            found = [os.path.join(self.src, name) for name in names if os.path.exists(os.path.join(self.src, name))]
            if found and os.path.basename(found[0]) == names[0]:
                return found
        raise RollbackError("no compose file in %s (compose.yaml, docker-compose.yml, ...)" % self.src)


def undo(module, waiter_enabled):
    params = module.params
    project = ComposeProject(module)
    services = params["services"] or sorted(project.config.get("services", {}))
    unknown = sorted(set(services) - set(project.config.get("services", {})))
    if unknown:
        raise RollbackError("service(s) %s not in compose project %s" % (", ".join(unknown), project.name))
    before, after = {}, {}
    for service in services:
        # A service whose traffic was stopped (level 3) is undone too: its stopped container tells the image.
        running = project.running_images(service, stopped=True)
        if len(running) != 1:
            raise RollbackError("service %s of project %s runs %s: expected exactly one image"
                                % (service, project.name, ", ".join(running) or "no container"))
        before[service] = running[0]
        repository = split_image(running[0])[0]
        after[service] = ("%s:%s" % (repository, params["to_version"]) if params["to_version"]
                          else project.previous_image(running[0]))
        project.require_image(after[service])
    result = module.changed_result(before, after, from_version=split_image(before[services[0]])[1],
                                   to_version=split_image(after[services[0]])[1], project=project.name,
                                   services=services)
    if not result["changed"] or module.check_mode:
        return result
    changing = dict((s, after[s]) for s in services if before[s] != after[s])
    project.up(changing, waiter_enabled, params["wait_timeout"])
    for service, image in changing.items():
        running = project.running_images(service)
        if running != [image]:
            raise RollbackError("after docker compose up, service %s runs %s instead of %s"
                                % (service, ", ".join(running) or "nothing", image))
    return result
