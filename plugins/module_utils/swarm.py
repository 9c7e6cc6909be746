# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Roll a Docker Swarm service back: to a given image, or to its previous spec.

``image`` does what ``docker service update --image`` does: the service's spec
with only ``TaskTemplate.ContainerSpec.Image`` replaced, sent with the Docker
SDK's ``update_service``. ``previous`` does what ``docker service rollback``
does: ``POST /services/{id}/update?rollback=previous``, so swarm itself swaps
Spec and PreviousSpec and applies the service's RollbackConfig. docker-py 7
has no parameter for that query, so the request goes through the SDK client's
own HTTP session (``APIClient`` is a ``requests.Session``: same transport, TLS
and negotiated API version as every other call). Then the service converges
when its UpdateStatus is finished and every running task runs the image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import split_image
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter

DOCKER_CONNECTION_SPEC = dict(
    docker_host=dict(type="str"),
)

IN_PROGRESS = ("updating", "rollback_started")
PAUSED = ("paused", "rollback_paused")
ROLLED_BACK = ("rollback_started", "rollback_completed")
FAILED_TASK_STATES = ("failed", "rejected")
DEFAULT_HOST = "unix:///var/run/docker.sock"


def _sdk():
    # Imported here, like compose.py: the SDK costs a third of a second at import time.
    try:
        import docker
        from docker import errors
    except ImportError:
        raise RollbackError("the Docker SDK for Python is missing: %s" % traceback.format_exc().splitlines()[-1])
    return docker, errors


# Pure logic ------------------------------------------------------------------------------------------------------

def image_key(reference):
    """``(repository, tag, digest)`` of an image reference, Docker Hub's implicit prefixes removed."""
    name, _sep, digest = reference.partition("@")
    has_tag = ":" in name.rpartition("/")[2]
    repository, tag = split_image(name)
    if repository.startswith("docker.io/"):
        repository = repository[len("docker.io/"):]
    if repository.startswith("library/") and repository.count("/") == 1:
        repository = repository[len("library/"):]
    if not has_tag:
        tag = None if digest else "latest"
    return repository, tag, digest or None


def same_image(running, wanted):
    """Does ``running`` (a spec's or task's image) satisfy ``wanted``?

    A digest that swarm pinned to ``running`` is ignored unless ``wanted`` names one.
    """
    have, want = image_key(running), image_key(wanted)
    if have[0] != want[0]:
        return False
    if want[2]:
        return have[2] == want[2] and (want[1] is None or have[1] == want[1])
    return have[1] == want[1]


def version_of(reference):
    """The tag (or digest) of an image reference, for reports."""
    tag, digest = image_key(reference)[1:]
    return tag or digest


def spec_image(spec):
    return ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec", {}).get("Image")


def with_image(spec, image):
    """A copy of ``spec`` whose containers run ``image``; nothing else changes."""
    target = copy.deepcopy(spec)
    target.setdefault("TaskTemplate", {}).setdefault("ContainerSpec", {})["Image"] = image
    return target


def flatten(value, prefix=""):
    """``{"A": {"B": 1}}`` -> ``{"A.B": 1}``; lists are leaves."""
    if isinstance(value, dict) and value:
        flat = {}
        for key in value:
            flat.update(flatten(value[key], "%s.%s" % (prefix, key) if prefix else key))
        return flat
    return {prefix: value} if prefix else {}


def spec_diff(before, after):
    """The spec fields that differ, as ``(before values, after values)`` keyed by dotted path.

    Empty dicts and absent keys are the same (swarm drops empty sections from PreviousSpec).
    """
    old, new = flatten(before), flatten(after)
    paths = sorted(path for path in set(old) | set(new) if _meaningful(old.get(path)) != _meaningful(new.get(path)))
    return dict((p, old.get(p)) for p in paths), dict((p, new.get(p)) for p in paths)


def _meaningful(value):
    return None if value == {} else value


