"""The three patch types of the API server: JSON patch, JSON merge patch and strategic merge patch.

JSON patch (RFC 6902) is the ``jsonpatch`` library's. Merge patch (RFC 7386) and strategic
merge patch follow apimachinery's pkg/util/strategicpatch/patch.go (mergeMap, mergeSlice,
mergePatchIntoOriginal, normalizeElementOrder): lists merged by their merge keys, the
``$patch`` (replace, delete), ``$retainKeys``, ``$setElementOrder/<list>`` and
``$deleteFromPrimitiveList/<list>`` directives, nulls deleting fields. The patch strategies
and merge keys are the Go struct tags (``patchStrategy``, ``patchMergeKey``) of k8s.io/api
for the fields of the kinds this simulator serves (SCHEMAS).
"""


import jsonpatch
from .store import clone


class PatchError(Exception):
    """A patch the API server refuses: code 400 (malformed) or 422 (cannot be applied)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Field:
    """Patch metadata of one field: strategies ("merge", "retainKeys", "replace"), merge key, sub-fields."""

    def __init__(self, strategy="", merge_key="", fields=None):
        self.strategies = [s for s in strategy.split(",") if s]
        self.merge_key = merge_key
        self.fields = fields or {}

    def child(self, name):
        return self.fields.get(name) or NO_META

    @property
    def strategy(self):
        """The strategy other than retainKeys (extractRetainKeysPatchStrategy)."""
        others = [s for s in self.strategies if s != "retainKeys"]
        return others[0] if others else ""


NO_META = Field()
# k8s.io/api/core/v1 types.go: ObjectMeta, PodSpec, Container and the status conditions.
OBJECT_META = Field(fields={"finalizers": Field("merge"), "ownerReferences": Field("merge", "uid")})
CONTAINER = {"ports": Field("merge", "containerPort"), "env": Field("merge", "name"),
             "volumeMounts": Field("merge", "mountPath"), "volumeDevices": Field("merge", "devicePath")}
POD_SPEC = Field(fields={
    "volumes": Field("merge,retainKeys", "name"), "initContainers": Field("merge", "name", CONTAINER),
    "containers": Field("merge", "name", CONTAINER), "ephemeralContainers": Field("merge", "name", CONTAINER),
    "imagePullSecrets": Field("merge", "name"), "hostAliases": Field("merge", "ip"),
    "topologySpreadConstraints": Field("merge", "topologyKey"), "schedulingGates": Field("merge", "name"),
    "resourceClaims": Field("merge,retainKeys", "name")})
TEMPLATE = Field(fields={"metadata": OBJECT_META, "spec": POD_SPEC})
CONDITIONS = Field("merge", "type")


def _kind(spec=None, status=None):
    return Field(fields={"metadata": OBJECT_META, "spec": Field(fields=spec or {}),
                         "status": Field(fields=dict({"conditions": CONDITIONS}, **(status or {})))})


SCHEMAS = {
    # k8s.io/api/apps/v1 types.go: DeploymentSpec.Strategy has patchStrategy "retainKeys".
    "Deployment": _kind({"template": TEMPLATE, "strategy": Field("retainKeys")}),
    "ReplicaSet": _kind({"template": TEMPLATE}),
    "StatefulSet": _kind({"template": TEMPLATE}),
    "DaemonSet": _kind({"template": TEMPLATE}),
    "Pod": Field(fields={"metadata": OBJECT_META, "spec": POD_SPEC, "status": Field(fields={
        "conditions": CONDITIONS, "podIPs": Field("merge", "ip")})}),
    "Node": _kind(status={"addresses": Field("merge", "type")}),
    "HorizontalPodAutoscaler": _kind(),
}


def schema_for(kind):
    return SCHEMAS.get(kind, Field(fields={"metadata": OBJECT_META}))


# JSON patch and merge patch ------------------------------------------------------------------------------------

def json_patch(document, operations):
    """RFC 6902, as the API server's jsonPatcher: a malformed patch is 400, one that cannot apply 422."""
    if not isinstance(operations, list):
        raise PatchError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        patch = jsonpatch.JsonPatch(operations)
        return patch.apply(document)
    except jsonpatch.InvalidJsonPatch as error:
        raise PatchError(400, str(error))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as error:
        raise PatchError(422, str(error))


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Strategic merge patch -----------------------------------------------------------------------------------------

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def strategic_merge_patch(original, patch, kind):
    """StrategicMergeMapPatch with MergeParallelList and IgnoreUnmatchedNulls, as the API server applies it."""
    if not isinstance(patch, dict):
        raise PatchError(400, "json: cannot unmarshal array into Go value of type map[string]interface {}")
    return _merge_map(clone(original), clone(patch), schema_for(kind))


