# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes through the official client: connection options, readiness, Deployment undo.

The undo does what ``kubectl rollout undo`` does (kubectl's DeploymentRollbacker):
take the ReplicaSets the Deployment controls (ownerReferences, not only the
selector), pick the target revision, drop pod-template-hash from its template
and send one JSON patch that replaces spec.template and metadata.annotations
(kubectl's annotation rule). The wait then follows the rollout to the end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

try:
    from kubernetes import config as kube_config
    from kubernetes.client.api_client import ApiClient
    from kubernetes.client.configuration import Configuration
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
else:
    KUBERNETES_IMPORT_ERROR = None

KUBE_AUTH_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", default=True),
)
KUBE_TARGET_SPEC = dict(
    kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet", "DaemonSet"]),
    namespace=dict(type="str", default="default"),
    to_revision=dict(type="int"),
)

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# kubectl keeps these from the Deployment and takes every other annotation from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset([
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
    "apps.kubernetes.io/deprecated-deployment-rollback-to",
    # Not kubectl's: the replica count rollback.core.traffic saved must survive an undo between stop and resume.
    "rollback.core/replicas-before-stop",
])


def api_client(params):
    """An ApiClient from host/api_key, or a kubeconfig (file and context), or the in-cluster config."""
    configuration = Configuration()
    try:
        if params.get("host"):
            configuration.host = params["host"]
            if params.get("api_key"):
                configuration.api_key = {"authorization": "Bearer " + params["api_key"]}
        elif params.get("kubeconfig") or params.get("context") or not _in_cluster():
            kube_config.load_kube_config(config_file=params.get("kubeconfig"), context=params.get("context"),
                                         client_configuration=configuration)
        else:
            kube_config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as error:
        raise RollbackError("cannot load the Kubernetes configuration: %s" % error)
    configuration.verify_ssl = params.get("validate_certs", True)
    return ApiClient(configuration)


def _in_cluster():
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


# The resources the collection touches: plural -> (API path prefix, singular for messages).
RESOURCES = {
    "deployments": ("/apis/apps/v1", "deployment"), "statefulsets": ("/apis/apps/v1", "statefulset"),
    "daemonsets": ("/apis/apps/v1", "daemonset"), "replicasets": ("/apis/apps/v1", "replicaset"),
    "controllerrevisions": ("/apis/apps/v1", "controllerrevision"), "configmaps": ("/api/v1", "configmap"),
    "secrets": ("/api/v1", "secret"),
}
PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


class Kube:
    """JSON over the official client's ApiClient, which brings the kubeconfig, auth, TLS and proxies.

    Not the typed AppsV1Api/CoreV1Api: with kubernetes 37 they build about 160 pydantic models on import,
    a second of CPU per module run, more than the rollback's own API calls. Objects stay plain dicts.
    One method per RBAC verb, so docs/least-privilege/k8s-rbac.yaml is checked against the calls.
    """

    def __init__(self, params):
        self.api = api_client(params)

    def get(self, resource, namespace, name):
        return self._request("reading", "GET", resource, namespace, name)

    def list(self, resource, namespace, selector=None):
        query = [("labelSelector", selector)] if selector else []
        return self._request("listing", "GET", resource, namespace, query=query)

    def patch(self, resource, namespace, name, body):
        # A list is a JSON patch; a dict a strategic merge patch, as kubectl sends them.
        kind = "application/json-patch+json" if isinstance(body, list) else "application/strategic-merge-patch+json"
        return self._request("patching", "PATCH", resource, namespace, name, body, kind)

    def create(self, resource, namespace, body):
        return self._request("creating", "POST", resource, namespace, body=body, content_type="application/json")

    def replace(self, resource, namespace, name, body):
        return self._request("replacing", "PUT", resource, namespace, name, body, "application/json")

    def _request(self, verb, method, resource, namespace, name=None, body=None, content_type=None, query=None):
        prefix, singular = RESOURCES[resource]
        path = "%s/namespaces/%s/%s" % (prefix, namespace, resource) + ("/" + name if name else "")
        named = name or (body.get("metadata", {}).get("name") if method == "POST" else None)
        what = ("%s %s %s/%s" % (verb, singular, namespace, named) if named
                else "%s %s in %s" % (verb, resource, namespace))
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            method, url, headers, body, _post = self.api.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body,
                auth_settings=["BearerToken"])
            response = self.api.call_api(method, url, header_params=headers, body=body)
            response.read()
        except ApiException as error:
            raise RollbackError("%s failed: %s %s" % (what, error.status, error.reason),
                                status=error.status)
        except (Urllib3Error, OSError) as error:
            raise RollbackError("%s failed: Kubernetes API unreachable: %s" % (what, error))
        try:
            data = json.loads(response.data or b"null")
        except ValueError:
            data = None
        if response.status >= 400:
            message = data.get("message") if isinstance(data, dict) else response.reason
            raise RollbackError("%s failed: %s %s" % (what, response.status, message),
                                status=response.status)
        return data


