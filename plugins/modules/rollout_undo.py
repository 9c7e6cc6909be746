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
  - 'O(platform=compose): each service of the project (or O(services)) is switched to O(to_version), a tag of
    the image it runs, or by default to the newest local image of the same repository created before the
    running one. The image must be present locally; otherwise the task fails before anything changes. The
    switch is C(docker compose up -d --no-deps --wait) with a temporary override that pins the images, so
    the compose files are not edited (a later plain C(docker compose up) uses their tags again: fix them
    forward). The running containers are checked to use the target image afterwards.'
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
      - Image tag (compose) or release name / git tag (server) to return to. Default, the previous one.
    type: str
  project_src:
    description:
      - Directory of the compose project (O(platform=compose)).
    type: path
  files:
    description:
      - Compose files, relative to O(project_src). Default, the ones compose finds there.
    type: list
    elements: path
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
    description: Shows the image per service or the release before and after.
    support: full
requirements:
  - kubernetes (Python client) for O(platform=kubernetes)
  - docker (Python SDK) and Docker Compose v2 for O(platform=compose)
  - systemctl on PATH for O(units)
"""

EXAMPLES = r"""
- name: Undo the last rollout of a Deployment (kubectl rollout undo, then wait)
  rollback.core.rollout_undo:
    platform: kubernetes
    name: catalytic-saas-api
    namespace: catalytic-saas
    wait_timeout: 300

- name: Undo the last compose rollout of the api
  rollback.core.rollout_undo:
    platform: compose
    name: api
    project_src: /srv/api
    services: [api, worker]

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
release_path:
  description: Directory of the target release.
  returned: when platform is server
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import compose, kubernetes, kubernetes_undo, server
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_gitops import GITOPS_SPEC
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


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
        ),
        shared_specs=(kubernetes.KUBE_AUTH_SPEC, kubernetes.KUBE_TARGET_SPEC, GITOPS_SPEC, compose.COMPOSE_SPEC,
                      server.SERVER_SPEC, WAIT_SPEC),
        mutually_exclusive=[("releases_dir", "repo_dir")],
        supports_check_mode=True,
    )
    module.run(undo)


if __name__ == "__main__":
    main()
