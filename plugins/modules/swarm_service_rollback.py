#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swarm_service_rollback
short_description: Roll a Docker Swarm service back to an image or to its previous spec, and wait until it runs
description:
  - Level 1 of a rollback for a service on Docker Swarm (runbook 002 option B).
  - 'O(image): what C(docker service update --image <image> <service>) does. The service''s spec is read and
    sent back with only C(TaskTemplate.ContainerSpec.Image) replaced (Docker SDK C(update_service), at the
    spec''s version, so a concurrent change fails instead of being overwritten). Registry credentials of the
    Docker client configuration are sent along, like C(--with-registry-auth).'
  - 'O(previous=true): what C(docker service rollback <service>) does. The Engine API''s
    C(POST /services/{id}/update?rollback=previous) makes swarm swap the service''s Spec and PreviousSpec and
    apply its RollbackConfig. The Docker SDK for Python has no parameter for this query, so the request is sent
    through the SDK client''s own HTTP session (same connection, TLS and API version). A service that was never
    updated has no previous spec: the task fails and names O(image) instead.'
  - 'Idempotent: with O(image), a service whose spec already runs that image is not updated (a digest swarm
    pinned is ignored unless O(image) names one). With O(previous=true), a service whose last change already
    was a rollback (update state C(rollback_started) or C(rollback_completed)) is left alone, since a second
    C(docker service rollback) would go forward again; so is a service whose previous spec equals its spec.'
  - 'Before any change: the engine is a swarm manager, the service exists, and the target image is present on
    the engine''s host or known to its registry. Otherwise the task fails with one line and nothing changes.'
  - 'Waiting (see O(wait)): until no update is in progress and exactly the expected number of tasks
    (replicas, or the global tasks swarm wants) run, all on the target image. When swarm pauses the update or
    rolls it back itself (the service''s C(FailureAction)), the task fails at once with the update''s message and
    the latest task errors (for example C(No such image)).'
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.wait
options:
  name:
    description:
      - Name or ID of the swarm service.
    type: str
    required: true
  image:
    description:
      - Image to run, for example C(registry.example.com/app-backend:4f2a9c1). Mutually exclusive with O(previous).
    type: str
  previous:
    description:
      - Roll back to the service's previous spec, like C(docker service rollback). Mutually exclusive with O(image).
    type: bool
    default: false
  docker_host:
    description:
      - Docker engine of a swarm manager, for example C(unix:///var/run/docker.sock) or C(tcp://manager:2376).
      - Default, E(DOCKER_HOST) or the local socket. TLS comes from E(DOCKER_TLS_VERIFY) and E(DOCKER_CERT_PATH).
    type: str
attributes:
  check_mode:
    description: Reads the service and checks the target image; reports the target and the spec fields that would
      change, and changes nothing.
    support: full
  diff_mode:
    description: The image and the changed spec fields before and after.
    support: full
requirements:
  - docker (Docker SDK for Python)
  - A Docker Engine in swarm mode, reached on a manager node (verified with Engine 20.10, API 1.41)
"""

EXAMPLES = r"""
- name: Runbook 002 option B - back to the previous build of app-backend
  rollback.core.swarm_service_rollback:
    name: app-backend
    image: "registry.example.com/app-backend:{{ previous_sha }}"
    wait_timeout: 300

- name: Like docker service rollback, on a remote manager
  rollback.core.swarm_service_rollback:
    name: app-backend
    previous: true
    docker_host: tcp://swarm-manager-1:2376
  environment:
    DOCKER_TLS_VERIFY: "1"
    DOCKER_CERT_PATH: /etc/rollback/docker-certs
"""

RETURN = r"""
service:
  description: Name of the service.
  returned: always
  type: str
service_id:
  description: ID of the service.
  returned: always
  type: str
mode:
  description: V(image) or V(previous), the kind of rollback asked for.
  returned: always
  type: str
before_image:
  description: Image of the service's spec before the task.
  returned: always
  type: str
  sample: rollback-demo:1.0.1
after_image:
  description: Image of the service's spec after the task (in check mode, the target).
  returned: always
  type: str
  sample: rollback-demo:1.0.0
from_version:
  description: Tag (or digest) of RV(before_image), for reports.
  returned: always
  type: str
to_version:
  description: Tag (or digest) of RV(after_image), for reports.
  returned: always
  type: str
changes:
  description: Dotted paths of the spec fields changed (or, in check mode, that would change).
  returned: always
  type: list
  elements: str
  sample: [TaskTemplate.ContainerSpec.Image]
spec_version:
  description: The service's version index when the task ended.
  returned: always
  type: int
update_state:
  description: The service's UpdateStatus state when the task ended (V(completed), V(rollback_completed), ...);
    null when swarm reports none.
  returned: always
  type: str
tasks_running:
  description: Number of the service's tasks running when the task ended.
  returned: always
  type: int
task_images:
  description: Images of the running tasks.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.compose import DOCKER_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.swarm import DOCKER_CONNECTION_SPEC, rollback
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC


def main():
    module = RollbackModule(
        dict(
            name=dict(type="str", required=True),
            image=dict(type="str"),
            previous=dict(type="bool", default=False),
        ),
        shared_specs=(DOCKER_CONNECTION_SPEC, WAIT_SPEC),
        supports_check_mode=True,
    )
    module.require_library("docker", DOCKER_IMPORT_ERROR)
    module.run(rollback)


if __name__ == "__main__":
    main()
