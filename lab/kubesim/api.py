"""HTTP: the API server's paths, discovery, watches and error answers, over the ApiServer logic.

Paths and request attributes as endpoints/request/requestinfo.go parses them; list and watch with
label and field selectors, resourceVersion and sendInitialEvents (the watch-list client-go uses);
?dryRun=All runs everything and stores nothing; DELETE takes a DeleteOptions body or query; errors
are metav1.Status objects.
"""

import json
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from . import meta, protobuf, rbac
from .resources import GROUPS, RESOURCES, VERBS, api_version
from .store import ApiError

SERVER_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0-kubesim", "gitCommit": "kubesim",
                  "gitTreeState": "clean", "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"}
NAMESPACE_SUBRESOURCES = ("status", "finalize")
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def discovery(group, version):
    resources = []
    for resource in sorted(RESOURCES.values(), key=lambda r: r.plural):
        if (resource.group, resource.version) != (group, version):
            continue
        verbs = ["create"] if resource.kind == "SelfSubjectAccessReview" else VERBS
        resources.append({"name": resource.plural, "singularName": resource.kind.lower(),
                          "namespaced": resource.namespaced, "kind": resource.kind, "verbs": verbs,
                          "shortNames": list(resource.short_names)})
        for sub in resource.subresources:
            entry = {"name": "%s/%s" % (resource.plural, sub), "singularName": "", "namespaced": resource.namespaced,
                     "kind": resource.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update(kind="Scale", group="autoscaling", version="v1")
            if sub == "token":
                entry.update(kind="TokenRequest", group="authentication.k8s.io", version="v1", verbs=["create"])
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/%s" % (group, version) if group else version, "resources": resources}


def openapi_v3(path):
    """Just enough OpenAPI v3 for kubectl to see that the server validates fields and supports dry-run
    (QueryParamVerifierV3 looks for the parameters of each kind's PATCH operation)."""
    if path == "/openapi/v3":
        gvs = ["api/v1"] + ["apis/%s/%s" % gv for gv in GROUPS]
        # kubectl caches each document by this hash: it changes with the document.
        return {"paths": dict((gv, {"serverRelativeURL": "/openapi/v3/%s?hash=%08X" % (gv, meta.fnv32a(
            json.dumps(openapi_v3("/openapi/v3/" + gv), sort_keys=True).encode()))}) for gv in gvs)}
    prefix = path[len("/openapi/v3/"):]
    paths = {}
    for resource in RESOURCES.values():
        gv = "api/v1" if not resource.group else "apis/%s/%s" % (resource.group, resource.version)
        if gv != prefix:
            continue
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        paths["/%s%s/%s/{name}" % (gv, scope, resource.plural)] = {"patch": {
            "x-kubernetes-group-version-kind": {"group": resource.group, "version": resource.version,
                                                "kind": resource.kind},
            "parameters": [{"name": name, "in": "query", "schema": {"type": "string"}}
                           for name in ("dryRun", "fieldManager", "fieldValidation", "force")],
            "responses": {"200": {"description": "OK"}}}}
    if not paths:
        return None
    if prefix == "api/v1":
        # kubectl validates a v1 List client-side when no PATCH operation names it, which needs OpenAPI v2; a
        # real server's List items are validated server-side all the same, so say so.
        paths["/api/v1/lists/{name}"] = {"patch": dict(paths["/api/v1/namespaces/{name}"]["patch"],
                                                       **{"x-kubernetes-group-version-kind": {
                                                           "group": "", "version": "v1", "kind": "List"}})}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.37.0"}, "paths": paths,
            "components": {"schemas": {}}}


def _proto_string(number, text):
    data = text.encode()
    return bytes([number << 3 | 2, len(data)]) + data


# An OpenAPI v2 document (gnostic openapi_v2.Document: swagger 1, info 2 {title 1, version 2}) without
# definitions: kubectl validates a v1 List client-side with it and skips kinds it does not describe
# (pkg/validation/validation.go validateResource), as it skips any kind a server does not publish.
OPENAPI_V2 = _proto_string(1, "2.0") + bytes([2 << 3 | 2, 21]) + _proto_string(1, "Kubernetes") + _proto_string(
    2, "v1.37.0")
