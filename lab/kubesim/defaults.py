"""Defaulting on decode, as k8s.io/kubernetes pkg/apis/{apps,core,autoscaling}/v1*/defaults.go do it.

Both a create and an update are defaulted, so an object reads back with every default set (the
templates of a Deployment and of its ReplicaSets then compare equal, as on a cluster).
"""


def _set(obj, key, value):
    if obj.get(key) is None:
        obj[key] = value
    return obj[key]


def pod_spec(spec):
    """SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_ContainerPort."""
    _set(spec, "restartPolicy", "Always")
    _set(spec, "terminationGracePeriodSeconds", 30)
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "schedulerName", "default-scheduler")
    _set(spec, "securityContext", {})
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        image = container.get("image") or ""
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        pull = "Always" if not tagged or image.endswith(":latest") else "IfNotPresent"
        _set(container, "imagePullPolicy", pull)
        _set(container, "terminationMessagePath", "/dev/termination-log")
        _set(container, "terminationMessagePolicy", "File")
        _set(container, "resources", {})
        for port in container.get("ports") or []:
            _set(port, "protocol", "TCP")


def _template(obj):
    template = _set(obj.setdefault("spec", {}), "template", {})
    _set(template, "metadata", {})
    pod_spec(_set(template, "spec", {}))


def deployment(obj):
    """SetDefaults_Deployment (apps/v1)."""
    spec = obj.setdefault("spec", {})
    _set(spec, "replicas", 1)
    strategy = _set(spec, "strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _set(strategy, "rollingUpdate", {})
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _template(obj)


def replicaset(obj):
    _set(obj.setdefault("spec", {}), "replicas", 1)
    _template(obj)


def statefulset(obj):
    """SetDefaults_StatefulSet: OrderedReady, RollingUpdate with partition 0, Retain PVC policy."""
    spec = obj.setdefault("spec", {})
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = _set(spec, "updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _set(_set(strategy, "rollingUpdate", {}), "partition", 0)
    _set(spec, "replicas", 1)
    _set(spec, "revisionHistoryLimit", 10)
    policy = _set(spec, "persistentVolumeClaimRetentionPolicy", {})
    _set(policy, "whenDeleted", "Retain")
    _set(policy, "whenScaled", "Retain")
    _template(obj)


def daemonset(obj):
    """SetDefaults_DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0."""
    spec = obj.setdefault("spec", {})
    strategy = _set(spec, "updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _set(strategy, "rollingUpdate", {})
        _set(rolling, "maxUnavailable", 1)
        _set(rolling, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)
    _template(obj)


def pod(obj):
    pod_spec(obj.setdefault("spec", {}))
    status = obj.setdefault("status", {})
    _set(status, "phase", "Pending")


def secret(obj):
    _set(obj, "type", "Opaque")


def namespace(obj):
    """Namespaces carry kubernetes.io/metadata.name and the kubernetes finalizer."""
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    _set(obj.setdefault("spec", {}), "finalizers", ["kubernetes"])
    _set(obj.setdefault("status", {}), "phase", "Active")


def hpa(obj):
    """SetDefaults_HorizontalPodAutoscaler (autoscaling/v2): minReplicas 1, CPU at 80% when no metric."""
    spec = obj.setdefault("spec", {})
    _set(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


BY_KIND = {"Deployment": deployment, "ReplicaSet": replicaset, "StatefulSet": statefulset,
           "DaemonSet": daemonset, "Pod": pod, "Secret": secret, "Namespace": namespace,
           "HorizontalPodAutoscaler": hpa}


def apply(kind, obj):
    function = BY_KIND.get(kind)
    if function:
        function(obj)
    return obj
