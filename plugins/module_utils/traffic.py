# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop and resume a service's traffic around a database restore (runbook 000 steps 1.2 and 4.5).

Kubernetes: kubernetes_traffic.py (scale to 0 until no pod is left, autoscalers
paused, the count kept on the object). Compose: stop and start the service
containers. Server (server.traffic): a maintenance flag file and the units
stopped, then started and waited for. Swarm (swarm.traffic): scaled to 0, the
count in a label.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import ComposeProject
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_traffic import kubernetes_traffic

__all__ = ("TRAFFIC_SPEC", "compose_traffic", "kubernetes_traffic")

TRAFFIC_SPEC = dict(
    platform=dict(type="str", required=True, choices=["kubernetes", "compose", "server", "swarm"]),
    state=dict(type="str", required=True, choices=["stopped", "started"]),
    name=dict(type="str", required=True),
    kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet"]),
    namespace=dict(type="str", default="default"),
    replicas=dict(type="int"),
    state_file=dict(type="path"),
    units=dict(type="list", elements="str", default=[]),
    maintenance_file=dict(type="path"),
    reason=dict(type="str", default="rollback in progress"),
)


def compose_traffic(module):
    params = module.params
    project = ComposeProject(module)
    services = project.select(params["services"])
    running = dict((s, bool(project.running_images(s))) for s in services)
    wanted = params["state"] == "started"
    result = module.changed_result(running, dict((s, wanted) for s in services), project=project.name,
                                   services=services)
    if not result["changed"] or module.check_mode:
        return result
    changing = sorted(s for s in services if running[s] != wanted)
    action = "start" if wanted else "stop"
    project.run([action] + changing, "docker compose " + action)
    still = [s for s in changing if bool(project.running_images(s)) != wanted]
    if still:
        raise RollbackError("after docker compose %s, service(s) %s are still %s" % (
            "start" if wanted else "stop", ", ".join(still), "stopped" if wanted else "running"))
    return result
