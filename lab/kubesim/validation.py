"""Validation of creates and updates: the 422 Invalid answers of k8s.io/kubernetes
pkg/apis/apps/validation/validation.go and pkg/apis/core/validation/validation.go, for the kinds and
fields the simulator serves.
"""

import base64
import json
import re

from . import meta
from .store import ApiError

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"


def go_value(value):
    """How field.Invalid prints a value (%q for strings, %v for numbers, Go syntax for the rest)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        pairs = ["%s:%s" % (json.dumps(k), json.dumps(v)) for k, v in sorted(value.items())]
        return "map[string]string{%s}" % ", ".join(pairs)
    return json.dumps(value, sort_keys=True)


class Errors:
    """A field.ErrorList; raise_for turns it into the API's 422 Status (errors.NewInvalid)."""

    def __init__(self):
        self.items = []

    def add(self, path, reason, body):
        self.items.append({"field": path, "reason": reason, "message": "%s: %s" % (path, body)})

    def invalid(self, path, value, detail):
        self.add(path, "FieldValueInvalid", "Invalid value: %s: %s" % (go_value(value), detail))

    def required(self, path, detail=""):
        self.add(path, "FieldValueRequired", "Required value" + (": " + detail if detail else ""))

    def forbidden(self, path, detail):
        self.add(path, "FieldValueForbidden", "Forbidden: " + detail)

    def duplicate(self, path, value):
        self.add(path, "FieldValueDuplicate", "Duplicate value: %s" % go_value(value))

    def unsupported(self, path, value, supported):
        self.add(path, "FieldValueNotSupported", "Unsupported value: %s: supported values: %s" % (
            go_value(value), ", ".join(json.dumps(s) for s in supported)))

    def raise_for(self, resource, name):
        if not self.items:
            return
        messages = [i["message"] for i in self.items]
        text = messages[0] if len(messages) == 1 else "[%s]" % ", ".join(messages)
        kind = "%s.%s" % (resource.kind, resource.group) if resource.group else resource.kind
        raise ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, text),
                       {"name": name, "group": resource.group, "kind": resource.kind, "causes": [
                           {"reason": i["reason"], "message": i["message"].split(": ", 1)[1], "field": i["field"]}
                           for i in self.items]})


def _name(errors, resource, obj):
    name = obj["metadata"].get("name", "")
    if resource.kind == "Namespace":
        pattern, message = DNS1123_LABEL, LABEL_MSG
    else:
        pattern, message = DNS1123_SUBDOMAIN, SUBDOMAIN_MSG
    if not pattern.match(name) or len(name) > 253:
        errors.invalid("metadata.name", name, message)


def _containers(errors, path, containers, required=True):
    if not containers and required:
        errors.required(path)
    seen = set()
    for index, container in enumerate(containers or []):
        at = "%s[%d]" % (path, index)
        name = container.get("name")
        if not name:
            errors.required(at + ".name")
        elif not DNS1123_LABEL.match(name):
            errors.invalid(at + ".name", name, LABEL_MSG)
        elif name in seen:
            errors.duplicate(at + ".name", name)
        seen.add(name)
        if not container.get("image"):
            errors.required(at + ".image")


def _pod_spec(errors, path, spec, restart_always=False):
    _containers(errors, path + ".containers", spec.get("containers"))
    _containers(errors, path + ".initContainers", spec.get("initContainers"), required=False)
    if restart_always and spec.get("restartPolicy") != "Always":
        errors.unsupported(path + ".restartPolicy", spec.get("restartPolicy"), ["Always"])
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errors.invalid(path + ".terminationGracePeriodSeconds", grace, "must be greater than or equal to 0")


def _non_negative(errors, spec, field):
    value = spec.get(field)
    if isinstance(value, int) and value < 0:
        errors.invalid("spec." + field, value, "must be greater than or equal to 0")


