from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.etcd import EtcdStore, TooManyOperations, prefix_range_end


@pytest.mark.parametrize("prefix,end", [("/app/", b"/app0"), ("a", b"b"), ("a\xff", b"a\xc3\xc0")])
def test_range_end_covers_exactly_the_prefix(prefix, end):
    assert prefix_range_end(prefix) == end


class RecordingStore(EtcdStore):
    """EtcdStore without a server: records the transactions it would send."""

    def __init__(self, limit=None):
        self.endpoint = "fake"
        self.sent = []
        self.limit = limit

    def _post(self, path, payload):
        if self.limit and max(len(payload["compare"]), len(payload["success"])) > self.limit:
            raise TooManyOperations("etcdserver: too many operations in txn request")
        self.sent.append(payload)
        self.revision = getattr(self, "revision", 20) + 10
        return {"succeeded": True, "header": {"revision": str(self.revision)}}


DESIRED = {"/p/a": "2", "/p/new": "n"}


def test_one_transaction_guarded_by_one_range_compare_on_the_read_revision():
    store = RecordingStore()
    assert store.apply("/p/", 7, DESIRED, ["/p/new"], ["/p/a"], ["/p/gone"], None) == 1
    (txn,) = store.sent
    assert txn["compare"] == [{"key": "L3Av", "range_end": "L3Aw", "target": "MOD", "result": "LESS",
                               "mod_revision": 8}]
    assert [list(op) for op in txn["success"]] == [["request_put"], ["request_put"], ["request_delete_range"]]


def test_chunks_stay_within_the_limit_and_chain_revisions():
    desired = dict(("/p/%03d" % n, "new") for n in range(10))
    store = RecordingStore(limit=4)
    assert store.apply("/p/", 20, desired, [], sorted(desired), [], 4) == 3
    assert [len(txn["success"]) for txn in store.sent] == [4, 4, 2]
    assert [txn["compare"][0]["mod_revision"] for txn in store.sent] == [21, 31, 41]


def test_failed_compare_is_a_concurrent_writer_error():
    class Conflicting(RecordingStore):
        def _post(self, path, payload):
            return {"succeeded": False}

    with pytest.raises(RollbackError, match="concurrent writer"):
        Conflicting().apply("/p/", 7, DESIRED, ["/p/new"], ["/p/a"], [], None)
