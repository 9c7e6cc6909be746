"""ControllerRefManager (pkg/controller/controller_ref_manager.go ClaimObject): a controller adopts the
orphans its selector matches and releases what it owns but no longer matches; nothing is adopted by
or from an object being deleted. The candidates are only read (a store listing without copies will do); what is
claimed is returned as copies."""


from . import meta
from .store import clone


def claim(api, resource, owner, candidates):
    owned = []
    selector = meta.selector_requirements(owner["spec"].get("selector"))
    for obj in candidates:
        ref = meta.controller_of(obj)
        matches = meta.matches(obj["metadata"].get("labels"), selector)
        if ref is not None:
            if ref.get("uid") != owner["metadata"]["uid"]:
                continue
            if matches or meta.terminating(owner):
                owned.append(clone(obj))
            else:
                _set_refs(api, resource, obj, [r for r in obj["metadata"]["ownerReferences"]
                                               if r.get("uid") != owner["metadata"]["uid"]])
            continue
        if matches and not meta.terminating(owner) and not meta.terminating(obj):
            adopted = _set_refs(api, resource, obj, (obj["metadata"].get("ownerReferences") or []) + [
                meta.controller_ref(owner)])
            if adopted is not None:
                owned.append(adopted)
    return owned


def _set_refs(api, resource, obj, refs):
    updated = clone(obj)
    if refs:
        updated["metadata"]["ownerReferences"] = refs
    else:
        updated["metadata"].pop("ownerReferences", None)
    try:
        return api.store.update(resource, obj["metadata"]["namespace"], obj["metadata"]["name"], updated)
    except Exception:  # noqa: BLE001 - gone or changed meanwhile: the next pass claims again
        return None
