"""k8s_config_restore's contents: what is compared, what the patch carries, what counts as immutable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_config import (
    _contents, _contents_patch, _immutable_change, _new_object)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def test_binary_data_is_read_as_the_api_serves_it_and_compared_as_bytes():
    backup = {"kind": "ConfigMap", "data": {"a": "1"}, "binaryData": {"logo": "aGVs\nbG8="}}
    live = {"kind": "ConfigMap", "data": {"a": "1"}, "binaryData": {"logo": b64("hello")}}
    assert _contents(backup, "backup") == _contents(live, "live") == ({"a": "1"}, {"logo": b64("hello")})


def test_secret_string_data_is_folded_into_data():
    backup = {"kind": "Secret", "data": {"user": b64("app")}, "stringData": {"password": "s3cret"}}
    assert _contents(backup, "b") == ({"user": b64("app"), "password": b64("s3cret")}, {})


@pytest.mark.parametrize("obj,message", [
    ({"kind": "ConfigMap", "data": {"enabled": True}}, "key enabled is a bool, not a string"),
    ({"kind": "Secret", "data": {"k": "not base64!"}}, "key k is not base64 (use stringData for plain text)"),
    ({"kind": "ConfigMap", "binaryData": {"k": "%%%"}}, "key k is not base64"),
])
def test_what_the_api_server_would_refuse_is_refused_first(obj, message):
    with pytest.raises(RollbackError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _contents(obj, "backup b.yaml ConfigMap x")


def test_the_patch_carries_only_contents_and_the_resource_version_read():
    current = {"kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "41", "labels": {"app": "a"},
                                                 "annotations": {"meta.helm.sh/release-name": "api"}},
               "data": {"same": "1", "changed": "old", "gone": "x"}, "binaryData": {"bin": b64("b")}}
    item = {"data": {"same": "1", "changed": "new", "added": "2"}, "binary": {}}
    assert _contents_patch(item, current, "c") == {
        "metadata": {"resourceVersion": "41"},
        "data": {"changed": "new", "added": "2", "gone": None}, "binaryData": {"bin": None}}


def test_immutable_objects_and_secret_types():
    item = {"kind": "Secret", "type": "kubernetes.io/tls"}
    assert _immutable_change(item, {"type": "Opaque"})
    assert not _immutable_change(dict(item, type=None), {"type": "Opaque"})
    assert _immutable_change({"kind": "ConfigMap", "type": None}, {"immutable": True})


def test_a_recreated_object_keeps_its_own_metadata():
    current = {"kind": "ConfigMap", "immutable": True, "metadata": {
        "name": "c", "namespace": "shop", "uid": "u", "resourceVersion": "7", "creationTimestamp": "t",
        "managedFields": [{}], "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": "api"}, "finalizers": ["example.com/keep"],
        "ownerReferences": [{"kind": "HelmRelease", "name": "api", "uid": "o"}]}}
    item = {"kind": "ConfigMap", "name": "c", "namespace": "shop", "data": {"a": "1"}, "binary": {}, "type": None,
            "immutable": None, "labels": {}, "annotations": {}}
    assert _new_object(item, current) == {
        "apiVersion": "v1", "kind": "ConfigMap", "immutable": True, "data": {"a": "1"},
        "metadata": {"name": "c", "namespace": "shop", "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "api"}, "finalizers": ["example.com/keep"],
                     "ownerReferences": [{"kind": "HelmRelease", "name": "api", "uid": "o"}]}}