def _category(value):
    return dict if isinstance(value, dict) else list if isinstance(value, list) else object


def _merge_map(original, patch, meta):
    """mergeMap: directives first ($patch, $retainKeys, $setElementOrder), then field by field."""
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise PatchError(400, "Unknown patch type: %s in map: %s" % (directive, patch))
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    for key in [k for k in patch if k.startswith(SET_ORDER)]:
        _merge_with_order(original, patch, key, meta)
    for key, value in list(patch.items()):
        delete_list = key.startswith(DELETE_PRIMITIVE)
        if delete_list:
            key = key[len(DELETE_PRIMITIVE):]
        elif key.startswith("$"):
            raise PatchError(400, "invalid patch directive %s" % key)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or _category(original[key]) is not _category(value):
            if not delete_list:
                _take(original, key, value)
            continue
        field = meta.child(key)
        if isinstance(value, dict):
            original[key] = value if field.strategy == "replace" else _merge_map(original[key], value, field)
        elif isinstance(value, list):
            if field.strategy == "merge" or delete_list:
                original[key] = _merge_slice(original[key], value, field, delete_list)
            else:
                original[key] = _without_directives(value)[0]
        else:
            _take(original, key, value)
    return original


def _take(original, key, value):
    """A value the original lacks: taken as it is, without nulls and directives (discardNullValuesFromPatch)."""
    value, keep = _without_directives(_without_nulls(value))
    if keep:
        original[key] = value
    else:
        original.pop(key, None)