def plan(service, image=None, previous=False):
    """What to do with ``service`` (the inspect dict): ``(target spec, action)``.

    ``action`` is ``"update"``, ``"rollback"`` or None when the service already is where it was asked to be.
    Raises RollbackError when the request cannot be served; nothing has been changed then.
    """
    spec = service["Spec"]
    name = spec.get("Name", service.get("ID"))
    if image and previous:
        raise RollbackError("image and previous=true exclude each other: give one of them")
    if not image and not previous:
        raise RollbackError("give image (the image to run) or previous=true (the service's previous spec)")
    if image:
        if same_image(spec_image(spec), image):
            return spec, None
        return with_image(spec, image), "update"
    state = update_state(service)
    if state in ROLLED_BACK:
        # The last change already was a rollback: a second one would go forward again.
        return spec, None
    if state == "rollback_paused":
        raise RollbackError("the last rollback of swarm service %s is paused (%s): fix it or give image"
                            % (name, (service.get("UpdateStatus") or {}).get("Message", "no message")))
    previous_spec = service.get("PreviousSpec")
    if not previous_spec:
        raise RollbackError("swarm service %s has no previous spec (it was never updated): give image" % name)
    before, after = spec_diff(spec, previous_spec)
    if not before and not after:
        return spec, None
    return previous_spec, "rollback"


def update_state(service):
    return (service.get("UpdateStatus") or {}).get("State")


def task_image(task):
    return spec_image({"TaskTemplate": task.get("Spec") or {}})


def task_errors(tasks, image, limit=3):
    """The latest distinct errors of the failed or rejected tasks of ``image``, newest first."""
    failed = [task for task in tasks if task.get("Status", {}).get("State") in FAILED_TASK_STATES
              and same_image(task_image(task), image)]
    failed.sort(key=lambda task: task["Status"].get("Timestamp", ""), reverse=True)
    errors = []
    for task in failed:
        status = task["Status"]
        text = "%s %s: %s" % (task_image(task), status["State"], status.get("Err") or status.get("Message"))
        if text not in errors:
            errors.append(text)
    return errors[:limit]


def expected_replicas(service, tasks):
    """Replicated services: the replica count; global ones: the tasks swarm wants running."""
    replicated = service["Spec"].get("Mode", {}).get("Replicated")
    if replicated is not None:
        return replicated.get("Replicas", 1)
    return len([task for task in tasks if task.get("DesiredState") == "running"])


def running_tasks(tasks):
    return [task for task in tasks if task.get("Status", {}).get("State") == "running"]


def convergence(service, tasks, wanted):
    """``(done, state text)`` of a service converging on image ``wanted``.

    Done when no update is in progress and exactly the expected number of tasks run, all on ``wanted``.
    Raises RollbackError when swarm paused the update or rolled it back (the spec no longer asks for
    ``wanted``), with the tasks' errors.
    """
    name = service["Spec"].get("Name", service.get("ID"))
    status = service.get("UpdateStatus") or {}
    state = status.get("State")
    errors = task_errors(tasks, wanted)
    error_text = "; task errors: %s" % " | ".join(errors) if errors else ""
    current = spec_image(service["Spec"])
    if not same_image(current, wanted):
        raise RollbackError("swarm service %s now asks for %s instead of %s (update %s: %s): swarm rolled the update "
                            "back or someone changed the service%s"
                            % (name, current, wanted, state, status.get("Message", "no message"), error_text))
    if state in PAUSED:
        raise RollbackError("the update of swarm service %s to %s is %s: %s%s"
                            % (name, wanted, state, status.get("Message", "no message"), error_text))
    running = running_tasks(tasks)
    on_wanted = [task for task in running if same_image(task_image(task), wanted)]
    replicas = expected_replicas(service, tasks)
    done = state not in IN_PROGRESS and len(on_wanted) == len(running) == replicas
    text = "update %s, %d/%d task(s) running %s, %d running another image%s" % (
        state or "not started", len(on_wanted), replicas, wanted, len(running) - len(on_wanted), error_text)
    return done, text


# The engine ------------------------------------------------------------------------------------------------------

