# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API client every Kubernetes module uses: JSON over the official ApiClient.

Every request has a timeout: ``wait_timeout`` (at most REQUEST_BUDGET) for a call on its own, the
wait's own deadline inside a wait. Inside a wait every transient failure (connection refused or
reset, no answer, 429, 5xx) is retried with jittered backoff until that deadline: an API server
restarting during a rollout is not the rollout failing. Outside a wait the client retries what
client-go retries (rest/request.go request/IsNextRetry: a GET after a connection reset, and
429/5xx answers; "We are not automatically retrying write operations"), and a write only after
429; a server that refuses the connection is reported at once. With ``dry_run``
every write carries ``dryRun=All``: the API server runs authorization, validation and admission
and stores nothing, which is what check mode sends.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import importlib.util
import json
import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_auth import KUBE_AUTH_SPEC, configuration_for
from ansible_collections.rollback.core.plugins.module_utils.retry import backoff_delays

# The client is imported when a Kube is made (client()): about half a second of CPU that the compose and server
# platforms of the same modules, and a module's check of its arguments, should not pay.
KUBERNETES_IMPORT_ERROR = None if importlib.util.find_spec("kubernetes") else "No module named 'kubernetes'"

__all__ = ("KUBE_AUTH_SPEC", "KUBE_TARGET_SPEC", "Kube", "KubeError", "images", "pruned", "template_without_hash")

KUBE_TARGET_SPEC = dict(
    kind=dict(type="str", default="Deployment", choices=["Deployment", "StatefulSet", "DaemonSet"]),
    namespace=dict(type="str", default="default"),
    to_revision=dict(type="int"),
)

REQUEST_BUDGET = 30.0  # seconds one call may take with its retries, outside a wait
TRANSIENT_STATUS = frozenset([429, 500, 502, 503, 504])
LAST_TRY = 0.2  # seconds a last attempt gets before a deadline (a request never gets less)

# The resources the collection touches: plural -> (API path prefix, singular for messages).
RESOURCES = {
    "deployments": ("/apis/apps/v1", "deployment"), "statefulsets": ("/apis/apps/v1", "statefulset"),
    "daemonsets": ("/apis/apps/v1", "daemonset"), "replicasets": ("/apis/apps/v1", "replicaset"),
    "controllerrevisions": ("/apis/apps/v1", "controllerrevision"), "configmaps": ("/api/v1", "configmap"),
    "secrets": ("/api/v1", "secret"), "pods": ("/api/v1", "pod"), "events": ("/api/v1", "event"),
    "horizontalpodautoscalers": ("/apis/autoscaling/v2", "horizontalpodautoscaler"),
    "scaledobjects": ("/apis/keda.sh/v1alpha1", "scaledobject"),
    "applications": ("/apis/argoproj.io/v1alpha1", "application"),
    "kustomizations": ("/apis/kustomize.toolkit.fluxcd.io/v1", "kustomization"),
    "helmreleases": ("/apis/helm.toolkit.fluxcd.io/v2", "helmrelease"),
}
HASH_LABEL = "pod-template-hash"
PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
PATCH_TYPES = {"json": "application/json-patch+json", "merge": "application/merge-patch+json",
               "strategic": "application/strategic-merge-patch+json"}


class KubeError(RollbackError):
    """A failed API call; ``status`` is the HTTP status (None without an answer), ``transient`` if worth a retry."""

    def __init__(self, msg, status=None, transient=False, sent=True, retry_after=0, body=None):
        super(KubeError, self).__init__(msg, status=status)
        self.status = status
        self.transient = transient
        self.sent = sent  # False: the server never saw the request, so even a write may be sent again
        self.retry_after = retry_after
        self.body = body


