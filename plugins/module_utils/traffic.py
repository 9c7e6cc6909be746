# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop and resume a service's traffic around a database restore (runbook 000 steps 1.2 and 4.5).

Kubernetes: scale to 0, keeping the replica count in an annotation on the
object itself, so the resume (even from another run after a crash) restores
exactly that count. Compose: stop and start the service containers. Server
(server.traffic): a maintenance flag file and the units stopped, then started
and waited for. Swarm (swarm.traffic): scaled to 0, the count in a label.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.rollback.core.plugins.module_utils import kubernetes
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import ComposeProject

SAVED_REPLICAS = "rollback.core/replicas-before-stop"

TRAFFIC_SPEC = dict(
    platform=dict(type="str", required=True, choices=["kubernetes", "compose", "server", "swarm"]),
    state=dict(type="str", required=True, choices=["stopped", "started"]),
    name=dict(type="str", required=True),
    kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet"]),
    namespace=dict(type="str", default="default"),
    replicas=dict(type="int"),
    units=dict(type="list", elements="str", default=[]),
    maintenance_file=dict(type="path"),
    reason=dict(type="str", default="rollback in progress"),
)


def _scaled_down(obj):
    replicas = (obj.get("status") or {}).get("replicas", 0)
    return replicas == 0, "%d replica(s) still running" % replicas


def kubernetes_traffic(module, waiter):
    params = module.params
    kube = kubernetes.Kube(params)
    plural, ready = kubernetes.PLURAL[params["kind"]], kubernetes.READINESS[params["kind"]]
    name, namespace = params["name"], params["namespace"]
    what = "%s %s/%s" % (params["kind"].lower(), namespace, name)

    def read():
        return kube.get(plural, namespace, name)

    obj = read()
    replicas = obj["spec"].get("replicas", 1)
    saved = (obj["metadata"].get("annotations") or {}).get(SAVED_REPLICAS)
    if params["state"] == "stopped":
        before, after = {"replicas": replicas, "saved": saved}, {"replicas": 0, "saved": saved or str(replicas)}
        if replicas == 0 and saved is None:
            module.warn("%s already has 0 replicas and no saved count: resume will need replicas" % what)
            after["saved"] = None
        patch = {"spec": {"replicas": 0}, "metadata": {"annotations": {SAVED_REPLICAS: after["saved"]}}}
        probe = _scaled_down
    else:
        if params["replicas"] is not None:
            target = params["replicas"]
        elif saved is None and replicas > 0:
            target = replicas  # never stopped: nothing to resume
        else:
            target = _saved_count(saved, what)
        before, after = {"replicas": replicas, "saved": saved}, {"replicas": target, "saved": None}
        patch = {"spec": {"replicas": target}, "metadata": {"annotations": {SAVED_REPLICAS: None}}}
        probe = ready
    result = module.changed_result(before, after, replicas_before=replicas, replicas_after=after["replicas"])
    if not result["changed"] or module.check_mode:
        return result
    kube.patch(plural, namespace, name, patch)
    waiter.wait(lambda: probe(read()), "%s to have %d replica(s)" % (what, after["replicas"]))
    return result


def _saved_count(saved, what):
    if saved is None:
        raise RollbackError("%s has no saved replica count (annotation %s): give replicas to resume it"
                            % (what, SAVED_REPLICAS))
    try:
        return int(saved)
    except ValueError:
        raise RollbackError("%s has an unreadable saved replica count %r: give replicas" % (what, saved))


def compose_traffic(module):
    params = module.params
    project = ComposeProject(module)
    services = params["services"] or sorted(project.config.get("services", {}))
    unknown = sorted(set(services) - set(project.config.get("services", {})))
    if unknown:
        raise RollbackError("service(s) %s not in compose project %s" % (", ".join(unknown), project.name))
    running = dict((s, bool(project.running_images(s))) for s in services)
    wanted = params["state"] == "started"
    result = module.changed_result(running, dict((s, wanted) for s in services), project=project.name,
                                   services=services)
    if not result["changed"] or module.check_mode:
        return result
    changing = sorted(s for s in services if running[s] != wanted)
    argv = project._base() + (["start"] if wanted else ["stop"]) + changing
    rc, _out, err = module.run_command(argv, cwd=project.src)
    if rc != 0:
        raise RollbackError("docker compose %s failed: %s" % ("start" if wanted else "stop",
                                                              (err.strip().splitlines() or ["exit %d" % rc])[-1]))
    still = [s for s in changing if bool(project.running_images(s)) != wanted]
    if still:
        raise RollbackError("after docker compose %s, service(s) %s are still %s" % (
            "start" if wanted else "stop", ", ".join(still), "stopped" if wanted else "running"))
    return result
