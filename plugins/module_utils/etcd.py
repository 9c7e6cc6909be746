# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""etcd v3 through its gRPC gateway (etcd3gw): read a prefix, apply a guarded diff.

A restore is one transaction (or, when asked, several) guarded by one range
compare on mod_revision: every key under the prefix still has a mod_revision
no newer than the revision the plan was read at. Any concurrent put under the
prefix (a changed or a new key) fails the transaction with nothing applied. A
concurrent delete of a key is not seen by a range compare; the restore then
writes the backup's value anyway, which is the state the restore is for.
One compare instead of one per key halves the transaction (and keeps a large
restore within --max-txn-ops, which counts compares and operations apart).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import traceback
from urllib.parse import urlparse

from ansible_collections.rollback.core.plugins.module_utils import config_backup
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils import connection_specs

try:
    import etcd3gw
    from etcd3gw import exceptions as etcd_exceptions
except ImportError:
    ETCD_IMPORT_ERROR = traceback.format_exc()
else:
    ETCD_IMPORT_ERROR = None


ETCD_CONNECTION_SPEC = connection_specs.ETCD_CONNECTION_SPEC  # spec kept apart from the client library

ETCD_DEFAULT_MAX_TXN_OPS = 128
TOO_MANY_OPS = "too many operations in txn request"


def _b64(data):
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def _unb64(text):
    return base64.b64decode(text).decode("utf-8")


def prefix_range_end(prefix):
    """The etcd range end that covers every key starting with ``prefix`` (clientv3.GetPrefixRangeEnd): its last
    byte plus one. UTF-8 never holds the byte 0xFF, so no byte carries over; no prefix: every key (\\0)."""
    raw = prefix.encode("utf-8")
    return raw[:-1] + bytes([raw[-1] + 1]) if raw else b"\0"


def _error_text(error):
    return getattr(error, "detail_text", None) or str(error) or type(error).__name__


class EtcdStore:
    """One connected etcd endpoint (the first of ``endpoints`` that answers)."""

    def __init__(self, params):
        self.client, self.endpoint = self._connect(params)

    @staticmethod
    def _connect(params):
        if bool(params.get("client_cert")) != bool(params.get("client_key")):
            raise RollbackError("client_cert and client_key must be given together")
        failures = []
        for endpoint in params["endpoints"]:
            url = urlparse(endpoint if "://" in endpoint else "http://" + endpoint)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise RollbackError("endpoint %r is not an http(s)://host:port URL" % endpoint)
            client = etcd3gw.client(host=url.hostname, port=url.port or 2379, protocol=url.scheme,
                                    ca_cert=params.get("ca_cert"), cert_cert=params.get("client_cert"),
                                    cert_key=params.get("client_key"), timeout=params.get("timeout"))
            try:
                if params.get("user"):
                    _authenticate(client, params["user"], params.get("password") or "")
                client.status()
            except etcd_exceptions.Etcd3Exception as error:
                failures.append("%s: %s" % (endpoint, _error_text(error)))
                continue
            return client, endpoint
        raise RollbackError("no etcd endpoint answered: %s" % "; ".join(failures))

    def read_prefix(self, prefix):
        """``(revision, {key: value})`` of every key under the prefix."""
        payload = {"key": _b64(prefix), "range_end": _b64(prefix_range_end(prefix))}
        response = self._post("/kv/range", payload)
        revision = int(response["header"]["revision"])
        keys = {}
        for item in response.get("kvs", []):
            keys[_unb64(item["key"])] = _unb64(item.get("value", ""))
        return revision, keys

    def apply(self, prefix, revision, desired, added, updated, removed, max_ops):
        """Apply the plan in transactions of at most ``max_ops`` operations (None: one)."""
        operations = ([("put", key) for key in added + updated] + [("delete", key) for key in removed])
        size = len(operations) if max_ops is None else max_ops
        chunks = [operations[start:start + size] for start in range(0, len(operations), size)] or [[]]
        for chunk in chunks:
            # Each applied chunk is the only change since the last one (its compares held),
            # so the revision it created is the baseline for the next.
            revision = self._transaction(prefix, revision, desired, chunk)
        return len(chunks)

    def _transaction(self, prefix, revision, desired, operations):
        compare = [{"key": _b64(prefix), "range_end": _b64(prefix_range_end(prefix)), "target": "MOD",
                    "result": "LESS", "mod_revision": revision + 1}]
        success = []
        for action, key in operations:
            if action == "put":
                success.append({"request_put": {"key": _b64(key), "value": _b64(desired[key])}})
            else:
                success.append({"request_delete_range": {"key": _b64(key)}})
        response = self._post("/kv/txn", {"compare": compare, "success": success, "failure": []})
        if not response.get("succeeded"):
            raise RollbackError("etcd changed under %s while restoring (a concurrent writer): nothing of this "
                                "transaction was applied; re-run to restore against the new state" % prefix)
        return int(response.get("header", {}).get("revision", revision))

    def _post(self, path, payload):
        try:
            return self.client.post(self.client.get_url(path), json=payload)
        except etcd_exceptions.Etcd3Exception as error:
            text = _error_text(error)
            if TOO_MANY_OPS in text:
                raise TooManyOperations(text)
            raise RollbackError("etcd %s at %s failed: %s" % (path, self.endpoint, text))