def _selector_and_template(errors, resource, spec):
    """ValidateDeploymentSpec / ValidateReplicaSetSpec / ValidateDaemonSetSpec / ValidateStatefulSetSpec:
    a selector is required and not empty, and it must select the template's labels."""
    selector = spec.get("selector")
    if selector is None:
        errors.required("spec.selector")
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errors.invalid("spec.selector", selector, "empty selector is invalid for %s" % resource.kind.lower())
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and (selector.get("matchLabels") or selector.get("matchExpressions")) and not meta.matches(
            labels, meta.selector_requirements(selector)):
        errors.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
    _pod_spec(errors, "spec.template.spec", template.get("spec") or {}, restart_always=True)


def _int_or_percent(errors, path, value):
    if isinstance(value, str) and not re.match(r"^\d+%$", value):
        errors.invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                                    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
        return None
    if isinstance(value, str) and int(value[:-1]) > 100:
        errors.invalid(path, value, "must not be greater than 100%")
    if isinstance(value, int) and value < 0:
        errors.invalid(path, value, "must be greater than or equal to 0")
    return value


def _is_zero(value):
    return value in (0, "0%")


def deployment(errors, obj):
    spec = obj.get("spec") or {}
    _selector_and_template(errors, _DEPLOYMENT, spec)
    for field in ("replicas", "revisionHistoryLimit", "minReadySeconds"):
        _non_negative(errors, spec, field)
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "Recreate"):
        errors.unsupported("spec.strategy.type", kind, ["Recreate", "RollingUpdate"])
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        errors.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
    if kind == "RollingUpdate" and rolling:
        surge = _int_or_percent(errors, "spec.strategy.rollingUpdate.maxSurge", rolling.get("maxSurge"))
        unavailable = _int_or_percent(errors, "spec.strategy.rollingUpdate.maxUnavailable",
                                      rolling.get("maxUnavailable"))
        if _is_zero(surge) and _is_zero(unavailable):
            errors.invalid("spec.strategy.rollingUpdate.maxUnavailable", unavailable,
                           "may not be 0 when `maxSurge` is 0")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        errors.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")


def replicaset(errors, obj):
    spec = obj.get("spec") or {}
    _selector_and_template(errors, _REPLICASET, spec)
    _non_negative(errors, spec, "replicas")


def statefulset(errors, obj):
    spec = obj.get("spec") or {}
    _selector_and_template(errors, _STATEFULSET, spec)
    _non_negative(errors, spec, "replicas")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") not in ("RollingUpdate", "OnDelete"):
        errors.unsupported("spec.updateStrategy.type", strategy.get("type"), ["OnDelete", "RollingUpdate"])
    if strategy.get("type") == "OnDelete" and strategy.get("rollingUpdate") is not None:
        errors.invalid("spec.updateStrategy.rollingUpdate", strategy["rollingUpdate"],
                       "only allowed for updateStrategy 'RollingUpdate'")
    partition = (strategy.get("rollingUpdate") or {}).get("partition")
    if isinstance(partition, int) and partition < 0:
        errors.invalid("spec.updateStrategy.rollingUpdate.partition", partition, "must be greater than or equal to 0")
    if spec.get("podManagementPolicy") not in ("OrderedReady", "Parallel"):
        errors.unsupported("spec.podManagementPolicy", spec.get("podManagementPolicy"), ["OrderedReady", "Parallel"])


def daemonset(errors, obj):
    spec = obj.get("spec") or {}
    _selector_and_template(errors, _DAEMONSET, spec)
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") not in ("RollingUpdate", "OnDelete"):
        errors.unsupported("spec.updateStrategy.type", strategy.get("type"), ["OnDelete", "RollingUpdate"])
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type") == "RollingUpdate":
        if _is_zero(rolling.get("maxUnavailable", 1)) and _is_zero(rolling.get("maxSurge", 0)):
            errors.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", rolling.get("maxUnavailable"),
                           "may not be 0 when `maxSurge` is 0")


def pod(errors, obj):
    _pod_spec(errors, "spec", obj.get("spec") or {})


def configmap(errors, obj):
    """ValidateConfigMap: keys are config keys, data and binaryData do not share a key."""
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    for field, values in (("data", data), ("binaryData", binary)):
        for key in values:
            if not CONFIG_KEY.match(key):
                errors.invalid("%s[%s]" % (field, key), key, "a valid config key must consist of alphanumeric "
                               "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                               "regex used for validation is '[-._a-zA-Z0-9]+')")
    for key in set(data) & set(binary):
        errors.invalid("data[%s]" % key, key, "duplicate of key present in binaryData")


