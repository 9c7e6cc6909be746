"""rollback.core.cache_invalidate against the lab's real Redis (Debian's redis-server, password, ACL user, TLS).

Databases 11 and 12 of the lab Redis are this test's own. FLUSHALL runs against a private redis-server started
by the test, never against the shared lab one.
"""

import subprocess
import time

import pytest
import redis
from support.http_servers import free_port

DB, OTHER_DB = 11, 12
WRONG_PASSWORD = "wrong-redis-password-4e1d"


def client(lab, db, port=None, password=None):
    return redis.Redis(host=lab["LAB_REDIS_HOST"], port=port or int(lab["LAB_REDIS_PORT"]), db=db,
                       password=password or lab["LAB_REDIS_PASSWORD"])


def seed(connection, keys):
    connection.flushdb()
    with connection.pipeline() as pipe:
        for key in keys:
            pipe.set(key, "cached")
        pipe.execute()


def keys_of(connection):
    return sorted(connection.scan_iter(count=1000))


def cache_keys(lab):
    """The keys of both databases, as text (the state module_batch.py records after each call)."""
    return [[key.decode("utf-8", "backslashreplace") for key in keys_of(client(lab, db))] for db in (DB, OTHER_DB)]


CACHE_KEYS = (["user:%d" % number for number in range(250)] + ["order:1", "order:2", "order:3", b"user:\xff",
                                                               "config:flags", "session:abc"])
OTHER_KEYS = ["user:1", "user:2", "other:1"]


@pytest.fixture
def cache(lab):
    """db 11 with CACHE_KEYS and db 12 with OTHER_KEYS; both emptied afterwards."""
    main, other = client(lab, DB), client(lab, OTHER_DB)
    seed(main, CACHE_KEYS)
    seed(other, OTHER_KEYS)
    yield main, other
    main.flushdb()
    other.flushdb()


def args(lab, **extra):
    return dict(dict(host=lab["LAB_REDIS_HOST"], port=int(lab["LAB_REDIS_PORT"]),
                     password=lab["LAB_REDIS_PASSWORD"], db=DB), **extra)


def test_flushdb_empties_that_db_only_and_a_second_run_is_unchanged(ansible_module, lab, cache):
    main, other = cache
    other_before = keys_of(other)
    run = ansible_module("cache_invalidate", args(lab), diff=True)
    assert not run.failed and run.result["changed"], run.stdout
    assert run.result["keys_before"] == len(CACHE_KEYS) == run.result["keys_deleted"]
    assert run.result["keys_after"] == 0 and main.dbsize() == 0
    assert run.result["executed_commands"] == ["FLUSHDB ASYNC"] and run.result["mode"] == "flushdb"
    assert run.result["keyspace_before"] == {"db11": len(CACHE_KEYS)} and run.result["keyspace_after"] == {"db11": 0}
    assert run.result["redis_version"].startswith("7.")
    assert '-    "db11": %d' % len(CACHE_KEYS) in run.stdout and '+    "db11": 0' in run.stdout, "--diff shows counts"
    assert keys_of(other) == other_before, "another db's keys stay"

    again = ansible_module("cache_invalidate", args(lab))
    assert not again.failed and not again.result["changed"], again.stdout
    assert again.result["keys_deleted"] == 0 and again.result["executed_commands"] == []


def test_flushdb_synchronous(ansible_module, lab, cache):
    main, other = cache
    run = ansible_module("cache_invalidate", args(lab, asynchronous=False))
    assert run.result["changed"] and run.result["executed_commands"] == ["FLUSHDB"], run.stdout
    assert main.dbsize() == 0 and other.dbsize() == len(OTHER_KEYS)


def test_check_mode_counts_and_deletes_nothing(ansible_module, lab, cache):
    main, other = cache
    before = keys_of(main)
    flush = ansible_module("cache_invalidate", args(lab), check=True, diff=True)
    assert flush.result["changed"] and flush.result["keys_deleted"] == len(CACHE_KEYS), flush.stdout
    assert flush.result["keys_after"] == 0 and flush.result["executed_commands"] == []
    patterns = ansible_module("cache_invalidate", args(lab, mode="patterns", patterns=["order:*", "user:1*"]),
                              check=True)
    assert patterns.result["changed"], patterns.stdout
    assert patterns.result["pattern_counts"] == [dict(pattern="order:*", keys=3), dict(pattern="user:1*", keys=111)]
    assert patterns.result["keys_after"] == len(CACHE_KEYS) - 114
    assert keys_of(main) == before and other.dbsize() == len(OTHER_KEYS)