def pruned(value):
    """Without null and empty fields, so templates compare as the API server's defaulting would."""
    if isinstance(value, dict):
        value = dict((k, pruned(v)) for k, v in value.items())
        return dict((k, v) for k, v in value.items() if v not in (None, {}, []))
    if isinstance(value, list):
        return [pruned(item) for item in value]
    return value


def images(template):
    return ",".join(c.get("image", "") for c in template.get("spec", {}).get("containers", []))


def deployment_ready(deployment):
    """(done, state) of a rollout, as ``kubectl rollout status`` judges it."""
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    meta = deployment["metadata"]
    replicas = spec.get("replicas", 1)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return False, "progress deadline exceeded: %s" % condition.get("message")
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "waiting for the controller to observe generation %s" % meta.get("generation")
    updated, total, available = (status.get("updatedReplicas", 0), status.get("replicas", 0),
                                 status.get("availableReplicas", 0))
    if updated < replicas:
        return False, "%d of %d updated replicas" % (updated, replicas)
    if total > updated:
        return False, "%d old replicas pending termination" % (total - updated)
    if available < updated:
        conditions = "; ".join("%s=%s %s" % (c.get("type"), c.get("status"), c.get("message", ""))
                               for c in status.get("conditions") or [])
        return False, "%d of %d updated replicas available (%s)" % (available, updated, conditions)
    return True, "%d of %d replicas updated and available" % (available, replicas)


def statefulset_ready(obj):
    """(done, state) as ``kubectl rollout status`` judges a RollingUpdate StatefulSet."""
    spec, status, meta = obj.get("spec", {}), obj.get("status") or {}, obj["metadata"]
    replicas = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "waiting for the controller to observe generation %s" % meta.get("generation")
    if status.get("readyReplicas", 0) < replicas:
        return False, "%d of %d pods ready" % (status.get("readyReplicas", 0), replicas)
    if status.get("updateRevision") != status.get("currentRevision"):
        updated = status.get("updatedReplicas", 0)
        return False, "%d of %d pods at revision %s" % (updated, replicas, status.get("updateRevision"))
    return True, "%d pods ready at revision %s" % (replicas, status.get("currentRevision"))


def daemonset_ready(obj):
    """(done, state) as ``kubectl rollout status`` judges a DaemonSet."""
    status, meta = obj.get("status") or {}, obj["metadata"]
    desired = status.get("desiredNumberScheduled", 0)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "waiting for the controller to observe generation %s" % meta.get("generation")
    if status.get("updatedNumberScheduled", 0) < desired:
        return False, "%d of %d updated pods scheduled" % (status.get("updatedNumberScheduled", 0), desired)
    if status.get("numberAvailable", 0) < desired:
        return False, "%d of %d updated pods available" % (status.get("numberAvailable", 0), desired)
    return True, "%d of %d pods updated and available" % (desired, desired)


HISTORY_KINDS = {"StatefulSet": statefulset_ready, "DaemonSet": daemonset_ready}
READINESS = dict(HISTORY_KINDS, Deployment=deployment_ready)