def secret(errors, obj):
    for key, value in (obj.get("data") or {}).items():
        if not CONFIG_KEY.match(key):
            errors.invalid("data[%s]" % key, key, "a valid config key must consist of alphanumeric characters, "
                           "'-', '_' or '.'")
        try:
            base64.b64decode(value or "", validate=True)
        except ValueError:
            raise ApiError(400, "BadRequest", "illegal base64 data in Secret data[%s]" % key)


def hpa(errors, obj):
    spec = obj.get("spec") or {}
    if not spec.get("scaleTargetRef", {}).get("name"):
        errors.required("spec.scaleTargetRef.name")
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not isinstance(high, int) or high < 1:
        errors.invalid("spec.maxReplicas", high, "must be greater than or equal to 1")
    elif isinstance(low, int) and low > high:
        errors.invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`")
    if isinstance(low, int) and low < 0:
        errors.invalid("spec.minReplicas", low, "must be greater than or equal to 0")


CREATE = {"Deployment": deployment, "ReplicaSet": replicaset, "StatefulSet": statefulset, "DaemonSet": daemonset,
          "Pod": pod, "ConfigMap": configmap, "Secret": secret, "HorizontalPodAutoscaler": hpa}
# apps/v1 made the selectors of these kinds immutable (ValidateDeploymentUpdate and its twins).
IMMUTABLE_SELECTOR = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")
STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_create(resource, obj):
    errors = Errors()
    _name(errors, resource, obj)
    if resource.kind in CREATE:
        CREATE[resource.kind](errors, obj)
    errors.raise_for(resource, obj["metadata"].get("name", ""))


def validate_update(resource, new, old):
    errors = Errors()
    if resource.kind in CREATE:
        CREATE[resource.kind](errors, new)
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if resource.kind in IMMUTABLE_SELECTOR and new_spec.get("selector") != old_spec.get("selector"):
        errors.invalid("spec.selector", new_spec.get("selector"), "field is immutable")
    if resource.kind == "StatefulSet":
        strip = dict((k, v) for k, v in new_spec.items() if k not in STATEFULSET_MUTABLE)
        if strip != dict((k, v) for k, v in old_spec.items() if k not in STATEFULSET_MUTABLE):
            errors.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                     "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                     "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
    if resource.kind == "Pod":
        _pod_update(errors, new_spec, old_spec)
    if resource.kind in ("ConfigMap", "Secret"):
        _immutable_data(errors, resource, new, old)
    if resource.kind == "Secret" and new.get("type") != old.get("type"):
        errors.invalid("type", new.get("type"), "field is immutable")
    errors.raise_for(resource, new["metadata"].get("name", ""))


def _immutable_data(errors, resource, new, old):
    """ValidateConfigMapUpdate / ValidateSecretUpdate: once immutable, always immutable, data frozen."""
    if not old.get("immutable"):
        return
    if not new.get("immutable"):
        errors.forbidden("immutable", IMMUTABLE_WHEN_SET)
    fields = ("data", "binaryData") if resource.kind == "ConfigMap" else ("data",)
    for field in fields:
        if (new.get(field) or {}) != (old.get(field) or {}):
            errors.forbidden(field, IMMUTABLE_WHEN_SET)


def _pod_update(errors, new_spec, old_spec):
    """ValidatePodUpdate: only container images (and a few scheduling fields) may change."""
    def frozen(spec):
        spec = json.loads(json.dumps(spec))
        for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            container.pop("image", None)
        for field in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates",
                      "nodeName"):
            spec.pop(field, None)
        return spec
    if frozen(new_spec) != frozen(old_spec):
        errors.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                                 "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                                 "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                                 "(allow it to be set to 1 if it was previously negative)")


def _resource(kind):
    from .resources import by_kind
    return by_kind(kind)


_DEPLOYMENT, _REPLICASET, _STATEFULSET, _DAEMONSET = (_resource(k) for k in (
    "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"))
