"""A small Kubernetes API server simulator for tests (no real API server can run here).

Serves what the official Python client and ``kubectl get`` / ``kubectl rollout
undo`` use: version and discovery, GET/LIST (label selectors)/POST/PUT/PATCH
(JSON patch, merge patch, strategic merge treated as merge)/DELETE on the
resources of store.RESOURCES, the status subresource, and a Deployment
controller (controller.py). Plain HTTP on loopback, no authentication.

    python3 lab/kubesim/server.py --port 56443 [--kubeconfig PATH]
"""

import argparse
import copy
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from controller import DEPLOYMENTS, HISTORY_KINDS, reconcile_deployment, reconcile_history  # noqa: E402
from store import RESOURCES, ApiError, Store, api_version, parse_selector  # noqa: E402

PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                  r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?$")
VERBS = ["create", "delete", "get", "list", "patch", "update"]
SHORT_NAMES = {"deployments": ["deploy"], "replicasets": ["rs"], "statefulsets": ["sts"], "daemonsets": ["ds"],
               "configmaps": ["cm"], "namespaces": ["ns"], "pods": ["po"]}


def discovery_resources(group, version):
    resources = []
    for (g, v, plural), (kind, namespaced) in sorted(RESOURCES.items()):
        if (g, v) == (group, version):
            resources.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                              "verbs": VERBS, "shortNames": SHORT_NAMES.get(plural, [])})
            if plural in ("deployments", "replicasets", "statefulsets", "daemonsets"):
                resources.append({"name": plural + "/status", "singularName": "", "namespaced": True, "kind": kind,
                                  "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version(group, version),
            "resources": resources}


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":  # strategic merge directive: this value replaces the old one
        return dict((k, copy.deepcopy(v)) for k, v in patch.items() if k != "$patch")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key == "$retainKeys":
            continue  # strategic merge ordering directives: a real server applies them, never stores them
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target, operations):
    document = copy.deepcopy(target)
    for operation in operations:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].lstrip("/").split("/")]
        parent = document
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        op = operation["op"]
        if op in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op == "add":
                    parent.insert(index, operation["value"])
                else:
                    parent[index] = operation["value"]
            else:
                parent[last] = operation["value"]
        elif op == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif op == "test":
            if (parent[int(last)] if isinstance(parent, list) else parent.get(last)) != operation["value"]:
                raise ApiError(422, "Invalid", "test operation failed at %s" % operation["path"])
        else:
            raise ApiError(422, "Invalid", "unsupported JSON patch op %s" % op)
    return document


class Handler(BaseHTTPRequestHandler):
    store = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, error):
        self._send(error.code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": error.message, "reason": error.reason, "code": error.code})

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null") if length else None

    def _discovery(self, path):
        if path == "/version":
            return {"major": "1", "minor": "30", "gitVersion": "v1.30.0-kubesim", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
                "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]}
        if path == "/api/v1":
            return discovery_resources("", "v1")
        if path == "/apis/apps/v1":
            return discovery_resources("apps", "v1")
        return None

    def _route(self, method):
        url = urlparse(self.path)
        path = url.path.rstrip("/")
        if method == "GET":
            found = self._discovery(path)
            if found is not None:
                return self._send(200, found)
        match = PATH.match(path)
        if not match:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group = match.group("group") or ""
        version = match.group("core") or match.group("version")
        resource = (group, version, match.group("plural"))
        if resource not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace, name, sub = match.group("namespace"), match.group("name"), match.group("sub")
        if RESOURCES[resource][1] and method != "GET" and not namespace:
            raise ApiError(404, "NotFound", "namespace required")
        query = parse_qs(url.query)
        handler = getattr(self, "_" + method.lower())
        code, body = handler(resource, namespace, name, sub, query)
        if method in ("POST", "PUT", "PATCH") and sub is None and (resource == DEPLOYMENTS or
                                                                   resource in HISTORY_KINDS):
            reconcile = reconcile_deployment if resource == DEPLOYMENTS else (
                lambda store, ns, obj_name: reconcile_history(store, resource, ns, obj_name))
            reconcile(self.store, namespace, body["metadata"]["name"])
            body = self.store.get(resource, namespace, body["metadata"]["name"])
        self._send(code, body)

    def _get(self, resource, namespace, name, sub, query):
        if name:
            return 200, self.store.get(resource, namespace, name)
        items = self.store.list(resource, namespace, parse_selector(query.get("labelSelector", [""])[0]))
        kind = RESOURCES[resource][0]
        return 200, {"kind": kind + "List", "apiVersion": api_version(resource[0], resource[1]),
                     "metadata": {"resourceVersion": str(self.store.revision)}, "items": items}

    def _post(self, resource, namespace, name, sub, query):
        body = self._body()
        if resource in HISTORY_KINDS:  # the API server's defaulting
            body.setdefault("spec", {}).setdefault("updateStrategy", {"type": "RollingUpdate"})
        return 201, self.store.create(resource, namespace, body)

    def _put(self, resource, namespace, name, sub, query):
        return 200, self.store.replace(resource, namespace, name, self._body(), subresource=sub)

    def _patch(self, resource, namespace, name, sub, query):
        current = self.store.get(resource, namespace, name)
        content_type = self.headers.get("Content-Type", "").split(";")[0]
        patch = self._body()
        if content_type == "application/json-patch+json":
            updated = json_patch(current, patch)
        elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            updated = merge_patch(current, patch)
        else:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format: "
                           + content_type)
        updated["metadata"].pop("resourceVersion", None)
        return 200, self.store.replace(resource, namespace, name, updated, subresource=sub)

    def _delete(self, resource, namespace, name, sub, query):
        return 200, self.store.delete(resource, namespace, name)

    def _dispatch(self, method):
        try:
            self._route(method)
        except ApiError as error:
            self._error(error)
        except (ValueError, KeyError, IndexError, TypeError) as error:
            self._error(ApiError(400, "BadRequest", "%s: %s" % (type(error).__name__, error)))

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self):  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self):  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self):  # noqa: N802
        self._dispatch("DELETE")


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: http://127.0.0.1:{port}
contexts:
- name: kubesim
  context:
    cluster: kubesim
    user: kubesim
    namespace: default
current-context: kubesim
users:
- name: kubesim
  user:
    token: kubesim-token
"""


def serve(port, kubeconfig=None):
    handler = type("StoreHandler", (Handler,), {"store": Store()})  # one state per server
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    if kubeconfig:
        with open(kubeconfig, "w") as handle:
            handle.write(KUBECONFIG.format(port=server.server_address[1]))
    return server


def main():
    parser = argparse.ArgumentParser(description="Kubernetes API simulator")
    parser.add_argument("--port", type=int, default=56443)
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    args = parser.parse_args()
    serve(args.port, args.kubeconfig).serve_forever()


if __name__ == "__main__":
    main()