def test_patterns_remove_only_matching_keys_in_batches(ansible_module, lab, cache):
    main, other = cache
    run = ansible_module("cache_invalidate", args(lab, mode="patterns", patterns=["user:*", "order:[12]"],
                                                  batch_size=100), diff=True)
    assert not run.failed and run.result["changed"], run.stdout
    assert run.result["pattern_counts"] == [dict(pattern="user:*", keys=251), dict(pattern="order:[12]", keys=2)]
    assert run.result["keys_deleted"] == 253 and run.result["keys_after"] == len(CACHE_KEYS) - 253
    assert keys_of(main) == [b"config:flags", b"order:3", b"session:abc"]
    assert keys_of(other) == sorted(key.encode() for key in OTHER_KEYS)
    (unlink_users, unlink_orders) = run.result["executed_commands"]
    assert unlink_users.startswith("UNLINK <251 key(s) matching user:*> (") and "of at most 100 keys" in unlink_users
    assert unlink_orders == "UNLINK <2 key(s) matching order:[12]> (1 call(s) of at most 100 keys)"
    assert "user:17" not in run.stdout, "key names are not listed"

    again = ansible_module("cache_invalidate", args(lab, mode="patterns", patterns=["user:*", "order:[12]"]))
    assert not again.failed and not again.result["changed"], again.stdout
    assert again.result["executed_commands"] == [] and keys_of(main) == [b"config:flags", b"order:3", b"session:abc"]


def test_patterns_synchronous_uses_del(ansible_module, lab, cache):
    main, _other = cache
    run = ansible_module("cache_invalidate", args(lab, mode="patterns", patterns=["session:*"], asynchronous=False))
    assert run.result["executed_commands"] == ["DEL <1 key(s) matching session:*> (1 call(s) of at most 1000 keys)"]
    assert main.exists("session:abc") == 0 and main.dbsize() == len(CACHE_KEYS) - 1


BAD = [
    (dict(password=WRONG_PASSWORD), "cannot log in to redis 127.0.0.1:56379 as user default: invalid "
                                    "username-password pair"),
    (dict(password=None), "redis 127.0.0.1:56379 requires authentication: give password"),
    (dict(db=99), "db 99 does not exist on redis 127.0.0.1:56379 (DB index is out of range"),
    (dict(db=-1), "db must be 0 or more, got -1"),
    (dict(mode="patterns"), "mode=patterns needs at least one pattern in patterns"),
    (dict(mode="patterns", patterns=["user:*", "*"]), "pattern '*' matches every key of db 11: use mode=flushdb"),
    (dict(patterns=["user:*"]), "patterns are only used with mode=patterns (mode is flushdb)"),
    (dict(mode="patterns", patterns=["user:*", ""]), "patterns must not contain an empty pattern"),
    (dict(username="nobody"), "cannot log in to redis 127.0.0.1:56379 as user nobody"),
    (dict(ca_cert="/etc/ssl/certs/ca-certificates.crt"), "ca_cert given without tls=true"),
    (dict(mode="everything"), "value of mode must be one of: flushdb, patterns, flushall"),
]


def test_bad_input_is_refused_with_one_line_and_nothing_deleted(module_batch, lab, cache):
    before = cache_keys(lab)
    assert before[0] and before[1]
    calls = []
    for extra, _message in BAD:
        given = args(lab, **extra)
        if given["password"] is None:
            del given["password"]
        calls.append(("cache_invalidate", given))
    runs = module_batch(calls, state=cache_keys)  # one playbook, a task per case (module_batch.py)
    for (extra, message), run in zip(BAD, runs):
        assert run.failed and message in run.result.get("msg", ""), (extra, run.stdout)
        assert "\n" not in run.result["msg"]
        assert run.state == before, extra


def test_unreachable_server_is_one_line(ansible_module, lab, cache):
    port = free_port()
    run = ansible_module("cache_invalidate", args(lab, port=port, connect_timeout=2))
    assert run.failed and run.result["msg"].startswith("cannot connect to redis 127.0.0.1:%d: " % port), run.stdout
    assert "Connection refused" in run.result["msg"]
    assert cache[0].dbsize() == len(CACHE_KEYS)


def test_acl_user_may_flush_its_db_but_not_the_server(ansible_module, lab, cache):
    main, other = cache
    user = dict(username=lab["LAB_REDIS_INVALIDATOR_USER"], password=lab["LAB_REDIS_INVALIDATOR_PASSWORD"])
    refused = ansible_module("cache_invalidate", args(lab, mode="flushall", **user))
    assert refused.failed, refused.stdout
    assert refused.result["msg"].startswith("FLUSHALL ASYNC refused on redis 127.0.0.1:56379 db 11 for user "
                                            "invalidator: this user has no permissions to run the 'flushall'")
    assert main.dbsize() == len(CACHE_KEYS) and other.dbsize() == len(OTHER_KEYS)
    allowed = ansible_module("cache_invalidate", args(lab, mode="patterns", patterns=["order:*"], **user))
    assert allowed.result["changed"] and allowed.result["keys_deleted"] == 3, allowed.stdout
    flushed = ansible_module("cache_invalidate", args(lab, **user))
    assert flushed.result["changed"] and main.dbsize() == 0 and other.dbsize() == len(OTHER_KEYS)


