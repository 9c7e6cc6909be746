"""etcd.restore and EtcdStore's connection through a fake of etcd's v3 JSON gateway, for the flow decisions
mutation testing showed no unit test looked at (tests/integration/test_etcd_config_restore.py runs the same
against the lab's real etcd). The fake answers as the gateway does (etcd api/etcdserverpb/rpc.proto:
RangeResponse header.revision + kvs, TxnResponse succeeded + header, --max-txn-ops refusing a larger txn)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest
from ansible_collections.rollback.core.plugins.module_utils import etcd
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from support.modules import load_module, module_kwargs

# The defaults etcd_config_restore's main() gives AnsibleModule: the fake module has every option the real one has.
DEFAULTS = {option: entry.get("default") for option, entry in
            module_kwargs(load_module("etcd_config_restore").main)["argument_spec"].items()}


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Gateway:
    """One etcd member behind its gRPC gateway: keys, a revision, the txn-ops limit, users."""

    def __init__(self, keys, max_txn_ops=128, users=None):
        self.keys, self.revision, self.max_txn_ops = dict(keys), 5, max_txn_ops
        self.users, self.txns, self.clients = users or {}, [], []


class Client:
    def __init__(self, gateway, **kwargs):
        self.gateway, self.kwargs = gateway, kwargs
        self.session = type("Session", (), {"headers": {}})()
        gateway.clients.append(self)

    def status(self):
        if self.gateway.users and "Authorization" not in self.session.headers:
            raise etcd.etcd_exceptions.Etcd3Exception("etcdserver: user name is empty")
        return {}

    def get_url(self, path):
        return path

    def post(self, path, json=None):  # noqa: A002 - etcd3gw's signature
        gateway = self.gateway
        if path == "/auth/authenticate":
            if gateway.users.get(json["name"]) != json["password"]:
                raise etcd.etcd_exceptions.Etcd3Exception("etcdserver: authentication failed")
            return {"token": "token-" + json["name"]}
        if path == "/kv/range":
            start = base64.b64decode(json["key"]).decode()
            end = base64.b64decode(json["range_end"]) if "range_end" in json else None
            kvs = [{"key": b64(k), "value": b64(v)} for k, v in sorted(gateway.keys.items())
                   if (k == start if end is None else start.encode() <= k.encode() < end)]
            return {"header": {"revision": str(gateway.revision)}, "kvs": kvs}
        assert path == "/kv/txn", path
        if len(json["success"]) > gateway.max_txn_ops:
            raise etcd.etcd_exceptions.Etcd3Exception("etcdserver: too many operations in txn request")
        gateway.txns.append(json)
        gateway.revision += 1
        for operation in json["success"]:
            if "request_put" in operation:
                put = operation["request_put"]
                gateway.keys[base64.b64decode(put["key"]).decode()] = base64.b64decode(put["value"]).decode()
            else:
                gateway.keys.pop(base64.b64decode(operation["request_delete_range"]["key"]).decode(), None)
        return {"succeeded": True, "header": {"revision": str(gateway.revision)}}


class Module:
    def __init__(self, diff=False, check_mode=False, **params):
        self.params = dict(dict(DEFAULTS, endpoints=["http://etcd:2379"], timeout=1.0), **params)
        self._diff, self.check_mode, self.warnings, self.moved = diff, check_mode, [], []

    def warn(self, text):
        self.warnings.append(text)

    def atomic_move(self, source, dest):
        import os

        os.rename(source, dest)
        self.moved.append(dest)


@pytest.fixture
def gateway(monkeypatch):
    member = Gateway({"/app/a": "1", "/app/b": "2", "/other/x": "9"})
    monkeypatch.setattr(etcd.etcd3gw, "client", lambda **kwargs: Client(member, **kwargs))
    return member


def backup(tmp_path, data):
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_restore_puts_the_changed_keys_in_one_transaction_and_saves_the_state_before(gateway, tmp_path):
    module = Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "1", "/app/b": "3", "/app/c": "4"}),
                    save_current_to=str(tmp_path / "before.json"), diff=True, mask=["/app/b"])
    result = etcd.restore(module)
    assert (result["added"], result["updated"], result["removed"]) == (["/app/c"], ["/app/b"], [])
    assert result["changed"] and result["transactions"] == 1 and result["revision"] == 5
    assert result["diff"] == {"before": {"/app/b": "********"}, "after": {"/app/b": "********", "/app/c": "4"}}
    assert gateway.keys == {"/app/a": "1", "/app/b": "3", "/app/c": "4", "/other/x": "9"}
    assert json.loads((tmp_path / "before.json").read_text()) == {"/app/a": "1", "/app/b": "2"}
    assert result["saved_to"] == str(tmp_path / "before.json") and module.warnings == []


def test_nothing_to_change_sends_nothing_and_saves_nothing(gateway, tmp_path):
    module = Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "1", "/app/b": "2"}),
                    save_current_to=str(tmp_path / "before.json"))
    result = etcd.restore(module)
    assert not result["changed"] and result["transactions"] == 0 and "diff" not in result
    assert gateway.txns == [] and not (tmp_path / "before.json").exists()


@pytest.mark.parametrize("change", [dict(added=True), dict(updated=True), dict(removed=True)])
def test_any_single_kind_of_change_is_a_change(gateway, tmp_path, change):
    data = {"/app/a": "1", "/app/b": "2"}
    if "added" in change:
        data["/app/z"] = "new"
    if "updated" in change:
        data["/app/a"] = "other"
    if "removed" in change:
        del data["/app/b"]
    result = etcd.restore(Module(prefix="/app/", backup=backup(tmp_path, data), prune=True))
    assert result["changed"] and result["transactions"] == 1
    assert {k: v for k, v in gateway.keys.items() if k.startswith("/app/")} == data


def test_check_mode_reads_and_plans_but_writes_nothing(gateway, tmp_path):
    module = Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "2"}), check_mode=True,
                    save_current_to=str(tmp_path / "before.json"))
    result = etcd.restore(module)
    assert result["changed"] and result["updated"] == ["/app/a"] and result["transactions"] == 0
    assert gateway.txns == [] and not (tmp_path / "before.json").exists()


def test_not_atomic_applies_in_chunks_of_max_txn_ops_and_warns(gateway, tmp_path):
    data = {"/app/%02d" % n: "v" for n in range(5)}
    module = Module(prefix="/app/", backup=backup(tmp_path, data), atomic=False, max_txn_ops=2)
    result = etcd.restore(module)
    assert result["transactions"] == 3 and [len(t["success"]) for t in gateway.txns] == [2, 2, 1]
    assert module.warnings and "applied in 3 transactions of at most 2 operations" in module.warnings[0]
    assert module.warnings[0].endswith("nothing holds the state before")


def test_atomic_restore_beyond_the_server_limit_says_how_to_fix_it(gateway, tmp_path):
    gateway.max_txn_ops = 2
    data = {"/app/%02d" % n: "v" for n in range(3)}
    with pytest.raises(RollbackError, match="needs 3 operations in one transaction, more than the etcd server "
                                            "allows: raise --max-txn-ops") as raised:
        etcd.restore(Module(prefix="/app/", backup=backup(tmp_path, data), save_current_to=str(tmp_path / "s")))
    assert raised.value.details["saved_to"] == str(tmp_path / "s"), "the state before is named"
    assert gateway.txns == []


def test_an_empty_prefix_and_keys_outside_it_are_refused_before_connecting(gateway, tmp_path):
    with pytest.raises(RollbackError, match="prefix must not be empty"):
        etcd.restore(Module(prefix="", backup=backup(tmp_path, {"/app/a": "1"})))
    with pytest.raises(RollbackError, match=r"has 2 key\(s\) outside prefix /app/, e\.g\. /etc/a"):
        etcd.restore(Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "1", "/etc/a": "1", "/etc/b": "2"})))
    assert gateway.clients == []


@pytest.mark.parametrize("extra,message", [
    (dict(client_cert="/c.pem"), "client_cert and client_key must be given together"),
    (dict(client_key="/k.pem"), "client_cert and client_key must be given together"),
    (dict(endpoints=["ftp://etcd:2379"]), "is not an http(s)://host:port URL"),
])
def test_bad_connection_options_are_refused(gateway, extra, message):
    with pytest.raises(RollbackError) as raised:
        etcd.EtcdStore(Module(**extra).params)
    assert message in raised.value.msg


def test_the_first_endpoint_that_answers_is_used_with_its_port(gateway, monkeypatch):
    class Down(Client):
        def status(self):  # etcd3gw connects on the first request, not in client()
            raise etcd.etcd_exceptions.Etcd3Exception("connection refused")

    def client(**kwargs):
        return (Down if kwargs["host"] == "down" else Client)(gateway, **kwargs)

    monkeypatch.setattr(etcd.etcd3gw, "client", client)
    store = etcd.EtcdStore(Module(endpoints=["http://down:2379", "etcd-2", "https://etcd-3:4001"]).params)
    assert store.endpoint == "etcd-2"
    assert (store.client.kwargs["host"], store.client.kwargs["port"], store.client.kwargs["protocol"]) == (
        "etcd-2", 2379, "http")


def test_a_user_authenticates_and_a_wrong_password_is_named(gateway):
    gateway.users = {"root": "secret"}
    store = etcd.EtcdStore(Module(user="root", password="secret").params)
    assert store.client.session.headers["Authorization"] == "token-root"
    with pytest.raises(RollbackError, match="no etcd endpoint answered: http://etcd:2379: .*authentication failed"):
        etcd.EtcdStore(Module(user="root", password="wrong").params)
    with pytest.raises(RollbackError, match="user name is empty"):
        etcd.EtcdStore(Module().params)


def test_the_lock_key_is_created_only_when_absent_and_read_back():
    sent = []

    class Store:
        endpoint = "fake"

        def _post(self, path, payload):
            sent.append((path, payload))
            if path == "/lease/grant":
                return {"ID": "77"}
            if path == "/kv/txn":
                return {"succeeded": False, "responses": [{"response_range": {"kvs": [{"value": b64("theirs")}]}}]}
            if path == "/kv/range":
                return {"kvs": [{"key": b64("/l"), "value": b64("theirs")}]}
            return {}

    key = etcd.EtcdKey(Store(), "/l")
    assert key.get() == "theirs"
    assert key.create("mine", 30) == (False, "theirs")
    txn = next(payload for path, payload in sent if path == "/kv/txn")
    assert txn["compare"] == [{"key": b64("/l"), "target": "CREATE", "result": "EQUAL", "create_revision": 0}]
    assert txn["success"][0]["request_put"]["lease"] == "77"
    assert ("/kv/lease/revoke", {"ID": "77"}) in sent, "the unused lease is revoked"


def test_a_save_path_in_a_missing_directory_is_refused_before_connecting(gateway, tmp_path):
    # Found when a level 3 failed after its database phase: the save failed only after the plan, at the apply.
    with pytest.raises(RollbackError, match="save_current_to: directory .*/nowhere does not exist"):
        etcd.restore(Module(prefix="/app/", backup=backup(tmp_path, {"/app/a": "1"}),
                            save_current_to=str(tmp_path / "nowhere" / "saved.json")))
    assert gateway.clients == [] and gateway.txns == []
