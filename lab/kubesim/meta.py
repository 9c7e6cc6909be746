"""Helpers every part shares: label and field selectors, owner references, conditions, hashes."""

import json
import math
import re

from .store import ApiError, now

# Label selectors (k8s.io/apimachinery/pkg/labels/selector.go Parse; metav1.LabelSelectorAsSelector) ----------

_TERM = re.compile(r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9./_-]+)\s*(?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*"
                   r"(?P<values>\([^)]*\)|[A-Za-z0-9._-]*))?\s*$")


def _split_terms(text):
    terms, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def parse_label_selector(text):
    """A selector string as (key, operator, values) requirements; 400 when it does not parse."""
    requirements = []
    for term in _split_terms(text or ""):
        match = _TERM.match(term)
        if not match:
            raise ApiError(400, "BadRequest", "unable to parse requirement: %s" % term.strip())
        key, op, values = match.group("key"), (match.group("op") or "").strip(), match.group("values")
        if match.group("neg"):
            if op:
                raise ApiError(400, "BadRequest", "unable to parse requirement: %s" % term.strip())
            requirements.append((key, "DoesNotExist", []))
        elif not op:
            requirements.append((key, "Exists", []))
        elif op in ("in", "notin"):
            requirements.append((key, "In" if op == "in" else "NotIn",
                                 [v.strip() for v in values.strip("()").split(",") if v.strip()]))
        else:
            requirements.append((key, "NotIn" if op == "!=" else "In", [values]))
    return requirements


def selector_requirements(selector):
    """metav1.LabelSelector (matchLabels, matchExpressions) as requirements; None for a nil selector."""
    if selector is None:
        return None
    requirements = [(k, "In", [v]) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        requirements.append((expression["key"], expression["operator"], list(expression.get("values") or [])))
    return requirements


def matches(labels, requirements):
    """Whether labels satisfy the requirements; an empty selector matches everything, nil nothing."""
    if requirements is None:
        return False
    labels = labels or {}
    for key, op, values in requirements:
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selects(selector, obj):
    return matches(obj["metadata"].get("labels"), selector_requirements(selector))


def selector_string(selector):
    """metav1.FormatLabelSelector, as a Scale's status.selector shows it."""
    parts = ["%s=%s" % item for item in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        op = expression["operator"]
        if op in ("In", "NotIn"):
            parts.append("%s %s (%s)" % (expression["key"], op.lower(), ",".join(expression.get("values") or [])))
        else:
            parts.append(("!" if op == "DoesNotExist" else "") + expression["key"])
    return ",".join(parts)


# Field selectors: metadata.name and metadata.namespace everywhere, plus each kind's own fields --------------

def _involved(field):
    return lambda event: str(event.get("involvedObject", {}).get(field, ""))


FIELDS = {
    "Pod": {"spec.nodeName": lambda o: o.get("spec", {}).get("nodeName", ""),
            "spec.restartPolicy": lambda o: o.get("spec", {}).get("restartPolicy", ""),
            "spec.schedulerName": lambda o: o.get("spec", {}).get("schedulerName", ""),
            "spec.serviceAccountName": lambda o: o.get("spec", {}).get("serviceAccountName", ""),
            "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
            "status.podIP": lambda o: (o.get("status") or {}).get("podIP", "")},
    "Secret": {"type": lambda o: o.get("type", "")},
    "Namespace": {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
    "ReplicaSet": {"status.replicas": lambda o: str((o.get("status") or {}).get("replicas", 0))},
    "Event": dict(("involvedObject." + f, _involved(f))
                  for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")),
    "Node": {"spec.unschedulable": lambda o: str(o.get("spec", {}).get("unschedulable", False)).lower()},
}
FIELDS["Event"].update(reason=lambda o: o.get("reason", ""), type=lambda o: o.get("type", ""),
                       source=lambda o: (o.get("source") or {}).get("component", ""))


def parse_field_selector(kind, text):
    """(getter, op, value) terms; an unsupported field is a 400, as fields.ParseSelector plus the registry's
    field-label conversion answer."""
    terms = []
    for term in _split_terms(text or ""):
        match = re.match(r"^\s*([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not match:
            raise ApiError(400, "BadRequest", "invalid selector: '%s'; can't understand '%s'" % (text, term))
        field, op, value = match.groups()
        if field == "metadata.name":
            getter = _name
        elif field == "metadata.namespace":
            getter = _namespace
        elif field in FIELDS.get(kind, {}):
            getter = FIELDS[kind][field]
        else:
            raise ApiError(400, "BadRequest", 'field label not supported: %s' % field)
        terms.append((getter, op != "!=", value))
    return terms


def _name(obj):
    return obj["metadata"]["name"]


def _namespace(obj):
    return obj["metadata"].get("namespace", "")


def field_matches(obj, terms):
    return all((getter(obj) == value) == equal for getter, equal, value in terms)


# Owner references (metav1.GetControllerOf, NewControllerRef) --------------------------------------------------

def controller_of(obj):
    return next((ref for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)


def controller_ref(owner):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(obj, owner):
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def terminating(obj):
    return bool(obj["metadata"].get("deletionTimestamp"))


# Conditions --------------------------------------------------------------------------------------------------

def condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def new_condition(kind, value, reason, message, with_update_time=True):
    stamp = now()
    found = {"type": kind, "status": value, "lastTransitionTime": stamp, "reason": reason, "message": message}
    if with_update_time:
        found["lastUpdateTime"] = stamp
    return found


def set_condition(status, new):
    """SetDeploymentCondition (and its ReplicaSet/StatefulSet twins): same status and reason is a no-op; the
    transition time is kept while the status does not change; the condition moves to the end."""
    current = condition(status, new["type"])
    if current and current["status"] == new["status"] and current.get("reason") == new.get("reason"):
        return False
    if current and current["status"] == new["status"]:
        new["lastTransitionTime"] = current["lastTransitionTime"]
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != new["type"]] + [new]
    return True


def remove_condition(status, kind):
    kept = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if len(kept) != len(status.get("conditions") or []):
        status["conditions"] = kept


# Numbers and hashes ------------------------------------------------------------------------------------------

def scaled_value(value, total, round_up):
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%") or not text[:-1].isdigit():
        raise ValueError("invalid value for IntOrString: invalid value %r" % text)
    exact = int(text[:-1]) * total / 100.0
    return int(math.ceil(exact) if round_up else math.floor(exact))


ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data):
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def compute_hash(template, collision_count=None):
    """controller.ComputeHash: fnv32a of the template (and the collision count), SafeEncodeString'd.
    Go hashes its struct printout; this hashes canonical JSON, so the values differ from a cluster's
    while being as stable and collision-resistant."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in str(fnv32a(data)))