def _revision(obj):
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def undo(module, waiter):
    params = module.params
    kube = Kube(params)
    if params["kind"] in HISTORY_KINDS:
        return _undo_with_history(module, waiter, kube)
    name, namespace = params["name"], params["namespace"]
    what = "deployment %s/%s" % (namespace, name)
    deployment = kube.get("deployments", namespace, name)
    if deployment["spec"].get("paused"):
        raise RollbackError("%s is paused: resume it first (kubectl rollout resume), then undo" % what)
    owned = _owned_replicasets(kube, deployment)
    by_revision = dict((_revision(rs), rs) for rs in owned)
    current = _revision(deployment) or max(by_revision or [0])
    if params["to_revision"]:
        target_revision = params["to_revision"]
    else:
        older = [revision for revision in by_revision if revision < current]
        if not older:
            raise RollbackError("%s has no revision before %d to roll back to" % (what, current))
        target_revision = max(older)
    if target_revision not in by_revision:
        raise RollbackError("revision %d of %s not found; available: %s" % (
            target_revision, what, ", ".join(str(r) for r in sorted(by_revision)) or "none"))
    template = copy.deepcopy(by_revision[target_revision]["spec"]["template"])
    (template.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    before, after = pruned(deployment["spec"]["template"]), pruned(template)
    result = module.changed_result(before, after, from_version=images(deployment["spec"]["template"]),
                                   to_version=images(template), revision=target_revision, from_revision=current)
    if not result["changed"] or module.check_mode:
        return result
    annotations = dict((k, v) for k, v in (deployment["metadata"].get("annotations") or {}).items()
                       if k in ANNOTATIONS_TO_SKIP)
    annotations.update((k, v) for k, v in (by_revision[target_revision]["metadata"].get("annotations") or {}).items()
                       if k not in ANNOTATIONS_TO_SKIP)
    patch = [{"op": "replace", "path": "/spec/template", "value": template},
             {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
    kube.patch("deployments", namespace, name, patch)
    waiter.wait(lambda: deployment_ready(kube.get("deployments", namespace, name)), "the rollout of %s" % what)
    return result


def _owned_replicasets(kube, deployment):
    selector = ",".join("%s=%s" % item for item in sorted(
        (deployment["spec"].get("selector") or {}).get("matchLabels", {}).items()))
    listed = kube.list("replicasets", deployment["metadata"]["namespace"], selector)
    uid = deployment["metadata"]["uid"]
    return [rs for rs in listed.get("items", []) if any(
        ref.get("uid") == uid and ref.get("controller") for ref in rs["metadata"].get("ownerReferences") or [])]


def _without_directive(template):
    return dict((k, v) for k, v in template.items() if k != "$patch")


def _undo_with_history(module, waiter, kube):
    """StatefulSet and DaemonSet, through their ControllerRevisions, as kubectl's rollbackers do."""
    params = module.params
    kind, name, namespace = params["kind"], params["name"], params["namespace"]
    plural, ready = PLURAL[kind], HISTORY_KINDS[kind]
    what = "%s %s/%s" % (kind.lower(), namespace, name)

    def read():
        return kube.get(plural, namespace, name)

    obj = read()
    selector = ",".join("%s=%s" % item for item in sorted(
        (obj["spec"].get("selector") or {}).get("matchLabels", {}).items()))
    listed = kube.list("controllerrevisions", namespace, selector)
    history = sorted((r for r in listed.get("items", []) if any(
        ref.get("uid") == obj["metadata"]["uid"] and ref.get("controller")
        for ref in r["metadata"].get("ownerReferences") or [])), key=lambda r: r.get("revision", 0))
    by_revision = dict((r.get("revision", 0), r) for r in history)
    if params["to_revision"]:
        target_revision = params["to_revision"]
    elif len(history) < 2:
        raise RollbackError("%s has no revision before %s to roll back to" % (
            what, history[-1].get("revision") if history else "the current one"))
    else:
        target_revision = history[-2].get("revision")
    if target_revision not in by_revision:
        raise RollbackError("revision %d of %s not found; available: %s" % (
            target_revision, what, ", ".join(str(r) for r in sorted(by_revision)) or "none"))
    template = _without_directive(by_revision[target_revision]["data"]["spec"]["template"])
    before, after = pruned(obj["spec"]["template"]), pruned(template)
    result = module.changed_result(before, after, from_version=images(obj["spec"]["template"]),
                                   to_version=images(template), revision=target_revision,
                                   from_revision=history[-1].get("revision") if history else None)
    if not result["changed"] or module.check_mode:
        return result
    # The revision's data is the strategic merge patch kubectl sends ($patch: replace on the template).
    kube.patch(plural, namespace, name, by_revision[target_revision]["data"])
    waiter.wait(lambda: ready(read()), "the rollout of " + what)
    return result
