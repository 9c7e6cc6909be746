#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollout_undo
short_description: Undo the last rollout of a service on Kubernetes, Docker Compose or a plain server
description:
  - Level 1 of a rollback (runbooks 000 option B/C, 001 level 1, 002 option B, 004 partial rollback).
    Puts the previous release of one service back and waits until it really runs.
  - 'O(platform=compose): each service of the project (or O(services)) goes back to its previous image, and the
    project''s own configuration is changed so that the next plain C(docker compose up) (a reboot, the next
    pipeline run) keeps it. The target is, in this order, the compose files at the git commit O(to_version)
    names when O(project_src) is in a git work tree (runbook 004); the tag O(to_version) of the running
    image''s repository; or what ran before according to the project''s deploy history (O(history_file),
    documented in docs/compose-history.md so a pipeline can write it; events the module sees are appended).
    Without a history that knows the running image, the newest local image of the repository created before
    it is taken, with a warning that it is a guess. A service whose last event is a rollback to what it runs
    is not changed again (a re-run is a no-op; O(to_version) goes further back).'
  - 'Where the target is written, per service: the compose files checked out at the commit (git); else the
    variable its image interpolates (C(image: app:${APP_TAG})), written in the env file compose reads
    (O(env_files) or C(.env)); else an override file C(compose.rollback.yaml) that pins the image, added to
    C(COMPOSE_FILE) in that env file (with O(files) or C(COMPOSE_FILE) set in the environment it cannot be,
    and a warning says the commands naming their files must add it). Each previous file is saved as
    C(<file>.pre-rollback-<time>) first; C(--diff) shows the changes (env files: only the changed lines).'
  - 'An image that is not on the Docker host is pulled from its registry (credentials O(registry_username) and
    O(registry_password), else the Docker client config C(DOCKER_CONFIG)); in check mode the registry is
    asked for it instead. Refused credentials or a missing tag fail the task with one line, before anything
    changes. Then C(docker compose up -d --no-deps --pull never [--wait]) of the services that change, with
    the files just written: compose starts them in dependency order and waits on their health conditions;
    other services (infrastructure in another file, dependencies) are not touched. The running containers
    are checked to use the target image afterwards.'
  - 'O(platform=server): with O(releases_dir), the C(current) symlink is switched atomically to
    C(releases/<to_version>) (default: the release before the current one in natural version order); with
    O(repo_dir), the work tree is checked out at the tag O(to_version) (default: the tag before the current
    one). O(before_start) runs in the target release first; then O(units) are restarted and waited for.
    Releases are never deleted.'
  - 'O(platform=kubernetes): what C(kubectl rollout undo) does, through the official client. A Deployment: the
    ReplicaSets it controls (by ownerReferences, not only by labels); the revision to return to is the second highest
    ReplicaSet revision, as kubectl derives it (never the Deployment''s own revision annotation, which may be stale),
    or exactly O(to_revision) (an absent revision fails, listing the available ones); the revision''s template
    without C(pod-template-hash) and one JSON patch of the template and annotations. A paused Deployment is refused.
    A StatefulSet or DaemonSet: its ControllerRevisions, whose data is the patch kubectl sends; with
    C(updateStrategy: OnDelete) the undo is refused before any change unless O(wait=false) (its pods change only when
    deleted).'
  - 'O(platform=kubernetes), waiting: exactly as C(kubectl rollout status). It fails as soon as the controller
    reports C(ProgressDeadlineExceeded) for the current generation, and on failure or timeout the message gives the
    newest pods'' waiting or terminated reasons (for example C(ImagePullBackOff)) and their recent Warning events.
    The wait survives transient API errors.'
  - 'O(platform=kubernetes): an object managed by Argo CD or Flux that would revert the undo is refused unless
    O(force) (see O(force)). In check mode the patch is sent as a server-side dry run, so RBAC, validation and
    admission are tried without changing anything.'
  - Already at the target release, nothing changes (C(changed=false)).
  - 'A re-run does not undo again (O(platform=kubernetes) and O(platform=server)). Each undo is recorded with the
    target - from, to, time, O(run_id): on Kubernetes as the annotation C(rollback.core/undo) set in the same patch
    as the undo (the Deployment controller copies it to the ReplicaSet); on a server in C(.rollback-undo.json) in
    O(releases_dir), or in C(.git/) of O(repo_dir), written just before the switch. A later run without
    O(to_revision) or O(to_version) that finds the target still at the recorded C(to) (Kubernetes: the same pod
    template; server: the same release, and for a tag the same commit) changes nothing and returns
    RV(already_rolled_back) (in check mode too); anything deployed since is undone as usual; an explicit target
    always wins. A redeploy of exactly the release put back looks like nothing deployed since: give O(to_revision)
    or O(to_version) then. An unreadable record fails the task: give the target explicitly or remove the record.
    Compose keeps the same guarantee through its deploy history (above).'
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.wait
  - rollback.core.kube_auth
  - rollback.core.kube_gitops
