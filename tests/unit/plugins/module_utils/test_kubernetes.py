from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.kubernetes import (
    controlled_by, images, pruned, selector_of, template_without_hash)


def test_pruned_drops_null_and_empty_fields_recursively():
    assert pruned({"a": None, "b": {}, "c": [], "d": {"e": {"f": None}}, "g": [{"h": 1, "i": {}}], "j": 0}) == {
        "g": [{"h": 1}], "j": 0}


def test_images_of_a_template():
    assert images({"spec": {"containers": [{"image": "a:1"}, {"image": "b:2"}]}}) == "a:1,b:2"


def test_template_without_hash_compares_as_equal_ignore_hash():
    """kubectl rollback.go equalIgnoreHash: templates differing only in pod-template-hash are equal."""
    with_hash = {"metadata": {"labels": {"app": "a", "pod-template-hash": "5d9"}}, "spec": {"containers": []}}
    assert template_without_hash(with_hash) == {"metadata": {"labels": {"app": "a"}}}
    assert with_hash["metadata"]["labels"]["pod-template-hash"] == "5d9", "the input is not changed"


def test_selector_and_controller_reference():
    obj = {"metadata": {"uid": "u1"}, "spec": {"selector": {"matchLabels": {"tier": "web", "app": "a"}}}}
    assert selector_of(obj) == "app=a,tier=web"
    owned = {"metadata": {"ownerReferences": [{"uid": "u1", "controller": True}]}}
    adopted_elsewhere = {"metadata": {"ownerReferences": [{"uid": "u1"}, {"uid": "u2", "controller": True}]}}
    assert controlled_by(owned, obj) and not controlled_by(adopted_elsewhere, obj)
