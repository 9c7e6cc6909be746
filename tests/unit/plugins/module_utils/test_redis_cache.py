from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

import pytest
from redis import exceptions as redis_errors

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.redis_cache import (
    CACHE_INVALIDATE_SPEC,
    REDIS_CONNECTION_SPEC,
    batched,
    check_patterns,
    connection_error,
    count_patterns,
    delete_patterns,
    matches_everything,
    parse_keyspace,
    validate,
)


def params(**given):
    """The module's params: every spec default, then ``given``."""
    values = dict((name, spec.get("default")) for name, spec in dict(REDIS_CONNECTION_SPEC,
                                                                     **CACHE_INVALIDATE_SPEC).items())
    values.update(given)
    return values


def test_defaults_are_one_database_asynchronously():
    assert validate(params()) == []
    assert params()["mode"] == "flushdb" and params()["db"] == 0 and params()["asynchronous"] is True


def test_password_is_no_log_and_client_key_is_a_path():
    assert REDIS_CONNECTION_SPEC["password"]["no_log"] is True
    assert REDIS_CONNECTION_SPEC["client_key"] == dict(type="path", no_log=False)


@pytest.mark.parametrize("given,message", [
    (dict(db=-1), "db must be 0 or more, got -1"),
    (dict(port=0), "port must be between 1 and 65535, got 0"),
    (dict(port=70000), "port must be between 1 and 65535, got 70000"),
    (dict(batch_size=0), "batch_size must be 1 or more, got 0"),
    (dict(timeout=0.0), "timeout must be more than 0 seconds"),
    (dict(connect_timeout=-1.0), "connect_timeout must be more than 0 seconds"),
    (dict(username="ops"), "username ops needs password"),
    (dict(tls=True, client_cert="/c.pem"), "client_cert and client_key must be given together"),
    (dict(ca_cert="/ca.pem"), "ca_cert given without tls=true"),
    (dict(client_cert="/c.pem", client_key="/k.pem"), "client_cert, client_key given without tls=true"),
    (dict(mode="patterns"), "mode=patterns needs at least one pattern in patterns (mode=flushdb empties the "
                            "whole db 0)"),
    (dict(mode="patterns", patterns=["a:*", ""]), "patterns must not contain an empty pattern"),
    (dict(mode="patterns", patterns=["a:*", "*"], db=3), "pattern '*' matches every key of db 3: use mode=flushdb"),
    (dict(mode="patterns", patterns=["**"]), "pattern '**' matches every key of db 0"),
    (dict(patterns=["a:*"]), "patterns are only used with mode=patterns (mode is flushdb)"),
    (dict(mode="flushall", patterns=["a:*"]), "patterns are only used with mode=patterns (mode is flushall)"),
])
def test_bad_options_are_refused_with_one_line(given, message):
    with pytest.raises(RollbackError) as raised:
        validate(params(**given))
    assert message in raised.value.msg and "\n" not in raised.value.msg


def test_tls_files_with_tls_are_accepted():
    assert validate(params(tls=True, ca_cert="/ca.pem", client_cert="/c.pem", client_key="/k.pem")) == []


def test_patterns_keep_their_order_without_duplicates():
    assert check_patterns("patterns", ["b:*", "a:*", "b:*", "a:1"], 0) == ["b:*", "a:*", "a:1"]


@pytest.mark.parametrize("pattern,everything", [
    ("*", True), ("***", True), ("*:*", False), ("?*", False), ("\\*", False), ("a*", False), ("[*]", False),
])
def test_only_a_pattern_of_stars_matches_everything(pattern, everything):
    assert matches_everything(pattern) is everything


@pytest.mark.parametrize("count,size,sizes", [
    (0, 3, []), (1, 3, [1]), (3, 3, [3]), (7, 3, [3, 3, 1]), (5, 1, [1, 1, 1, 1, 1]),
])
def test_batches_are_at_most_size_and_keep_every_item_in_order(count, size, sizes):
    batches = list(batched(iter(range(count)), size))
    assert [len(batch) for batch in batches] == sizes
    assert [item for batch in batches for item in batch] == list(range(count))


def test_batches_are_lazy():
    def endless():
        number = 0
        while True:
            yield number
            number += 1

    first = next(batched(endless(), 4))
    assert first == [0, 1, 2, 3]


def test_keyspace_counts_per_database():
    info = {"db0": {"keys": 3, "expires": 0, "avg_ttl": 0}, "db12": {"keys": 40, "expires": 2, "avg_ttl": 9}}
    assert parse_keyspace(info) == {"db0": 3, "db12": 40}
    assert parse_keyspace({}) == {} and parse_keyspace(None) == {}