class SwarmEngine:
    """The Docker engine of a swarm manager, through the Docker SDK; every call fails as one line."""

    def __init__(self, params, sdk=None):
        docker, self.errors = sdk or _sdk()
        environment = dict(os.environ)
        if params.get("docker_host"):
            environment["DOCKER_HOST"] = params["docker_host"]
        self.host = environment.get("DOCKER_HOST") or DEFAULT_HOST
        try:
            self.client = docker.from_env(environment=environment)
            self.client.ping()
        except Exception as error:  # noqa: BLE001 - SDK, requests and socket errors alike
            raise RollbackError("cannot reach the Docker engine (DOCKER_HOST=%s): %s" % (self.host, error))
        self.api = self.client.api

    def call(self, what, func, *args, **kwargs):
        """One SDK call; NotFound is the caller's to handle, any other failure is one RollbackError."""
        try:
            return func(*args, **kwargs)
        except self.errors.NotFound:
            raise
        except self.errors.APIError as error:
            raise RollbackError("the Docker engine (DOCKER_HOST=%s) refused %s: %s"
                                % (self.host, what, error.explanation or error))
        except Exception as error:  # noqa: BLE001 - requests' connection errors, without importing requests
            raise RollbackError("the Docker engine did not answer while %s (DOCKER_HOST=%s): %s: %s"
                                % (what, self.host, type(error).__name__, error))

    def require_manager(self):
        swarm = self.call("reading its swarm state", self.client.info).get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise RollbackError("the Docker engine at %s is not a swarm manager (swarm state: %s): run this against a "
                                "manager node" % (self.host, swarm.get("LocalNodeState") or "unknown"))

    def service(self, name):
        try:
            return self.call("reading swarm service " + name, self.api.inspect_service, name)
        except self.errors.NotFound:
            names = sorted(s["Spec"]["Name"] for s in self.call("listing swarm services", self.api.services))
            raise RollbackError("swarm service %s not found on %s (services: %s)"
                                % (name, self.host, ", ".join(names) or "none"))

    def tasks(self, service):
        return self.call("listing the tasks of " + service["Spec"]["Name"], self.api.tasks,
                         filters={"service": service["ID"]})

    def require_image(self, image):
        """The image is on this host or its registry knows it: nodes can run it."""
        try:
            self.call("reading image " + image, self.api.inspect_image, image)
            return "local"
        except self.errors.NotFound:
            pass
        try:
            self.api.inspect_distribution(image)
        except Exception as error:  # noqa: BLE001 - APIError, or no registry reachable at all
            reason = getattr(error, "explanation", None) or error
            raise RollbackError("image %s is neither present on the Docker host %s nor found in its registry (%s): "
                                "push, pull or load it first (nothing was changed)" % (image, self.host, reason))
        return "registry"

    def update(self, service, spec):
        """``docker service update``: the whole target spec, at the service's current version."""
        networks = None
        if spec.get("Networks") and not spec["TaskTemplate"].get("Networks"):
            networks = spec["Networks"]  # engines before API 1.25 kept them beside the task template
        self.call("updating swarm service " + spec["Name"], self.api.update_service, service["ID"],
                  service["Version"]["Index"], task_template=spec["TaskTemplate"], name=spec["Name"],
                  labels=spec.get("Labels"), mode=spec.get("Mode"), update_config=spec.get("UpdateConfig"),
                  rollback_config=spec.get("RollbackConfig"), networks=networks,
                  endpoint_spec=spec.get("EndpointSpec"))

    def rollback(self, service):
        """``docker service rollback``: swarm swaps Spec and PreviousSpec and applies the RollbackConfig."""
        name = service["Spec"]["Name"]
        url = "%s/v%s/services/%s/update" % (self.api.base_url, self.api.api_version, service["ID"])
        response = self.call("rolling back swarm service " + name, self.api.post, url, json=service["Spec"],
                             params={"version": service["Version"]["Index"], "rollback": "previous"},
                             timeout=self.api.timeout)
        if response.status_code >= 400:
            try:
                message = response.json().get("message")
            except ValueError:
                message = response.text
            raise RollbackError("the Docker engine (DOCKER_HOST=%s) refused the rollback of swarm service %s: HTTP %s: "
                                "%s" % (self.host, name, response.status_code, message))


# The module's work -----------------------------------------------------------------------------------------------

def rollback(module, engine=None, waiter=None):
    params = module.params
    engine = engine or SwarmEngine(params)
    engine.require_manager()
    service = engine.service(params["name"])
    target, action = plan(service, params["image"], params["previous"])
    before_image, after_image = spec_image(service["Spec"]), spec_image(target)
    if action:
        engine.require_image(after_image)
    before_fields, after_fields = spec_diff(service["Spec"], target)
    result = module.changed_result(dict(image=before_image, spec=before_fields),
                                   dict(image=after_image, spec=after_fields),
                                   service=service["Spec"]["Name"], service_id=service["ID"],
                                   mode="image" if params["image"] else "previous",
                                   before_image=before_image, after_image=after_image,
                                   from_version=version_of(before_image), to_version=version_of(after_image),
                                   changes=sorted(after_fields))
    if action and not module.check_mode:
        if action == "update":
            engine.update(service, target)
        else:
            engine.rollback(service)
    waiter = waiter or Waiter(module)
    try:
        waiter.wait(_probe(engine, service["ID"], after_image),
                    "swarm service %s to run %s" % (service["Spec"]["Name"], after_image))
    except RollbackError as error:
        # The service was changed even though it did not converge: say so.
        error.details.update(changed=result["changed"], before_image=before_image, after_image=after_image)
        raise
    now = engine.service(service["ID"])
    running = running_tasks(engine.tasks(now))
    result.update(spec_version=now["Version"]["Index"], update_state=update_state(now),
                  tasks_running=len(running), task_images=sorted(set(task_image(task) for task in running)))
    return result


