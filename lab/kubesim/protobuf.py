"""Request bodies in Kubernetes' protobuf encoding, which kubectl's typed clients send for the built-in
kinds (``kubectl create namespace|serviceaccount|token|configmap|secret|role|rolebinding``, ``kubectl auth
can-i``).

The envelope is staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf: the magic "k8s\\0" and a
runtime.Unknown (typeMeta 1, raw 2). The field numbers are those of k8s.io/api's generated.proto for the
kinds listed in KINDS; any other kind is answered 415, asking for JSON.
"""

import base64

from .store import ApiError

MAGIC = b"k8s\x00"
S, B, INT, BOOL = "string", "bytes", "int", "bool"
MAP_S, MAP_B = "map_string", "map_bytes"

TYPE_META = {1: ("apiVersion", S), 2: ("kind", S)}
OWNER_REF = {1: ("kind", S), 3: ("name", S), 4: ("uid", S), 5: ("apiVersion", S), 6: ("controller", BOOL),
             7: ("blockOwnerDeletion", BOOL)}
OBJECT_META = {1: ("name", S), 2: ("generateName", S), 3: ("namespace", S), 6: ("resourceVersion", S),
               11: ("labels", MAP_S), 12: ("annotations", MAP_S), 13: ("ownerReferences", [OWNER_REF]),
               14: ("finalizers", [S])}
POLICY_RULE = {1: ("verbs", [S]), 2: ("apiGroups", [S]), 3: ("resources", [S]), 4: ("resourceNames", [S]),
               5: ("nonResourceURLs", [S])}
SUBJECT = {1: ("kind", S), 2: ("apiGroup", S), 3: ("name", S), 4: ("namespace", S)}
ROLE_REF = {1: ("apiGroup", S), 2: ("kind", S), 3: ("name", S)}
OBJECT_REFERENCE = {1: ("kind", S), 2: ("namespace", S), 3: ("name", S), 4: ("uid", S), 5: ("apiVersion", S)}
KINDS = {
    "Namespace": {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", [S])})},
    "ServiceAccount": {1: ("metadata", OBJECT_META), 2: ("secrets", [OBJECT_REFERENCE]),
                       3: ("imagePullSecrets", [{1: ("name", S)}]), 4: ("automountServiceAccountToken", BOOL)},
    "TokenRequest": {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("audiences", [S]), 4: ("expirationSeconds", INT),
        3: ("boundObjectRef", {1: ("kind", S), 2: ("apiVersion", S), 3: ("name", S), 4: ("uid", S)})})},
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", MAP_S), 3: ("binaryData", MAP_B), 4: ("immutable", BOOL)},
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", MAP_B), 3: ("type", S), 4: ("stringData", MAP_S),
               5: ("immutable", BOOL)},
    "Role": {1: ("metadata", OBJECT_META), 2: ("rules", [POLICY_RULE])},
    "ClusterRole": {1: ("metadata", OBJECT_META), 2: ("rules", [POLICY_RULE])},
    "RoleBinding": {1: ("metadata", OBJECT_META), 2: ("subjects", [SUBJECT]), 3: ("roleRef", ROLE_REF)},
    "ClusterRoleBinding": {1: ("metadata", OBJECT_META), 2: ("subjects", [SUBJECT]), 3: ("roleRef", ROLE_REF)},
    "SelfSubjectAccessReview": {1: ("metadata", OBJECT_META), 2: ("spec", {
        1: ("resourceAttributes", {1: ("namespace", S), 2: ("verb", S), 3: ("group", S), 4: ("version", S),
                                   5: ("resource", S), 6: ("subresource", S), 7: ("name", S)}),
        2: ("nonResourceAttributes", {1: ("path", S), 2: ("verb", S)})})},
}


def _varint(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data):
    """(number, wire type, value) of each field: varints as ints, length-delimited as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ApiError(400, "BadRequest", "malformed protobuf body (wire type %d)" % wire)
        yield number, wire, value


def _scalar(kind, value):
    if kind == S:
        return value.decode()
    if kind == B:
        return base64.b64encode(value).decode()
    if kind == BOOL:
        return bool(value)
    return value


def _message(data, schema):
    result = {}
    for number, _wire, value in _fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, list):
            item = kind[0]
            decoded = _message(value, item) if isinstance(item, dict) else _scalar(item, value)
            result.setdefault(name, []).append(decoded)
        elif isinstance(kind, dict):
            result[name] = _message(value, kind)
        elif kind in (MAP_S, MAP_B):
            entry = dict((n, v) for n, _w, v in _fields(value))
            result.setdefault(name, {})[entry.get(1, b"").decode()] = _scalar(
                S if kind == MAP_S else B, entry.get(2, b""))
        else:
            result[name] = _scalar(kind, value)
    return result


def decode(body):
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "the protobuf body does not start with the k8s magic number")
    unknown = dict((n, v) for n, _w, v in _fields(body[len(MAGIC):]))
    type_meta = _message(unknown.get(1, b""), TYPE_META)
    kind = type_meta.get("kind")
    if kind not in KINDS:
        raise ApiError(415, "UnsupportedMediaType", "kubesim decodes protobuf only for %s; send %s as JSON"
                       % (", ".join(sorted(KINDS)), kind))
    obj = _message(unknown.get(2, b""), KINDS[kind])
    obj.update(type_meta)
    return obj
