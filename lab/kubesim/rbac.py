"""Optional authentication and RBAC (Settings.rbac), as the API server's bearer-token authenticator and
RBAC authorizer decide (plugin/pkg/auth/authorizer/rbac/rbac.go, pkg/registry/rbac/validation/rule.go
RuleAllows, endpoints/request/requestinfo.go for the request attributes).

The kubeconfig's token is the cluster admin (group system:masters). ServiceAccount tokens come from the
TokenRequest subresource (``kubectl create token NAME``) and name system:serviceaccount:<ns>:<name> with
the groups system:serviceaccounts and system:serviceaccounts:<ns>. Every authenticated user may read
discovery and create SelfSubjectAccessReviews (the bootstrap roles system:discovery and
system:basic-user); everything else needs a Role or ClusterRole bound to the user, a group or the
ServiceAccount.
"""

import secrets

from .resources import RESOURCES
from .store import ApiError

ROLES = RESOURCES[("rbac.authorization.k8s.io", "v1", "roles")]
ROLE_BINDINGS = RESOURCES[("rbac.authorization.k8s.io", "v1", "rolebindings")]
CLUSTER_ROLES = RESOURCES[("rbac.authorization.k8s.io", "v1", "clusterroles")]
CLUSTER_ROLE_BINDINGS = RESOURCES[("rbac.authorization.k8s.io", "v1", "clusterrolebindings")]
SERVICE_ACCOUNTS = RESOURCES[("", "v1", "serviceaccounts")]
ADMIN = {"username": "kubesim-admin", "groups": ["system:masters", "system:authenticated"]}
ANONYMOUS = {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
ALWAYS_ALLOWED = (("authorization.k8s.io", "selfsubjectaccessreviews", "create"),
                  ("authorization.k8s.io", "selfsubjectrulesreviews", "create"))


class Authenticator:
    def __init__(self, settings, store):
        self.settings = settings
        self.store = store
        self.tokens = {}  # token -> (namespace, service account name, uid)

    def issue(self, service_account):
        token = "kubesim-sa." + secrets.token_urlsafe(24)
        meta = service_account["metadata"]
        self.tokens[token] = (meta["namespace"], meta["name"], meta["uid"])
        return token

    def user(self, header):
        """The user of a request; 401 for a token nobody issued (or whose ServiceAccount is gone)."""
        if not header:
            return ANONYMOUS
        if not header.startswith("Bearer "):
            raise ApiError(401, "Unauthorized", "Unauthorized")
        token = header[len("Bearer "):].strip()
        if token == self.settings.admin_token:
            return ADMIN
        found = self.tokens.get(token)
        if found:
            namespace, name, uid = found
            account = self.store.find(SERVICE_ACCOUNTS, namespace, name)
            if account is not None and account["metadata"]["uid"] == uid:
                return {"username": "system:serviceaccount:%s:%s" % (namespace, name),
                        "groups": ["system:serviceaccounts", "system:serviceaccounts:" + namespace,
                                   "system:authenticated"]}
        raise ApiError(401, "Unauthorized", "Unauthorized")


def _subject_matches(subject, user, binding_namespace):
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user["username"]
    if kind == "Group":
        return subject.get("name") in user["groups"]
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user["username"] == "system:serviceaccount:%s:%s" % (namespace, subject.get("name"))
    return False


def _rule_allows(rule, attrs):
    """rule.go RuleAllows: verbs, API groups, resources (with subresources) and resource names."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs["verb"] not in verbs:
        return False
    if attrs.get("resource") is None:
        urls = rule.get("nonResourceURLs") or []
        return any(u == "*" or u == attrs["path"] or (u.endswith("*") and attrs["path"].startswith(u[:-1]))
                   for u in urls)
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs["group"] not in groups:
        return False
    combined = attrs["resource"] + ("/" + attrs["subresource"] if attrs.get("subresource") else "")
    resources = rule.get("resources") or []
    if not any(r == "*" or r == combined or (attrs.get("subresource") and r == "*/" + attrs["subresource"])
               for r in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.get("name") in names


def _role_rules(store, ref, binding_namespace):
    if ref.get("kind") == "ClusterRole":
        role = store.find(CLUSTER_ROLES, None, ref.get("name"))
    else:
        role = store.find(ROLES, binding_namespace, ref.get("name"))
    return (role or {}).get("rules") or []


def allowed(store, user, attrs):
    if "system:masters" in user["groups"]:
        return True
    if "system:authenticated" in user["groups"]:
        if attrs.get("resource") is None and attrs["verb"] == "get":
            return True
        if (attrs.get("group"), attrs.get("resource"), attrs["verb"]) in ALWAYS_ALLOWED:
            return True
    bindings = [(b, None) for b in store.list(CLUSTER_ROLE_BINDINGS)[0]]
    if attrs.get("namespace"):
        bindings += [(b, attrs["namespace"]) for b in store.list(ROLE_BINDINGS, attrs["namespace"])[0]]
    for binding, namespace in bindings:
        if not any(_subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
            continue
        if any(_rule_allows(rule, attrs) for rule in _role_rules(store, binding.get("roleRef") or {}, namespace)):
            return True
    return False


def forbidden(user, attrs):
    """responsewriters.forbiddenMessage."""
    if attrs.get("resource") is None:
        return ApiError(403, "Forbidden", 'forbidden: User "%s" cannot %s path "%s"' % (
            user["username"], attrs["verb"], attrs["path"]))
    qualified = attrs["resource"] + ("." + attrs["group"] if attrs["group"] else "")
    subject = '%s "%s"' % (qualified, attrs["name"]) if attrs.get("name") else qualified
    resource = attrs["resource"] + ("/" + attrs["subresource"] if attrs.get("subresource") else "")
    scope = 'in the namespace "%s"' % attrs["namespace"] if attrs.get("namespace") else "at the cluster scope"
    return ApiError(403, "Forbidden", '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (
        subject, user["username"], attrs["verb"], resource, attrs["group"], scope),
        {"name": attrs.get("name") or "", "group": attrs["group"], "kind": attrs["resource"]})