def _probe(engine, service_id, wanted):
    def probe():
        service = engine.service(service_id)
        return convergence(service, engine.tasks(service), wanted)

    return probe


# Traffic at level 3: scaled to 0 and back --------------------------------------------------------------------------

SAVED_REPLICAS = "rollback.core/replicas-before-stop"
# Task states before a task is done (moby api/types/swarm/task.go TaskState, new ... running).
LIVE_TASK_STATES = ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")


def replicated(service):
    """The replica count of a replicated service; RollbackError for a global (or job) service, which cannot scale."""
    mode = service["Spec"].get("Mode") or {}
    if "Replicated" not in mode:
        raise RollbackError("swarm service %s is in %s mode: it cannot be scaled to 0; stop its traffic at its front "
                            "instead (rollback_service_traffic nginx or alb)" % (
                                service["Spec"].get("Name"), (list(mode) or ["unknown"])[0].lower()))
    return mode["Replicated"].get("Replicas", 1)


def scaled(spec, replicas, saved):
    """A copy of ``spec`` with ``replicas`` and the saved count label set (or removed when ``saved`` is None)."""
    target = copy.deepcopy(spec)
    target["Mode"] = {"Replicated": {"Replicas": replicas}}
    labels = dict(target.get("Labels") or {})
    if saved is None:
        labels.pop(SAVED_REPLICAS, None)
    else:
        labels[SAVED_REPLICAS] = saved
    target["Labels"] = labels
    return target


def tasks_gone(tasks):
    """``(done, state)``: no task of the service is still starting or running."""
    live = [task for task in tasks if task.get("Status", {}).get("State") in LIVE_TASK_STATES]
    states = "/".join(sorted(set(task["Status"]["State"] for task in live))) or "running"
    return not live, "%d task(s) still %s" % (len(live), states)


def traffic(module, engine=None, waiter=None):
    """``docker service scale <name>=0`` with the count kept in a service label, and back to exactly that count.

    As ``docker service scale`` does (docker/cli cli/command/service/scale.go runServiceScale): the service's whole
    spec is sent back with only the replica count changed, at the spec's version; the label rides along, so the
    count survives an image rollback in between (swarm_service_rollback keeps labels) and a crashed run.
    """
    params = module.params
    engine = engine or SwarmEngine(params)
    engine.require_manager()
    service = engine.service(params["name"])
    name = service["Spec"]["Name"]
    replicas = replicated(service)
    saved = (service["Spec"].get("Labels") or {}).get(SAVED_REPLICAS)
    if params["state"] == "stopped":
        target_count, target_saved = 0, saved or str(replicas)
        if replicas == 0 and saved is None:
            module.warn("swarm service %s already has 0 replicas and no saved count: resume will need replicas" % name)
            target_saved = None
    else:
        if params["replicas"] is not None:
            target_count = params["replicas"]
        elif saved is None and replicas > 0:
            target_count = replicas  # never stopped: nothing to resume
        else:
            target_count = _saved_count(saved, name)
        target_saved = None
    result = module.changed_result(dict(replicas=replicas, saved=saved),
                                   dict(replicas=target_count, saved=target_saved),
                                   replicas_before=replicas, replicas_after=target_count)
    if result["changed"] and not module.check_mode:
        engine.update(service, scaled(service["Spec"], target_count, target_saved))
    waiter = waiter or Waiter(module)
    if target_count == 0:
        waiter.wait(lambda: tasks_gone(engine.tasks(service)), "swarm service %s to have no task left" % name)
    else:
        wanted = spec_image(service["Spec"])
        waiter.wait(_probe(engine, service["ID"], wanted), "swarm service %s to run %d task(s)" % (name, target_count))
    return result


def _saved_count(saved, name):
    if saved is None:
        raise RollbackError("swarm service %s has no saved replica count (label %s): give replicas to resume it"
                            % (name, SAVED_REPLICAS))
    try:
        return int(saved)
    except ValueError:
        raise RollbackError("swarm service %s has an unreadable saved replica count %r: give replicas" % (name, saved))
