#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: traffic
short_description: Stop or resume a service's traffic around a database restore
description:
  - Level 3 of a rollback stops traffic before the database is restored and resumes it after the application
    is rolled back (runbook 000 steps 1.2 and 4.5, runbook 001 step 2).
  - 'Kubernetes (Deployment, StatefulSet) - O(state=stopped) scales to 0 through the C(/scale) subresource and waits
    until no pod of the workload exists any more, Terminating ones included (they still hold database connections),
    then checks that nothing scaled it back meanwhile; the task fails, naming the field manager when the server
    records it, if something did.'
  - 'Kubernetes autoscalers - a HorizontalPodAutoscaler stops scaling a workload at 0 replicas by itself (upstream
    C(ScalingDisabled)); one with C(minReplicas: 0) would not, and is refused unless O(force). A KEDA ScaledObject
    is paused with C(autoscaling.keda.sh/paused-replicas: "0") and unpaused by O(state=started), which waits until
    KEDA reports it unpaused (condition C(Paused) no longer C(True)) before scaling: a KEDA still paused scales the
    target back to the paused count. One paused by someone else is left as it is.'
  - 'Kubernetes saved count - the count at the latest stop is kept in the label C(rollback.core/replicas-before-stop)
    on the workload itself (a label, because the Deployment controller copies annotations to its ReplicaSets and
    C(kubectl rollout undo) copies them back, stale), and in O(state_file) when given. O(state=started) restores
    O(replicas), else that count, but never scales a running workload down: it warns and leaves it. It waits for
    the rollout as C(kubectl rollout status) does.'
  - Kubernetes - an object managed by Argo CD or Flux that would scale it back is refused unless O(force). In check
    mode the patches are sent as server-side dry runs.
  - Compose - stops and starts the containers of O(services) (C(docker compose stop|start)); the containers and
    their images are kept.
  - Server - writes O(maintenance_file) (a flag a load balancer or the app checks, JSON with reason and time)
    and stops O(units); resuming starts the units, waits until they are active and removes the flag.
  - Swarm - O(state=stopped) scales a replicated service to 0 as C(docker service scale) does (the whole spec
    sent back with only the replica count changed) and keeps the count in the service label
    C(rollback.core/replicas-before-stop), then waits until no task is left starting or running;
    O(state=started) restores exactly that count and waits until that many tasks run the service's image. A
    global service cannot scale - refused, stop it at its front instead. The label survives an image rollback in
    between (rollback.core.swarm_service_rollback keeps the spec's labels).
  - Nothing changes when the service is already in the asked state.
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
      - Target type of the service.
    type: str
    required: true
    choices: [kubernetes, compose, server, swarm]
  state:
    description:
      - V(stopped) takes the service out of traffic, V(started) puts it back.
    type: str
    required: true
    choices: [stopped, started]
  name:
    description:
      - Kubernetes - the Deployment or StatefulSet. Swarm - the service (name or ID). Compose and server - the
        service's name, used in results.
    type: str
    required: true
  kind:
    description:
      - Kubernetes kind of O(name).
    type: str
    choices: [Deployment, StatefulSet]
    default: Deployment
  namespace:
    description:
      - Kubernetes namespace of O(name).
    type: str
    default: default
  replicas:
    description:
      - Kubernetes and Swarm - replica count to resume with, instead of the saved one (a running Kubernetes
        workload is still never scaled down).
    type: int
  state_file:
    description:
      - Kubernetes - also keep the saved count in this JSON file (mode 0600, written atomically), keyed by namespace,
        kind and name and tied to the object's uid; O(state=started) uses it when the label is gone and removes the
        entry.
    type: path
  docker_host:
    description:
      - Swarm - Docker engine of a swarm manager. Default, E(DOCKER_HOST) or the local socket.
    type: str
  project_src:
    description:
      - Compose - directory of the project.
    type: path
  files:
    description:
      - Compose - compose files, relative to O(project_src). Default, the ones compose finds itself.
    type: list
    elements: path
  env_files:
    description:
      - Compose - env files compose reads, as C(--env-file) gives them. Default, the project's C(.env).
    type: list
    elements: path
  project_name:
    description:
      - Compose - project name. Default, the one compose derives.
    type: str
  services:
    description:
      - Compose - services to stop or start. Default, every service of the project.
    type: list
    elements: str
  units:
    description:
      - Server - systemd units to stop and start.
    type: list
    elements: str
    default: []
  maintenance_file:
    description:
      - Server - flag file written while traffic is stopped.
    type: path
  reason:
    description:
      - Server - reason written into O(maintenance_file).
    type: str
    default: rollback in progress
attributes:
  check_mode:
    support: full
    description: Reports what would change, reading the real state.
  diff_mode:
    support: full
    description: Replica counts, running services or units and the maintenance flag before and after.
"""

EXAMPLES = r"""
- name: Stop traffic to the api before restoring its database
  rollback.core.traffic:
    platform: kubernetes
    name: api
    namespace: production
    state: stopped

- name: Resume it with the replica count saved at stop
  rollback.core.traffic:
    platform: kubernetes
    name: api
    namespace: production
    state: started

- name: Maintenance flag and units on a plain server
  rollback.core.traffic:
    platform: server
    name: billing
    state: stopped
    maintenance_file: /srv/billing/shared/maintenance.json
    units: [billing.service]

- name: Runbook 002's swarm service out of traffic while its database is restored
  rollback.core.traffic:
    platform: swarm
    name: app-backend
    state: stopped
    docker_host: tcp://swarm-manager-1:2376
"""

RETURN = r"""
replicas_before:
  description: Kubernetes and Swarm - replica count before the call.
  returned: when platform is kubernetes or swarm
  type: int
replicas_after:
  description: Kubernetes and Swarm - replica count after the call.
  returned: when platform is kubernetes or swarm
  type: int
saved_replicas:
  description: Kubernetes - the count saved at stop (null when none is known).
  returned: when platform is kubernetes
  type: int
autoscalers:
  description: Kubernetes - the HorizontalPodAutoscalers and KEDA ScaledObjects found scaling the workload at stop.
  returned: when platform is kubernetes and state is stopped
  type: list
  elements: str
api_server:
  description: Kubernetes - the API server used and where its configuration came from.
  returned: when platform is kubernetes
  type: str
project:
  description: Compose - the project name.
  returned: when platform is compose
  type: str
services:
  description: Compose - the services handled.
  returned: when platform is compose
  type: list
  elements: str
maintenance_file:
  description: Server - the flag file.
  returned: when platform is server
  type: str
units:
  description: Server - the units handled.
  returned: when platform is server
  type: list
  elements: str
service:
  description: O(name), for reports.
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import compose, kubernetes, server, swarm, traffic
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_gitops import GITOPS_SPEC
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


def switch(module):
    platform = module.params["platform"]
    if platform == "kubernetes":
        module.require_library("kubernetes", kubernetes.KUBERNETES_IMPORT_ERROR)
        result = traffic.kubernetes_traffic(module, Waiter(module))
    elif platform == "compose":
        module.require_library("docker", compose.DOCKER_IMPORT_ERROR)
        result = traffic.compose_traffic(module)
    elif platform == "swarm":
        module.require_library("docker", compose.DOCKER_IMPORT_ERROR)
        result = swarm.traffic(module, waiter=Waiter(module))
    else:
        result = server.traffic(module, Waiter(module))
    result["service"] = module.params["name"]
    return result


def main():
    module = RollbackModule(
        dict(),
        shared_specs=(kubernetes.KUBE_AUTH_SPEC, GITOPS_SPEC, compose.COMPOSE_SPEC, swarm.DOCKER_CONNECTION_SPEC,
                      traffic.TRAFFIC_SPEC, WAIT_SPEC),
        supports_check_mode=True,
    )
    module.run(switch)


if __name__ == "__main__":
    main()