@pytest.mark.parametrize("error,given,message", [
    (redis_errors.AuthenticationError("invalid username-password pair or user is disabled."), dict(password="x"),
     "cannot log in to redis cache:6379 as user default: invalid username-password pair"),
    (redis_errors.AuthenticationError("invalid username-password pair"), dict(username="ops", password="x"),
     "as user ops:"),
    (redis_errors.AuthenticationError("HELLO must be called with the client already authenticated"), dict(),
     "redis cache:6379 requires authentication: give password (and username for an ACL user)"),
    (redis_errors.ResponseError("NOAUTH Authentication required."), dict(),
     "requires authentication: give password"),
    (redis_errors.ResponseError("DB index is out of range"), dict(db=99, password="x"),
     "db 99 does not exist on redis cache:6379 (DB index is out of range"),
    (redis_errors.ResponseError("AUTH <password> called without any password configured for the default user."),
     dict(password="x"), "a password was given but the server has none configured"),
    (redis_errors.TimeoutError("Timeout connecting to server"), dict(),
     "cannot connect to redis cache:6379: timed out (connect_timeout 5.0s, timeout 60.0s)"),
    (redis_errors.ConnectionError("Error 111 connecting to cache:6379. Connection refused."), dict(),
     "cannot connect to redis cache:6379: Error 111 connecting to cache:6379. Connection refused."),
    (redis_errors.ConnectionError("Error while reading from cache:6380 : (104, 'Connection reset by peer')"), dict(),
     "(a TLS port? set tls=true)"),
    (redis_errors.ConnectionError("tlsv13 alert certificate required"), dict(tls=True),
     "whether the server requires client_cert and client_key"),
])
def test_connection_errors_are_one_line_naming_the_problem(error, given, message):
    text = connection_error(error, params(host="cache", **given))
    assert message in text and "\n" not in text


def test_connection_errors_never_show_the_password():
    secret = "s3cr3t-pw"
    for error in (redis_errors.AuthenticationError("invalid username-password pair"),
                  redis_errors.ConnectionError("refused"), redis_errors.ResponseError("DB index is out of range")):
        assert secret not in connection_error(error, params(host="cache", password=secret))


class FakeCache:
    """Keys in memory; SCAN pages of ``page`` keys; deletes recorded."""

    def __init__(self, keys, page=2, fail_on_call=None):
        self.keys = set(keys)
        self.page = page
        self.calls = []
        self.fail_on_call = fail_on_call

    def scan(self, pattern, count):
        matching = sorted(key for key in self.keys if fnmatch.fnmatchcase(key, pattern))
        for start in range(0, len(matching), self.page):
            yield from matching[start:start + self.page]

    def delete(self, keys, asynchronous):
        self.calls.append((list(keys), asynchronous))
        if self.fail_on_call == len(self.calls):
            raise RollbackError("UNLINK failed on redis fake: connection lost")
        present = [key for key in keys if key in self.keys]
        self.keys.difference_update(present)
        return len(present)


KEYS = ["user:1", "user:2", "user:3", "user:4", "user:5", "order:1", "order:2", "config"]


def test_delete_in_batches_of_at_most_batch_size_per_pattern():
    cache = FakeCache(KEYS)
    counts, executed = delete_patterns(cache, ["user:*", "order:*"], 2, True)
    assert counts == [dict(pattern="user:*", keys=5), dict(pattern="order:*", keys=2)]
    assert [len(keys) for keys, _async in cache.calls] == [2, 2, 1, 2]
    assert all(asynchronous for _keys, asynchronous in cache.calls)
    assert cache.keys == {"config"}
    assert executed == ["UNLINK <5 key(s) matching user:*> (3 call(s) of at most 2 keys)",
                        "UNLINK <2 key(s) matching order:*> (1 call(s) of at most 2 keys)"]


def test_synchronous_uses_del_and_no_match_sends_nothing():
    cache = FakeCache(KEYS)
    counts, executed = delete_patterns(cache, ["session:*", "config"], 100, False)
    assert counts == [dict(pattern="session:*", keys=0), dict(pattern="config", keys=1)]
    assert executed == ["DEL <1 key(s) matching config> (1 call(s) of at most 100 keys)"]
    assert cache.calls == [(["config"], False)]


def test_a_failure_part_way_names_what_was_already_deleted():
    cache = FakeCache(KEYS, fail_on_call=2)
    with pytest.raises(RollbackError) as raised:
        delete_patterns(cache, ["order:*", "user:*"], 2, True)
    assert raised.value.details == dict(pattern_counts=[dict(pattern="order:*", keys=2),
                                                        dict(pattern="user:*", keys=0)], keys_deleted=2)


def test_check_mode_counts_a_key_once_for_the_first_pattern_and_deletes_nothing():
    cache = FakeCache(KEYS)
    counts = count_patterns(cache, ["user:[12]", "user:*", "nothing:*"], 2)
    assert counts == [dict(pattern="user:[12]", keys=2), dict(pattern="user:*", keys=3),
                      dict(pattern="nothing:*", keys=0)]
    assert cache.calls == [] and cache.keys == set(KEYS)