OPENAPI_V2_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def parse_path(path):
    """(resource, namespace, name, subresource) of a resource path, or None."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) > 1 and rest[0] == "namespaces" and (len(rest) == 2 or rest[2] not in NAMESPACE_SUBRESOURCES):
        if len(rest) > 2:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = RESOURCES.get((group, version, rest[0]))
    if resource is None:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub and sub not in resource.subresources and not (resource.kind == "Namespace" and sub == "finalize"):
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    if resource.namespaced and namespace is None and (name or sub):
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return resource, namespace, name, sub


def status_of(error):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": error.message,
            "reason": error.reason, "code": error.code}
    if error.details:
        body["details"] = error.details
    return body


def list_item(obj):
    """Items of a typed list carry no kind and apiVersion, as a real server sends them."""
    return dict((k, v) for k, v in obj.items() if k not in ("kind", "apiVersion"))


class Handler(BaseHTTPRequestHandler):
    """One request; the class attributes (cluster, authenticator) are set per server by server.serve."""

    cluster = None
    authenticator = None
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall per request)

    def log_message(self, *args):
        pass

    # plumbing -------------------------------------------------------------------------------------------
    def _send(self, code, body):
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_bytes(self, code, payload, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self):
        raw = self._raw
        if not raw.strip():
            return None
        if (self.headers.get("Content-Type") or "").startswith("application/vnd.kubernetes.protobuf"):
            return protobuf.decode(raw)
        try:
            return json.loads(raw)
        except ValueError:
            try:
                import yaml
                return yaml.safe_load(raw)
            except Exception:  # noqa: BLE001 - any undecodable body is a 400
                raise ApiError(400, "BadRequest", "the body of the request could not be decoded as JSON")

    def _dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length else b""  # read before any answer, even a refusal
        try:
            self._route(method)
        except ApiError as error:
            self._send(error.code, status_of(error))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            self._send(400, status_of(ApiError(400, "BadRequest", "%s: %s" % (type(error).__name__, error))))

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

    # routing --------------------------------------------------------------------------------------------
    def _non_resource(self, path):
        if path == "/version":
            return SERVER_VERSION
        if path in ("/healthz", "/livez", "/readyz"):
            return "ok"
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
                "name": group, "versions": [{"groupVersion": "%s/%s" % (group, version), "version": version}],
                "preferredVersion": {"groupVersion": "%s/%s" % (group, version), "version": version}}
                for group, version in GROUPS]}
        if path == "/api/v1":
            return discovery("", "v1")
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in GROUPS:
            return discovery(parts[1], parts[2])
        if path.startswith("/openapi/v3"):
            return openapi_v3(path)
        return None

    def _authorize(self, method, path, parsed, query):
        settings = self.cluster.settings
        if not settings.rbac:
            return None
        user = self.authenticator.user(self.headers.get("Authorization"))
        if parsed is None:
            attrs = {"verb": method.lower(), "path": path}
        else:
            resource, namespace, name, sub = parsed
            watching = query.get("watch", [""])[0] in ("true", "1")
            verb = {"GET": "watch" if watching else ("get" if name else "list"), "POST": "create", "PUT": "update",
                    "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}[method]
            if resource.kind == "Namespace" and name and not namespace:
                namespace = name
            attrs = {"verb": verb, "group": resource.group, "resource": resource.plural, "subresource": sub,
                     "name": name, "namespace": namespace, "path": path}
        if not rbac.allowed(self.cluster.api.store, user, attrs):
            raise rbac.forbidden(user, attrs)
        return user

    def _route(self, method):
        url = urlparse(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query)
        parsed = parse_path(path)
        user = self._authorize(method, path, parsed, query)
        if parsed is None:
            if path == "/openapi/v2" and method == "GET":
                return self._send_bytes(200, OPENAPI_V2, OPENAPI_V2_TYPE)
            found = self._non_resource(path) if method == "GET" else None
            if found is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, found)
        resource, namespace, name, sub = parsed
        dry_run = query.get("dryRun", [""])[0] == "All"
        if query.get("dryRun") and not dry_run:
            raise ApiError(400, "BadRequest", "unsupported dry run directive %s" % query["dryRun"][0])
        api = self.cluster.api
        if method == "GET":
            if name is None:
                if query.get("watch", [""])[0] in ("true", "1"):
                    return self._watch(resource, namespace, query)
                items, revision = api.list(resource, namespace, query.get("labelSelector", [""])[0],
                                           query.get("fieldSelector", [""])[0])
                return self._send(200, {"kind": resource.kind + "List", "apiVersion": api_version(resource),
                                        "metadata": {"resourceVersion": revision},
                                        "items": [list_item(i) for i in items]})
            if sub == "scale":
                return self._send(200, api.get_scale(resource, namespace, name))
            return self._send(200, api.get(resource, namespace, name))
        body = self._body()
        if method == "POST":
            return self._post(resource, namespace, name, sub, body, dry_run, user)
        if method == "PUT":
            if sub == "scale":
                return self._send(200, api.update_scale(resource, namespace, name, body, dry_run=dry_run))
            if sub == "finalize":
                sub = None
            return self._send(200, api.update(resource, namespace, name, body, subresource=sub, dry_run=dry_run))
        if method == "PATCH":
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            return self._send(200, api.patch(resource, namespace, name, kind, body, subresource=sub,
                                             dry_run=dry_run))
        if method == "DELETE":
            if name is None:
                raise ApiError(405, "MethodNotAllowed", "deletecollection is not supported by kubesim")
            options = dict(body or {})
            for key in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
                if key in query:
                    value = query[key][0]
                    options[key] = int(value) if key == "gracePeriodSeconds" else (
                        value == "true" if key == "orphanDependents" else value)
            if options.get("dryRun") == ["All"]:
                dry_run = True
            code, answer = api.delete(resource, namespace, name, options, dry_run=dry_run)
            return self._send(code, answer)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _post(self, resource, namespace, name, sub, body, dry_run, user):
        api = self.cluster.api
        if resource.kind == "ServiceAccount" and sub == "token":
            account = api.get(resource, namespace, name)
            expiry = (body or {}).get("spec", {}).get("expirationSeconds") or 3600
            return self._send(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                    "metadata": {"name": name, "namespace": namespace},
                                    "spec": dict((body or {}).get("spec") or {}, expirationSeconds=expiry),
                                    "status": {"token": self.authenticator.issue(account),
                                               "expirationTimestamp": time.strftime(
                                                   "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expiry))}})
        if resource.kind == "SelfSubjectAccessReview":
            attrs = dict((body or {}).get("spec", {}).get("resourceAttributes") or {})
            if attrs:
                attrs.setdefault("group", "")
                attrs = {"verb": attrs.get("verb"), "group": attrs.get("group", ""), "resource": attrs.get("resource"),
                         "subresource": attrs.get("subresource"), "name": attrs.get("name"),
                         "namespace": attrs.get("namespace"), "path": ""}
            else:
                attrs = dict((body or {}).get("spec", {}).get("nonResourceAttributes") or {}, resource=None)
            who = user or rbac.ADMIN
            return self._send(201, dict(body or {}, status={"allowed": rbac.allowed(api.store, who, attrs)}))
        if name is not None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return self._send(201, api.create(resource, namespace, body, dry_run=dry_run))

    # watch ----------------------------------------------------------------------------------------------
    def _watch(self, resource, namespace, query):
        """A chunked stream of watch events; label/field selectors filter them the way the watch cache does
        (an object leaving the selection is DELETED for this watcher, one entering it ADDED)."""
        store = self.cluster.api.store
        labels = meta.parse_label_selector(query.get("labelSelector", [""])[0])
        fields = meta.parse_field_selector(resource.kind, query.get("fieldSelector", [""])[0])
        timeout = float(query.get("timeoutSeconds", ["1800"])[0])
        start = query.get("resourceVersion", [""])[0]
        initial = query.get("sendInitialEvents", [""])[0] == "true"

        def selected(obj):
            return (namespace is None or obj["metadata"].get("namespace") == namespace) and meta.matches(
                obj["metadata"].get("labels"), labels) and meta.field_matches(obj, fields)

        with store.lock:
            events, seen = [], set()
            if initial or start in ("", "0"):
                items, revision = store.list(resource, namespace)
                for obj in items:
                    if selected(obj):
                        events.append(("ADDED", obj))
                        seen.add(obj["metadata"]["uid"])
                position = int(revision)
                if initial:
                    events.append(("BOOKMARK", {"kind": resource.kind, "apiVersion": api_version(resource),
                                                "metadata": {"resourceVersion": revision,
                                                             "annotations": {INITIAL_EVENTS_END: "true"}}}))
            else:
                position = int(start)
                if store.events_after(position) is None:
                    raise ApiError(410, "Expired", "too old resource version: %s (%s)" % (start, store.revision))
                seen = set(o["metadata"]["uid"] for o in store.list(resource, namespace)[0] if selected(o))
                for _rv, kind, res, obj in store.events_after(position):  # back to the state at start
                    if res == resource and kind == "ADDED":
                        seen.discard(obj["metadata"]["uid"])
                    elif res == resource and kind == "DELETED" and selected(obj):
                        seen.add(obj["metadata"]["uid"])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + timeout
        try:
            for kind, obj in events:
                self._chunk({"type": kind, "object": obj})
            while time.monotonic() < deadline:
                with store.changed:
                    pending = store.events_after(position)
                    if pending is None:
                        self._chunk({"type": "ERROR", "object": status_of(ApiError(
                            410, "Expired", "too old resource version: %d" % position))})
                        break
                    if not pending:
                        store.changed.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                        continue
                for revision, kind, res, obj in pending:
                    position = revision
                    if res != resource:
                        continue
                    uid = obj["metadata"]["uid"]
                    was, now_in = uid in seen, kind != "DELETED" and selected(obj)
                    if kind == "DELETED" and was:
                        seen.discard(uid)
                        self._chunk({"type": "DELETED", "object": obj})
                    elif now_in:
                        seen.add(uid)
                        self._chunk({"type": "MODIFIED" if was else "ADDED", "object": obj})
                    elif was:
                        seen.discard(uid)
                        self._chunk({"type": "DELETED", "object": obj})
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True

    def _chunk(self, event):
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