def test_mutual_tls(ansible_module, lab, cache):
    main, _other = cache
    tls = dict(port=int(lab["LAB_REDIS_TLS_PORT"]), tls=True, ca_cert=lab["LAB_REDIS_CA_CERT"])
    refused = ansible_module("cache_invalidate", args(lab, **tls))
    assert refused.failed and "requires client_cert and client_key" in refused.result["msg"], refused.stdout
    untrusted = ansible_module("cache_invalidate", args(lab, port=int(lab["LAB_REDIS_TLS_PORT"]), tls=True,
                                                        client_cert=lab["LAB_REDIS_CLIENT_CERT"],
                                                        client_key=lab["LAB_REDIS_CLIENT_KEY"]))
    assert untrusted.failed and "CERTIFICATE_VERIFY_FAILED" in untrusted.result["msg"], untrusted.stdout
    plain = ansible_module("cache_invalidate", args(lab, port=int(lab["LAB_REDIS_TLS_PORT"])))
    assert plain.failed and "set tls=true" in plain.result["msg"], plain.stdout
    assert main.dbsize() == len(CACHE_KEYS)
    run = ansible_module("cache_invalidate", args(lab, client_cert=lab["LAB_REDIS_CLIENT_CERT"],
                                                  client_key=lab["LAB_REDIS_CLIENT_KEY"], **tls))
    assert not run.failed and run.result["keys_deleted"] == len(CACHE_KEYS), run.stdout
    assert main.dbsize() == 0


def test_password_never_shown_at_vvv(ansible_module, lab, cache):
    secrets = [lab["LAB_REDIS_PASSWORD"], WRONG_PASSWORD, lab["LAB_REDIS_INVALIDATOR_PASSWORD"]]
    runs = [
        ansible_module("cache_invalidate", args(lab, mode="patterns", patterns=["order:*"]), verbosity=3, diff=True),
        ansible_module("cache_invalidate", args(lab, password=WRONG_PASSWORD), verbosity=3),
        ansible_module("cache_invalidate", args(lab, mode="flushall", username=lab["LAB_REDIS_INVALIDATOR_USER"],
                                                password=lab["LAB_REDIS_INVALIDATOR_PASSWORD"]), verbosity=3),
        ansible_module("cache_invalidate", args(lab), verbosity=3, check=True),
    ]
    assert [run.failed for run in runs] == [False, True, True, False]
    for run in runs:
        assert [secret for secret in secrets if secret in run.stdout + run.stderr] == []


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own (FLUSHALL empties a whole server; the lab's is shared)."""
    port = free_port()
    config = tmp_path / "redis.conf"
    config.write_text("bind 127.0.0.1\nport %d\ndir %s\nsave \"\"\nappendonly no\nrequirepass private-secret\n"
                      % (port, tmp_path))
    process = subprocess.Popen(["/usr/bin/redis-server", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    connection = redis.Redis(host="127.0.0.1", port=port, password="private-secret")
    deadline = time.monotonic() + 20
    while True:
        try:
            connection.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=20)


def test_flushall_empties_every_db_only_when_asked(ansible_module, private_redis):
    port = private_redis
    databases = {0: ["a", "b"], 3: ["c"], 15: ["d", "e", "f"]}
    for db, keys in databases.items():
        seed(redis.Redis(host="127.0.0.1", port=port, db=db, password="private-secret"), keys)
    given = dict(host="127.0.0.1", port=port, password="private-secret", mode="flushall")
    expected = {"db0": 2, "db3": 1, "db15": 3}

    check = ansible_module("cache_invalidate", given, check=True)
    assert check.result["changed"] and check.result["keys_deleted"] == 6, check.stdout
    assert check.result["keyspace_before"] == expected and check.result["executed_commands"] == []
    flushdb = ansible_module("cache_invalidate", dict(given, mode="flushdb", db=3))
    assert flushdb.result["keys_deleted"] == 1, "flushdb empties one db, never all"
    expected.pop("db3")
    assert redis.Redis(host="127.0.0.1", port=port, db=15, password="private-secret").dbsize() == 3

    run = ansible_module("cache_invalidate", given, diff=True)
    assert not run.failed and run.result["changed"], run.stdout
    assert run.result["keyspace_before"] == expected and run.result["keys_deleted"] == 5
    assert run.result["keyspace_after"] == {"db0": 0, "db15": 0} and run.result["keys_after"] == 0
    assert run.result["executed_commands"] == ["FLUSHALL ASYNC"] and run.result["db"] is None
    for db in databases:
        assert redis.Redis(host="127.0.0.1", port=port, db=db, password="private-secret").dbsize() == 0

    again = ansible_module("cache_invalidate", given)
    assert not again.failed and not again.result["changed"] and again.result["executed_commands"] == []