class _Client:
    """The parts of the kubernetes client and urllib3 that Kube uses, imported on first use."""

    loaded = False

    @classmethod
    def load(cls):
        if not cls.loaded:
            try:
                from kubernetes.client.api_client import ApiClient
                from kubernetes.client.exceptions import ApiException
                from urllib3.exceptions import ConnectTimeoutError, HTTPError, ReadTimeoutError
            except ImportError as error:
                raise RollbackError("the kubernetes Python client is missing (pip install kubernetes): %s" % error)
            cls.ApiClient, cls.ApiException = ApiClient, ApiException
            cls.ConnectTimeoutError, cls.ReadTimeoutError = ConnectTimeoutError, ReadTimeoutError
            cls.HTTPError = HTTPError
            cls.loaded = True
        return cls


class Kube:
    """JSON over the official client's ApiClient, which brings the kubeconfig, auth, TLS and proxies.

    Not the typed AppsV1Api/CoreV1Api: with kubernetes 37 they build about 160 pydantic models on import,
    a second of CPU per module run, more than the rollback's own API calls. Objects stay plain dicts.
    One method per RBAC verb, so docs/least-privilege/k8s-rbac.yaml is checked against the calls.
    """

    def __init__(self, params, dry_run=False, clock=time.monotonic, sleeper=time.sleep):
        configuration, self.server = configuration_for(params)
        self.api = _Client.load().ApiClient(configuration)
        self.dry_run = dry_run
        self.budget = max(1.0, min(REQUEST_BUDGET, float(params.get("wait_timeout") or REQUEST_BUDGET)))
        self.deadline = None  # set by a wait: calls inside it end by the wait's deadline
        self._clock = clock
        self._sleeper = sleeper

    def get(self, resource, namespace, name, sub=None):
        return self._request("reading", "GET", resource, namespace, name, sub=sub)

    def list(self, resource, namespace, selector=None, fields=None):
        query = [(key, value) for key, value in (("labelSelector", selector), ("fieldSelector", fields)) if value]
        return self._request("listing", "GET", resource, namespace, query=query)

    def patch(self, resource, namespace, name, body, patch_type=None, sub=None):
        # A list is a JSON patch; a dict a strategic merge patch unless said otherwise, as kubectl sends them.
        kind = patch_type or ("json" if isinstance(body, list) else "strategic")
        return self._request("patching", "PATCH", resource, namespace, name, body, PATCH_TYPES[kind], sub=sub)

    def create(self, resource, namespace, body):
        return self._request("creating", "POST", resource, namespace, body=body, content_type="application/json")

    def delete(self, resource, namespace, name, preconditions=None):
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if preconditions:
            body["preconditions"] = preconditions
        return self._request("deleting", "DELETE", resource, namespace, name, body, "application/json")

    def until(self, deadline):
        """Calls made inside ``with kube.until(deadline):`` retry up to that deadline (a wait's)."""
        return _Deadline(self, deadline)

    def _request(self, verb, method, resource, namespace, name=None, body=None, content_type=None, query=None,
                 sub=None):
        prefix, singular = RESOURCES[resource]
        path = "%s/namespaces/%s/%s" % (prefix, namespace, resource) + ("/" + name if name else "")
        path += "/" + sub if sub else ""
        named = name or (body.get("metadata", {}).get("name") if method == "POST" else None)
        what = ("%s %s%s %s/%s" % (verb, singular, "/" + sub if sub else "", namespace, named) if named
                else "%s %s in %s" % (verb, resource, namespace))
        query = list(query or [])
        if self.dry_run and method != "GET":
            query.append(("dryRun", "All"))
            what = "%s (server-side dry run)" % what
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        started = self._clock()
        deadline = self.deadline if self.deadline is not None else started + self.budget
        delays = backoff_delays(1000, 0.25, 4.0)
        last_try = False
        while True:
            try:
                return self._once(method, path, query, headers, body, what, max(0.2, deadline - self._clock()))
            except KubeError as error:
                if not _retryable(error, method, self.deadline is not None):
                    raise
                delay = max(next(delays), error.retry_after)
                remaining = deadline - self._clock()
                shortened = remaining - delay <= LAST_TRY and not error.retry_after
                if shortened:
                    delay = remaining - LAST_TRY  # a shorter last pause, so the call is tried until its deadline
                # Not compared again once shortened: remaining - delay may round to just below LAST_TRY. The try
                # after a pause that leaves LAST_TRY or less is the last one (its remaining time may round to just
                # above LAST_TRY, and a fast failure would otherwise be retried after pauses of almost nothing).
                if last_try or delay <= 0 or (not shortened and remaining - delay < LAST_TRY):
                    raise KubeError("%s (retried for %.0fs)" % (error.msg, self._clock() - started),
                                    status=error.status, transient=True)
                last_try = shortened
                self._sleeper(delay)

    def _once(self, method, path, query, headers, body, what, timeout):
        client = _Client.load()
        try:
            method, url, headers, body, _post = self.api.param_serialize(
                method, path, query_params=query, header_params=dict(headers), body=body,
                auth_settings=["BearerToken"])
            response = self.api.call_api(method, url, header_params=headers, body=body,
                                         _request_timeout=min(timeout, REQUEST_BUDGET))
            response.read()
        except client.ApiException as error:  # TLS failures and the like: not worth a retry
            raise KubeError("%s failed: %s %s" % (what, error.status, error.reason), status=error.status)
        except client.ReadTimeoutError:
            raise KubeError("%s failed: Kubernetes API did not answer within %.1fs" % (what, timeout), transient=True)
        except (client.HTTPError, OSError) as error:
            raise KubeError("%s failed: Kubernetes API unreachable: %s" % (what, _reason(error)), transient=True,
                            sent=not isinstance(error, client.ConnectTimeoutError))
        try:
            data = json.loads(response.data or b"null")
        except ValueError:
            data = None
        if response.status >= 400:
            message = data.get("message") if isinstance(data, dict) else response.reason
            raise KubeError("%s failed: %s %s" % (what, response.status, message), status=response.status,
                            transient=response.status in TRANSIENT_STATUS, retry_after=_retry_after(response),
                            body=data)
        return data