options:
  platform:
    description:
      - Where the service runs.
    type: str
    required: true
    choices: [kubernetes, compose, server]
  name:
    description:
      - Name of the service, returned as RV(service); with O(platform=kubernetes), the name of the workload.
    type: str
    required: true
  kind:
    description:
      - Kind of the Kubernetes workload. StatefulSets and DaemonSets are undone through their
        ControllerRevisions (the revision's data is the patch kubectl sends).
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  namespace:
    description:
      - Kubernetes namespace.
    type: str
    default: default
  to_revision:
    description:
      - Kubernetes revision to return to. Default, the highest revision below the current one.
    type: int
  to_version:
    description:
      - Release to return to. Default, the previous one.
      - Server, a release name or git tag. Compose, a git tag or commit of the work tree holding O(project_src)
        (the compose files are checked out at it), else an image tag of the running image's repository.
    type: str
  project_src:
    description:
      - Directory of the compose project (O(platform=compose)).
    type: path
  files:
    description:
      - Compose files, relative to O(project_src), as C(-f) gives them. With runbook 004's
        C(-f docker-compose.app.yml), the services of the other files are not part of the project, and are not
        touched. Default, what compose loads there (C(COMPOSE_FILE) from the environment or the env file, else
        C(compose.yaml) and its override).
    type: list
    elements: path
  env_files:
    description:
      - Env files compose reads for interpolation, as C(--env-file) gives them, relative to O(project_src).
        Default, the project's C(.env).
    type: list
    elements: path
  history_file:
    description:
      - Deploy history of the compose project (JSON Lines, docs/compose-history.md). Default,
        C(.deploy-history.jsonl) in O(project_src).
    type: path
  registry_username:
    description:
      - User for the registry of an image that must be pulled. Default, the credentials of the Docker client
        config (C(DOCKER_CONFIG), C(~/.docker/config.json)).
    type: str
  registry_password:
    description:
      - Password or token of O(registry_username).
    type: str
  project_name:
    description:
      - Compose project name. Default, the one compose derives.
    type: str
  services:
    description:
      - Compose services to switch. Default, all services of the project.
    type: list
    elements: str
  releases_dir:
    description:
      - Deploy root holding C(releases/<version>/) and the C(current) symlink (O(platform=server)).
    type: path
  repo_dir:
    description:
      - Git work tree whose release tags are checked out (O(platform=server)), instead of O(releases_dir).
    type: path
  units:
    description:
      - systemd units to restart after the switch and wait for until active (O(platform=server)).
    type: list
    elements: str
    default: []
  run_id:
    description:
      - Id of the rollback run, kept in the undo record (O(platform=kubernetes) and O(platform=server)); the
        C(app) role passes the run's id.
    type: str
  before_start:
    description:
      - Command run in the target release before the switch (for example C(pip install -r requirements.txt));
        if it fails, nothing is switched. Split like a shell would, but not run by a shell.
    type: str
attributes:
  check_mode:
    description: Reads the running image or release and reports the target; changes nothing. On Kubernetes the
      patch is sent as a server-side dry run.
    support: full
  diff_mode:
    description: Shows the image per service (compose, running and configured) or the release before and after,
      and the compose project's files that change.
    support: full
requirements:
  - kubernetes (Python client) for O(platform=kubernetes)
  - docker (Python SDK), Docker Compose v2 and, for the git layout, git for O(platform=compose)
  - systemctl on PATH for O(units)
"""

EXAMPLES = r"""
- name: Undo the last rollout of a Deployment (kubectl rollout undo, then wait)
  rollback.core.rollout_undo:
    platform: kubernetes
    name: catalytic-saas-api
    namespace: catalytic-saas
    wait_timeout: 300

- name: Undo the last compose rollout of the api (what ran before, from the project's deploy history)
  rollback.core.rollout_undo:
    platform: compose
    name: api
    project_src: /srv/api
    services: [api, worker]

- name: Runbook 004 - the app file checked out at the previous tag, its images pulled, infrastructure untouched
  rollback.core.rollout_undo:
    platform: compose
    name: platform
    project_src: /srv/platform
    files: [docker-compose.app.yml]
    to_version: v2.3.0
    registry_username: deploy
    registry_password: "{{ registry_token }}"

- name: Back to the previous release dir and restart the service
  rollback.core.rollout_undo:
    platform: server
    name: api
    releases_dir: /srv/api
    units: [api.service]
    before_start: /srv/api/shared/venv/bin/pip install -r requirements.txt
  diff: true
"""

RETURN = r"""
from_version:
  description: The version that ran before (compose, the first service's tag; kubernetes, the container images).
  returned: always
  type: str
to_version:
  description: The version that runs now (or would, in check mode).
  returned: always
  type: str
service:
  description: The O(name) given, to tell the services of a loop apart in reports.
  returned: always
  type: str
platform:
  description: The O(platform) given.
  returned: always
  type: str
revision:
  description: The Kubernetes revision rolled back to.
  returned: when platform is kubernetes
  type: int
from_revision:
  description: The Kubernetes revision that ran before (the revision of the ReplicaSet or ControllerRevision whose
    template is the current one).
  returned: when platform is kubernetes
  type: int
api_server:
  description: The Kubernetes API server used and where its configuration came from (option, K8S_AUTH_*, KUBECONFIG,
    in-cluster).
  returned: when platform is kubernetes
  type: str
services:
  description: Compose services considered.
  returned: when platform is compose
  type: list
  elements: str
layouts:
  description: Compose, per service, where the target was written - V(git), V(env) or V(override).
  returned: when platform is compose
  type: dict
  sample: {web: env}
previous_from:
  description: Compose, per service, how the target was chosen (O(to_version), the history and why, or the
    creation-time guess).
  returned: when platform is compose
  type: dict
images:
  description: Compose, per target image not already running, V(local), V(pulled) or (check mode) V(in registry).
  returned: when platform is compose
  type: dict
changed_files:
  description: Compose, the project's files written (or that would be).
  returned: when platform is compose
  type: list
  elements: str
saved_to:
  description: Compose, the copies of the previous files.
  returned: when platform is compose
  type: list
  elements: str
history_file:
  description: Compose, the deploy history read and appended to.
  returned: when platform is compose
  type: str
release_path:
  description: Directory of the target release.
  returned: when platform is server
  type: str
already_rolled_back:
  description: True when nothing was deployed since this module's last undo of the target (its undo record's C(to)
    is what runs) and no explicit target was given, so nothing changed. Then RV(revision) and RV(from_revision) are
    the record's C(to) revision, numbered as before that undo.
  returned: when platform is kubernetes or server
  type: bool
undo_record:
  description: The undo record written by this run (or that would be, in check mode), else the one found (null
    when none). C(from) and C(to) hold C(version) (Kubernetes, the images; also C(revision) and C(template), a
    digest of the pod template; server, the release or tag; for a tag also C(commit)), with C(time) and C(run_id).
  returned: when platform is kubernetes or server
  type: dict
  sample: {from: {version: v1.0.1}, to: {version: v1.0.0}, time: '2026-12-04T11:30:00Z', run_id: 20261204T113000Z-1}
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import compose, kubernetes, kubernetes_undo, server
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_gitops import GITOPS_SPEC
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter
from ansible_collections.rollback.core.plugins.module_utils.compose_undo import COMPOSE_UNDO_SPEC


def undo(module):
    platform = module.params["platform"]
    if platform == "kubernetes":
        module.require_library("kubernetes", kubernetes.KUBERNETES_IMPORT_ERROR)
        result = kubernetes_undo.undo(module, Waiter(module))
    elif platform == "compose":
        module.require_library("docker", compose.DOCKER_IMPORT_ERROR)
        result = compose.undo(module, Waiter(module).enabled)
    else:
        result = server.undo(module, Waiter(module))
    result.update(service=module.params["name"], platform=platform)
    return result


def main():
    module = RollbackModule(
        dict(
            platform=dict(type="str", required=True, choices=["kubernetes", "compose", "server"]),
            name=dict(type="str", required=True),
            to_version=dict(type="str"),
            run_id=dict(type="str"),
            **COMPOSE_UNDO_SPEC
        ),
        shared_specs=(kubernetes.KUBE_AUTH_SPEC, kubernetes.KUBE_TARGET_SPEC, GITOPS_SPEC, compose.COMPOSE_SPEC,
                      server.SERVER_SPEC, WAIT_SPEC),
        mutually_exclusive=[("releases_dir", "repo_dir")],
        supports_check_mode=True,
    )
    module.run(undo)


if __name__ == "__main__":
    main()
