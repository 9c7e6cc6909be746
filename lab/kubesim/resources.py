"""The resources the simulator serves, as the API server's discovery describes them."""

import collections

Resource = collections.namedtuple("Resource", "group version plural kind namespaced short_names subresources")

_TABLE = [
    # group, version, plural, kind, namespaced, short names, subresources
    ("", "v1", "namespaces", "Namespace", False, ["ns"], ["status"]),
    ("", "v1", "nodes", "Node", False, ["no"], ["status"]),
    ("", "v1", "configmaps", "ConfigMap", True, ["cm"], []),
    ("", "v1", "secrets", "Secret", True, [], []),
    ("", "v1", "pods", "Pod", True, ["po"], ["status"]),
    ("", "v1", "events", "Event", True, ["ev"], []),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"], ["token"]),
    ("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["status", "scale"]),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["status", "scale"]),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["status", "scale"]),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["status"]),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True, [], []),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], ["status"]),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, [], []),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, [], []),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, [], []),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, [], []),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, [], []),
]
RESOURCES = dict(((g, v, p), Resource(g, v, p, k, n, tuple(s), tuple(sub))) for g, v, p, k, n, s, sub in _TABLE)
BY_KIND = dict((r.kind, r) for r in RESOURCES.values())
GROUPS = sorted(set((r.group, r.version) for r in RESOURCES.values() if r.group))
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def api_version(resource):
    return "%s/%s" % (resource.group, resource.version) if resource.group else resource.version


def by_kind(kind):
    return BY_KIND[kind]
