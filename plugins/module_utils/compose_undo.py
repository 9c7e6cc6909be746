# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undo a Docker Compose rollout (``rollout_undo platform=compose``), in this order:

1. read the project (compose config, interpolated and raw) and what runs (containers, stopped ones too: a
   service whose traffic was stopped at level 3 is undone as well);
2. choose each service's target: the commit ``to_version`` names (git layout), the tag ``to_version`` names,
   or what ran before according to the deploy history (else the newest older local image, with a warning);
3. plan where the target is written (compose_persist) and make sure each target image is on the host
   (pulled when missing; in check mode the registry is only asked) - any failure so far changes nothing;
4. record in the history what runs now if it does not know it, save and write the files, then one
   ``docker compose up -d --no-deps [--wait]`` of the services that change, with the files just written:
   compose starts them in dependency order and waits on ``depends_on: condition: service_healthy``;
5. check the running containers, and record the rollback in the history.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.rollback.core.plugins.module_utils import compose_persist
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import ComposeProject, split_image
from ansible_collections.rollback.core.plugins.module_utils.compose_git import GitCommit
from ansible_collections.rollback.core.plugins.module_utils.compose_history import (
    HISTORY_NAME,
    DeployHistory,
    event,
    newest_created_before,
)
from ansible_collections.rollback.core.plugins.module_utils.docker_images import REGISTRY_AUTH_SPEC, ImageSource

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

COMPOSE_UNDO_SPEC = dict(
    history_file=dict(type="path"),
    **REGISTRY_AUTH_SPEC
)


def undo(module, wait):
    params = module.params
    project = ComposeProject(module, raw=True)
    services = project.select(params["services"])
    history = DeployHistory(params["history_file"] or project.path(HISTORY_NAME), project.name, module.warn)
    containers = dict((service, project.containers(service, stopped=True)) for service in services)
    running = dict((service, _running_image(project, service, containers[service])) for service in services)
    configured = dict((service, _configured_image(project, service)) for service in services)
    commit = GitCommit(project, params["to_version"]) if params["to_version"] else None
    before = dict((s, dict(running=running[s], configured=configured[s])) for s in services)
    if commit:
        plan = compose_persist.plan(project, services, {}, commit)
        targets = plan.targets
        reasons = dict((s, "the compose files at %s (%s)" % (commit.version, commit.commit[:12])) for s in services)
    else:
        _check_tag(params["to_version"])
        targets, reasons = {}, {}
        for service in services:
            targets[service], reasons[service] = _target(project, history, service, running[service],
                                                         params["to_version"], module.warn)
        # Only the services that change are written: a variable they share with the others would move those too.
        plan = compose_persist.plan(project, [s for s in services if before[s] != _after(targets[s])], targets, None)
    for warning in plan.warnings:
        module.warn(warning)
    after = dict((s, _after(targets[s])) for s in services)
    changing = sorted(s for s in services if before[s] != after[s])
    result = module.changed_result(
        before, after, project=project.name, services=services, layouts=plan.layouts, previous_from=reasons,
        from_version=split_image(running[services[0]])[1], to_version=split_image(targets[services[0]])[1],
        history_file=history.path, changed_files=plan.changed_files(), saved_to=[], images={})
    if module._diff:
        result["diff"] = [result["diff"]] + plan.diffs()
    images = ImageSource(project, params["registry_username"], params["registry_password"])
    for service in changing:
        if running[service] != targets[service]:
            result["images"][targets[service]] = images.ensure(targets[service], module.check_mode)
            _moved_tag(history, images, service, targets[service], module.warn)
    if not changing or module.check_mode:
        return result
    history.append([event(project.name, s, running[s], "deploy", "rollout_undo (seen running)",
                          at=_started(containers[s]), image_id=_image_id(containers[s]))
                    for s in changing if not history.of(s) or history.of(s)[-1]["image"] != running[s]])
    result["saved_to"] = compose_persist.apply(module, plan)
    try:
        project.up(changing, wait, params["wait_timeout"], files=plan.up_files)
    except RollbackError as error:
        raise RollbackError("%s (the project's files already name the target: %s; previous files saved as %s)" % (
            error.msg, ", ".join(plan.changed_files()) or "unchanged", ", ".join(result["saved_to"]) or "none"),
            changed=True, changed_files=plan.changed_files(), saved_to=result["saved_to"])
    for service in changing:
        containers[service] = project.containers(service)
        now = sorted(set(container.attrs["Config"]["Image"] for container in containers[service]))
        if now != [targets[service]]:
            raise RollbackError("after docker compose up, service %s runs %s instead of %s"
                                % (service, ", ".join(now) or "nothing", targets[service]), changed=True)
    try:
        history.append([event(project.name, s, targets[s], "rollback", "rollout_undo",
                              image_id=_image_id(containers[s]), **{"from": running[s]})
                        for s in changing if running[s] != targets[s]])
    except RollbackError as error:
        module.warn("the rollback is done, but not recorded: %s" % error.msg)
    return result


def _after(image):
    return dict(running=image, configured=image)


def _check_tag(version):
    """An image tag as the Docker reference grammar allows it (distribution/reference: [\\w][\\w.-]{0,127})."""
    if version is not None and not TAG.match(version):
        raise RollbackError("to_version %r is neither a commit of a git work tree holding the project nor a valid "
                            "image tag" % version)


def _running_image(project, service, containers):
    images = sorted(set(container.attrs["Config"]["Image"] for container in containers))
    if len(images) != 1:
        raise RollbackError("service %s of project %s runs %s: expected exactly one image"
                            % (service, project.name, ", ".join(images) or "no container"))
    return images[0]


def _configured_image(project, service):
    image = project.config["services"][service].get("image")
    if not image:
        raise RollbackError("service %s of project %s has no image (built by compose): rollout_undo rolls back "
                            "images only" % (service, project.name))
    return image


def _image_id(containers):
    """The image ID the service's containers were created from (what really runs, whatever its tag says now)."""
    ids = sorted(set(c.attrs.get("Image") for c in containers))
    return ids[0] if len(ids) == 1 else None


def _moved_tag(history, images, service, target, warn):
    recorded, local = history.image_id(service, target), images.local(target)
    if recorded and local is not None and local.id != recorded:
        warn("%s: the tag %s names image %s now, not %s, which ran before: the tag was moved since"
             % (service, target, local.id[:19], recorded[:19]))


def _started(containers):
    """When the running release started: its container's creation time."""
    created = [c.attrs.get("Created", "") for c in containers]
    return min(created)[:19] + "Z" if created and all(created) else None


def _target(project, history, service, current, to_version, warn):
    if to_version:
        return "%s:%s" % (split_image(current)[0], to_version), "to_version"
    image, reason = history.previous(service, current)
    if image:
        return image, "history: " + reason
    guess = newest_created_before(project, current)
    warn("%s: %s; %s is a guess, the newest local image of the repository created before %s (creation time, "
         "not what ran before)" % (service, reason, guess, current))
    return guess, "creation time (%s)" % reason