def _without_nulls(value):
    if isinstance(value, dict):
        return dict((k, _without_nulls(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _without_directives(value):
    """removeDirectives: a map holding $patch is dropped; returns (value, keep)."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        result = {}
        for k, v in value.items():
            v, keep = _without_directives(v)
            if keep:
                result[k] = v
        return result, True
    if isinstance(value, list):
        return [v for v, keep in (_without_directives(item) for item in value) if keep], True
    return value, True


def _apply_retain_keys(original, patch):
    """applyRetainKeysDirective: keys of the original missing from the directive are cleared."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise PatchError(400, "invalid patch: $retainKeys must be a list")
    for key, value in patch.items():
        if value is not None and not key.startswith((SET_ORDER, DELETE_PRIMITIVE)) and key not in retain:
            raise PatchError(400, "doesn't match the $retainKeys directive: %s" % key)
    for key in [k for k in original if k not in retain]:
        del original[key]


def _merge_with_order(original, patch, order_key, meta):
    """mergePatchIntoOriginal: merge the list named by $setElementOrder and enforce that order."""
    order = patch.pop(order_key)
    name = order_key[len(SET_ORDER):]
    if not isinstance(order, list) or not name:
        raise PatchError(400, "invalid patch: bad format for the $setElementOrder list")
    field = meta.child(name)
    in_original, in_patch = name in original, name in patch
    if in_patch:
        _check_order(patch[name], order, field.merge_key)
    if in_original and not in_patch:
        merged = original[name]
    elif in_patch and not in_original:
        merged = _without_directives(patch[name])[0]
    elif in_original and in_patch:
        merged = (_merge_slice(original[name], patch[name], field, False) if field.strategy == "merge"
                  else _without_directives(patch[name])[0])
    else:
        return
    key = field.merge_key
    present = [_key_of(item, key) for item in order]
    in_order = [item for item in merged if _key_of(item, key) in present]
    server_only = [item for item in merged if _key_of(item, key) not in present]
    server_order = original.get(name) or []
    original[name] = _normalize_order(in_order, server_only, order, server_order, key)
    patch.pop(name, None)


def _check_order(patch_list, order, key):
    """validatePatchWithSetOrderList: the patch list's relative order must agree with the directive's."""
    items = [i for i in patch_list if not (isinstance(i, dict) and i.get(DIRECTIVE) == "delete")]
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if _key_of(items[p], key) == _key_of(order[s], key):
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise PatchError(400, "The order in patch list:\n%s\n doesn't match $setElementOrder list:\n%s\n"
                         % (patch_list, order))


def _key_of(item, key):
    if not key:
        return item
    if not isinstance(item, dict) or key not in item:
        raise PatchError(400, "map: %s does not contain declared merge key: %s" % (item, key))
    return item[key]


def _element_kind(*lists):
    """sliceElementType: every element of the same type, no lists of lists."""
    kinds = set(_category(v) for items in lists for v in items)
    if list in kinds:
        raise PatchError(422, "lists of lists are not supported")
    if len(kinds) > 1:
        raise PatchError(422, "list element types are not identical: %s" % (lists,))
    return kinds.pop() if kinds else None


def _merge_slice(original, patch, field, delete_list):
    """mergeSlice: scalars unioned (or deleted by a parallel list), maps merged by their merge key."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    key = field.merge_key if kind is dict else ""
    if kind is not dict:
        if delete_list:
            return [v for v in original if v not in patch]
        merged = _deduplicate(list(original) + list(patch))
    else:
        if not key:
            raise PatchError(422, "cannot merge lists without merge key")
        original, patch = _special_elements(original, patch, key)
        merged = list(original)
        for item in patch:
            value = _key_of(item, key)
            found = next((i for i, o in enumerate(merged) if _key_of(o, key) == value), None)
            if found is None:
                merged.append(item)
            else:
                merged[found] = _merge_map(merged[found], item, field)
    present = [_key_of(item, key) for item in patch]
    in_patch = [item for item in merged if _key_of(item, key) in present]
    server_only = [item for item in merged if _key_of(item, key) not in present]
    return _normalize_order(in_patch, server_only, patch, original, key)


def _special_elements(original, patch, key):
    """mergeSliceWithSpecialElements: {$patch: delete, key: v} removes, {$patch: replace} replaces the list."""
    plain, replace = [], False
    for item in patch:
        directive = item.get(DIRECTIVE)
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            value = _key_of(item, key)
            original = [o for o in original if _key_of(o, key) != value]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError(422, "merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(400, "Unknown patch type: %s in map: %s" % (directive, item))
    if replace:
        return plain, []
    return original, plain


def _deduplicate(items):
    """deduplicateScalars, whose swap-with-last order is what the server stores."""
    items = list(items)
    last = len(items) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if items[i] == items[j]:
                items[j] = items[last]
                items = items[:last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    return items


def _normalize_order(patch_items, server_only, patch_order, server_order, key):
    """normalizeElementOrder: each part sorted by its order, then merged by the live object's order."""
    patch_items = _sort_by(patch_items, patch_order, key)
    server_only = _sort_by(server_only, server_order, key)
    return _merge_sorted(server_only, patch_items, server_order, key)


def _index(items, value, key):
    for position, item in enumerate(items):
        if isinstance(item, dict) and DIRECTIVE in item and key and key not in item:
            continue
        if (item.get(key) if key and isinstance(item, dict) else item) == value:
            return position
    return -1


def _sort_by(items, order, key):
    """normalizeSliceOrder: sort.SliceStable with its less (unknown elements compare as less); for the
    short lists of an object Go's stable sort is the insertion sort reproduced here."""
    deletes = [i for i in items if key and isinstance(i, dict) and i.get(DIRECTIVE) == "delete"]
    items = [i for i in items if i not in deletes]

    def less(a, b):
        ia, ib = _index(order, _key_of(a, key), key), _index(order, _key_of(b, key), key)
        return ia < ib if ia >= 0 and ib >= 0 else True

    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return items + deletes


def _merge_sorted(left, right, server_order, key):
    """mergeSortedSlice: server-only items (left) inserted among the patch items (right) by live order."""
    result, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            result.append(right[j])
            j += 1
        elif j >= len(right):
            result.append(left[i])
            i += 1
        else:
            li = _index(server_order, _key_of(left[i], key), key)
            ri = _index(server_order, _key_of(right[j], key), key)
            if li >= 0 and ri >= 0 and li < ri:
                result.append(left[i])
                i += 1
            else:
                result.append(right[j])
                j += 1
    return result