def _retryable(error, method, in_wait):
    """Inside a wait any transient GET failure; outside, what client-go retries; a write only after a 429."""
    if not error.transient:
        return False
    if error.status == 429:
        return True  # rejected before any processing (API priority and fairness, rate limits)
    if method != "GET":
        return False
    return in_wait or error.sent  # outside a wait a refused connection is reported at once


def _retry_after(response):
    try:
        return min(10.0, float((response.getheaders() or {}).get("Retry-After") or 0))
    except (TypeError, ValueError):
        return 0


def _reason(error):
    text = str(getattr(error, "reason", None) or error)
    return text.split(">: ", 1)[1] if ">: " in text else text  # urllib3 puts "<...Connection object at 0x..>: "


class _Deadline:
    def __init__(self, kube, deadline):
        self.kube, self.deadline = kube, deadline

    def __enter__(self):
        self.previous, self.kube.deadline = self.kube.deadline, self.deadline
        return self.kube

    def __exit__(self, *exc):
        self.kube.deadline = self.previous
        return False


def pruned(value):
    """Without null and empty fields, so templates compare as the API server's defaulting would."""
    if isinstance(value, dict):
        value = dict((k, pruned(v)) for k, v in value.items())
        return dict((k, v) for k, v in value.items() if v not in (None, {}, []))
    if isinstance(value, list):
        return [pruned(item) for item in value]
    return value


def template_without_hash(template):
    """A pod template as equalIgnoreHash compares it: pruned, without the pod-template-hash label."""
    template = pruned(copy.deepcopy(template or {}))
    (template.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return pruned(template)


def images(template):
    return ",".join(c.get("image", "") for c in template.get("spec", {}).get("containers", []))


def selector_of(obj):
    """The workload's matchLabels as a label selector (matchExpressions are rare on workloads; not sent)."""
    return ",".join("%s=%s" % item for item in sorted(((obj.get("spec") or {}).get("selector") or {}).get(
        "matchLabels", {}).items()))


def controlled_by(obj, owner):
    """metav1.IsControlledBy: an ownerReference with the owner's uid and controller: true."""
    return any(ref.get("uid") == owner["metadata"]["uid"] and ref.get("controller")
               for ref in obj["metadata"].get("ownerReferences") or [])
