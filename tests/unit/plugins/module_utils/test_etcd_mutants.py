"""plugins/module_utils/etcd.py: the operation count in the too-many-operations error, max_txn_ops refused below 1,
and ETCD_IMPORT_ERROR without etcd3gw, through test_etcd_restore.py's fake gateway (etcd api/etcdserverpb/rpc.proto;
the server's --max-txn-ops counts the operations of one TxnRequest). Each kills a mutant ./dev mutate found
surviving test_etcd, test_etcd_restore and test_lock."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import sys

import pytest
import test_etcd_restore
from test_etcd_restore import Module, backup

from ansible_collections.rollback.core.plugins.module_utils import etcd
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


gateway = test_etcd_restore.gateway  # the fixture: /app/a=1, /app/b=2, /other/x=9


def test_the_too_many_operations_error_counts_puts_and_deletes(gateway, tmp_path):
    # Current: /app/a=1, /app/b=2. Backup: a added key, two updated ones, and (prune) /app/b removed: 4 operations.
    gateway.keys.update({"/app/c": "3"})
    gateway.max_txn_ops = 3
    data = {"/app/a": "new", "/app/c": "new", "/app/d": "4"}
    with pytest.raises(RollbackError, match=r"restoring 4 key\(s\) under /app/ needs 4 operations in one "
                                            r"transaction, .* to at least 4 on every member"):
        etcd.restore(Module(prefix="/app/", backup=backup(tmp_path, data), prune=True))
    assert gateway.txns == []


@pytest.mark.parametrize("max_txn_ops", [0, -1])
def test_max_txn_ops_below_one_is_refused_before_connecting(gateway, tmp_path, max_txn_ops):
    with pytest.raises(RollbackError, match="^max_txn_ops must be at least 1, got %d$" % max_txn_ops):
        etcd.restore(Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "2"}), atomic=False,
                            max_txn_ops=max_txn_ops))
    assert gateway.clients == [] and gateway.txns == []


def test_one_operation_per_transaction_is_allowed(gateway, tmp_path):
    module = Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "5", "/app/b": "6"}), atomic=False,
                    max_txn_ops=1)
    assert etcd.restore(module)["transactions"] == 2
    assert [len(txn["success"]) for txn in gateway.txns] == [1, 1]
    assert module.warnings and module.warnings[0].startswith("applied in 2 transactions of at most 1 operations")


@pytest.mark.parametrize("prefix,end", [("", b"\0"), ("/app/x", b"/app/y"), ("/\u00ff", b"/\xc3\xc0"),
                                        ("/\U0010ffff", b"/\xf4\x8f\xbf\xc0")])
def test_the_range_end_of_a_text_prefix_is_its_utf8_with_the_last_byte_plus_one(prefix, end):
    """etcd clientv3 GetPrefixRangeEnd; with no prefix, "\\0" (etcd rpc.proto RangeRequest: range_end '\\0' is every
    key >= key). The last byte of UTF-8 text is at most 0xBF: none carries over."""
    assert etcd.prefix_range_end(prefix) == end


def test_without_etcd3gw_the_import_error_is_kept_for_the_modules_to_report(monkeypatch):
    monkeypatch.setitem(sys.modules, "etcd3gw", None)  # import etcd3gw raises ImportError
    spec = importlib.util.spec_from_file_location("etcd_without_etcd3gw", etcd.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    assert copy.ETCD_IMPORT_ERROR.startswith("Traceback") and "import etcd3gw" in copy.ETCD_IMPORT_ERROR
    assert etcd.ETCD_IMPORT_ERROR is None


def test_the_default_max_txn_ops_is_etcds():
    """etcd server/embed/config.go: DefaultMaxTxnOps = uint(128), the --max-txn-ops default."""
    assert etcd.ETCD_DEFAULT_MAX_TXN_OPS == 128


def test_the_lock_key_created_when_absent_is_reported_created():
    class Store:
        endpoint = "fake"

        def _post(self, path, payload):
            return {"ID": "7"} if path == "/lease/grant" else {"succeeded": True, "header": {"revision": "9"}}

    assert etcd.EtcdKey(Store(), "/l").create("mine", 30) == (True, "mine")


class Failing:
    """An etcd3gw client whose every post raises ``error``."""

    def __init__(self, error):
        self.error = error

    def get_url(self, path):
        return path

    def post(self, url, json=None):  # noqa: A002 - etcd3gw's signature
        raise self.error


@pytest.mark.parametrize("error,text", [
    # etcd3gw client.post: Etcd3Exception(resp.text, resp.reason); str() holds the reason only (detail_text apart)
    (etcd.etcd_exceptions.Etcd3Exception("", "Bad Gateway"), "Bad Gateway"),
    (etcd.etcd_exceptions.ConnectionFailedError(""), "ConnectionFailedError"),
    (etcd.etcd_exceptions.Etcd3Exception("etcdserver: request timed out", "Internal Server Error"),
     "etcdserver: request timed out"),
])
def test_an_etcd_error_is_named_by_its_text_then_its_reason_then_its_class(error, text):
    store = object.__new__(etcd.EtcdStore)
    store.client, store.endpoint = Failing(error), "http://etcd:2379"
    with pytest.raises(RollbackError) as raised:
        store.read_prefix("/app/")
    assert raised.value.msg == "etcd /kv/range at http://etcd:2379 failed: %s" % text
