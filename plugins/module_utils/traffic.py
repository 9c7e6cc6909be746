# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop and resume a service's traffic around a database restore (runbook 000 steps 1.2 and 4.5).

Kubernetes: kubernetes_traffic.py (scale to 0 until no pod is left, autoscalers
paused, the count kept on the object). Compose: stop and start the service
containers. Server: a maintenance flag file and the units stopped, then started
and waited for.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.rollback.core.plugins.module_utils import server
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import ComposeProject
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_traffic import kubernetes_traffic

__all__ = ("TRAFFIC_SPEC", "compose_traffic", "kubernetes_traffic", "server_traffic")

TRAFFIC_SPEC = dict(
    platform=dict(type="str", required=True, choices=["kubernetes", "compose", "server"]),
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


def server_traffic(module, waiter):
    params = module.params
    flag = params["maintenance_file"]
    if not flag and not params["units"]:
        raise RollbackError("platform server needs maintenance_file or units (or both) to stop traffic")
    server.check_units(module, params["units"])
    before = dict(maintenance=bool(flag and os.path.exists(flag)),
                  units=dict((u, server.unit_active(module, u)[0]) for u in params["units"]))
    stopping = params["state"] == "stopped"
    after = dict(maintenance=bool(flag and stopping), units=dict((u, not stopping) for u in params["units"]))
    result = module.changed_result(before, after, maintenance_file=flag, units=params["units"])
    if not result["changed"] or module.check_mode:
        return result
    if stopping:
        if flag and not before["maintenance"]:
            _write_flag(flag, params["reason"])
        for unit in params["units"]:
            if before["units"][unit]:
                _systemctl(module, "stop", unit)
    else:
        starting = [u for u in params["units"] if not before["units"][u]]
        for unit in starting:
            _systemctl(module, "start", unit)
        for unit in starting:
            waiter.wait(lambda unit=unit: server.unit_active(module, unit), "unit %s to be active" % unit)
        if flag and before["maintenance"]:
            os.remove(flag)
    return result


def _write_flag(path, reason):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RollbackError("directory of maintenance_file %s does not exist" % path)
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump({"reason": reason, "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, handle)
    os.rename(temporary, path)


def _systemctl(module, action, unit):
    rc, _out, err = module.run_command([module.get_bin_path("systemctl", required=True), action, unit])
    if rc != 0:
        raise RollbackError("systemctl %s %s failed: %s" % (action, unit, err.strip()))