class TooManyOperations(RollbackError):
    """The server's --max-txn-ops is lower than one transaction needs."""


def _authenticate(client, user, password):
    response = client.post(client.get_url("/auth/authenticate"), json={"name": user, "password": password})
    client.session.headers["Authorization"] = response["token"]


def restore(module):
    """The etcd_config_restore flow: read, plan, save current, apply, report."""
    params = module.params
    prefix = params["prefix"]
    if not prefix:
        raise RollbackError("prefix must not be empty: it bounds what a restore may touch")
    if params["max_txn_ops"] < 1:
        raise RollbackError("max_txn_ops must be at least 1, got %d" % params["max_txn_ops"])
    backup = params["backup"]  # given, or chosen (and fetched, decrypted) by backups.restore_newest
    fmt, desired = config_backup.load_backup_file(backup)
    outside = sorted(key for key in desired if not key.startswith(prefix))
    if outside:
        raise RollbackError("backup %s has %d key(s) outside prefix %s, e.g. %s" % (
            backup, len(outside), prefix, outside[0]))
    config_backup.check_save_dir(params["save_current_to"])
    store = EtcdStore(params)
    revision, current = store.read_prefix(prefix)
    added, updated, removed = config_backup.plan_restore(current, desired, params["prune"])
    masker = config_backup.Masker(params["mask"])
    result = dict(added=added, updated=updated, removed=removed, saved_to=None, transactions=0, backup_used=backup,
                  revision=revision, endpoint=store.endpoint, changed=bool(added or updated or removed))
    if module._diff:
        result["diff"] = config_backup.restore_diff(current, desired, added, updated, removed, masker)
    if not result["changed"] or module.check_mode:
        return result
    if params["save_current_to"]:
        result["saved_to"] = config_backup.save_backup_file(current, fmt, params["save_current_to"])
    operations = len(added) + len(updated) + len(removed)
    try:
        if params["atomic"]:
            result["transactions"] = store.apply(prefix, revision, desired, added, updated, removed, None)
        else:
            result["transactions"] = store.apply(prefix, revision, desired, added, updated, removed,
                                                 params["max_txn_ops"])
    except TooManyOperations:
        raise RollbackError(
            "restoring %d key(s) under %s needs %d operations in one transaction, more than the etcd server "
            "allows: raise --max-txn-ops (default 128) to at least %d on every member, or set atomic: false to "
            "apply in transactions of max_txn_ops (%d) operations, which is not atomic" % (
                operations, prefix, operations, operations, params["max_txn_ops"]),
            saved_to=result["saved_to"])
    if result["transactions"] > 1:
        module.warn("applied in %d transactions of at most %d operations (atomic: false): a failure part-way "
                    "leaves the earlier transactions applied; %s holds the state before"
                    % (result["transactions"], params["max_txn_ops"], result["saved_to"] or "nothing"))
    return result


class EtcdKey:
    """One key written only when absent and deleted only when it still holds our value (a lock)."""

    def __init__(self, store, key):
        self.store, self.key = store, key

    def get(self):
        response = self.store._post("/kv/range", {"key": _b64(self.key)})
        kvs = response.get("kvs") or []
        return _unb64(kvs[0].get("value", "")) if kvs else None

    def create(self, value, ttl):
        """Put ``value`` under a lease of ``ttl`` seconds if the key does not exist; (created, current value)."""
        lease = self.store._post("/lease/grant", {"TTL": int(ttl)})["ID"]
        response = self.store._post("/kv/txn", {
            "compare": [{"key": _b64(self.key), "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
            "success": [{"request_put": {"key": _b64(self.key), "value": _b64(value), "lease": lease}}],
            "failure": [{"request_range": {"key": _b64(self.key)}}],
        })
        if response.get("succeeded"):
            return True, value
        self.store._post("/kv/lease/revoke", {"ID": lease})
        kvs = response["responses"][0]["response_range"].get("kvs") or []
        return False, _unb64(kvs[0].get("value", "")) if kvs else None

    def delete_if(self, value):
        """Delete the key only while it holds ``value``; True when deleted."""
        response = self.store._post("/kv/txn", {
            "compare": [{"key": _b64(self.key), "target": "VALUE", "result": "EQUAL", "value": _b64(value)}],
            "success": [{"request_delete_range": {"key": _b64(self.key)}}],
            "failure": [],
        })
        return bool(response.get("succeeded"))
