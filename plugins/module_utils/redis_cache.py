# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis cache invalidation after a database restore (runbook 000 step 3.2).

Three deliberate scopes: one database (FLUSHDB, the default), the keys matching glob patterns in one
database (SCAN + UNLINK in batches, never KEYS), or every database of the server (FLUSHALL, only when
asked by name). A flush runs in MULTI/EXEC with a DBSIZE (or INFO keyspace) before it, so the count of
keys removed is the count the flush really removed. Everything is validated and the server is reached
(login, database selected) before the first key goes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, one_line

try:
    import redis
    from redis import exceptions as redis_errors
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError:
    REDIS_IMPORT_ERROR = traceback.format_exc()
else:
    REDIS_IMPORT_ERROR = None

REDIS_CONNECTION_SPEC = dict(
    host=dict(type="str", default="localhost"),
    port=dict(type="int", default=6379),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    tls=dict(type="bool", default=False),
    validate_certs=dict(type="bool", default=True),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    connect_timeout=dict(type="float", default=5.0),
    timeout=dict(type="float", default=60.0),
)

CACHE_INVALIDATE_SPEC = dict(
    mode=dict(type="str", default="flushdb", choices=["flushdb", "patterns", "flushall"]),
    db=dict(type="int", default=0),
    patterns=dict(type="list", elements="str", default=[]),
    asynchronous=dict(type="bool", default=True),
    batch_size=dict(type="int", default=1000),
)

DB_OUT_OF_RANGE = "DB index is out of range"


def validate(params):
    """Refuse inconsistent options before anything connects; return the patterns to use, duplicates dropped."""
    if not 1 <= params["port"] <= 65535:
        raise RollbackError("port must be between 1 and 65535, got %d" % params["port"])
    if params["db"] < 0:
        raise RollbackError("db must be 0 or more, got %d" % params["db"])
    if params["batch_size"] < 1:
        raise RollbackError("batch_size must be 1 or more, got %d" % params["batch_size"])
    for name in ("connect_timeout", "timeout"):
        if params[name] <= 0:
            raise RollbackError("%s must be more than 0 seconds, got %s" % (name, params[name]))
    if params.get("username") and not params.get("password"):
        raise RollbackError("username %s needs password" % params["username"])
    if bool(params.get("client_cert")) != bool(params.get("client_key")):
        raise RollbackError("client_cert and client_key must be given together")
    tls_files = [name for name in ("ca_cert", "client_cert", "client_key") if params.get(name)]
    if tls_files and not params["tls"]:
        raise RollbackError("%s given without tls=true" % ", ".join(tls_files))
    return check_patterns(params["mode"], params["patterns"], params["db"])


def check_patterns(mode, patterns, db):
    """The patterns of mode patterns, in order and without duplicates; any pattern elsewhere is an error."""
    if mode != "patterns":
        if patterns:
            raise RollbackError("patterns are only used with mode=patterns (mode is %s)" % mode)
        return []
    if not patterns:
        raise RollbackError("mode=patterns needs at least one pattern in patterns (mode=flushdb empties the "
                            "whole db %d)" % db)
    unique = []
    for pattern in patterns:
        if not pattern:
            raise RollbackError("patterns must not contain an empty pattern")
        if matches_everything(pattern):
            raise RollbackError("pattern %r matches every key of db %d: use mode=flushdb to empty the db "
                                "(one atomic command instead of a scan)" % (pattern, db))
        if pattern not in unique:
            unique.append(pattern)
    return unique


def matches_everything(pattern):
    """True for a glob made of ``*`` only (``*``, ``**``): it would delete the whole database key by key."""
    return set(pattern) == {"*"}


def batched(items, size):
    """Lists of at most ``size`` consecutive items (the last may be shorter), lazily."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def db_name(db):
    return "db%d" % db


def parse_keyspace(info):
    """``{"db3": 12}`` from the parsed INFO keyspace section (redis-py gives ``{"db3": {"keys": 12, ...}}``)."""
    counts = {}
    for name, value in (info or {}).items():
        if str(name).startswith("db"):
            counts[str(name)] = int(value["keys"]) if isinstance(value, dict) else int(value)
    return counts


def connection_error(error, params):
    """One line for a failed connect, login or SELECT; never the password."""
    where = "redis %s:%d" % (params["host"], params["port"])
    text = one_line(str(error)) or type(error).__name__
    if DB_OUT_OF_RANGE in text:
        return ("db %d does not exist on %s (%s: the server's 'databases' setting, 16 by default, allows 0 to "
                "databases-1)" % (params["db"], where, DB_OUT_OF_RANGE))
    if isinstance(error, redis_errors.AuthenticationError) or "NOAUTH" in text or "WRONGPASS" in text:
        if not params.get("password"):
            return "%s requires authentication: give password (and username for an ACL user)" % where
        return "cannot log in to %s as user %s: %s" % (where, params.get("username") or "default", text)
    if "without any password configured" in text:
        return "cannot log in to %s: a password was given but the server has none configured" % where
    if isinstance(error, redis_errors.TimeoutError):
        return "cannot connect to %s: timed out (connect_timeout %ss, timeout %ss)" % (
            where, params["connect_timeout"], params["timeout"])
    hint = ""
    if params["tls"] and not params.get("client_cert"):
        hint = " (with tls: check ca_cert, and whether the server requires client_cert and client_key)"
    elif not params["tls"] and "reset by peer" in text:
        hint = " (a TLS port? set tls=true)"
    return "cannot connect to %s: %s%s" % (where, text, hint)


class RedisCache:
    """One authenticated connection to one database of a Redis server."""

    def __init__(self, params):
        self.params = params
        self.db = params["db"]
        self.where = "redis %s:%d db %d" % (params["host"], params["port"], self.db)
        tls = {}
        if params["tls"]:
            tls = dict(ssl=True, ssl_ca_certs=params.get("ca_cert"), ssl_certfile=params.get("client_cert"),
                       ssl_keyfile=params.get("client_key"),
                       ssl_cert_reqs="required" if params["validate_certs"] else "none",
                       ssl_check_hostname=params["validate_certs"])
        self.client = redis.Redis(host=params["host"], port=params["port"], db=self.db,
                                  username=params.get("username"), password=params.get("password"),
                                  socket_connect_timeout=params["connect_timeout"], socket_timeout=params["timeout"],
                                  retry=Retry(NoBackoff(), 0), **tls)  # a failure is reported, re-running is safe
        try:
            self.client.ping()
        except redis_errors.RedisError as error:
            raise RollbackError(connection_error(error, params))

    def call(self, command, func, *args, **kwargs):
        """Run one client call; a Redis error becomes one line naming ``command`` and the server."""
        try:
            return func(*args, **kwargs)
        except redis_errors.NoPermissionError as error:
            raise RollbackError("%s refused on %s for user %s: %s" % (
                command, self.where, self.params.get("username") or "default", _reason(error)))
        except redis_errors.TimeoutError:
            raise RollbackError("%s on %s timed out after %ss (timeout); it may still complete on the server" % (
                command, self.where, self.params["timeout"]))
        except redis_errors.RedisError as error:
            raise RollbackError("%s failed on %s: %s" % (command, self.where, _reason(error)))

    def version(self):
        """The server's version, or None when the user may not run INFO."""
        try:
            return self.client.info("server").get("redis_version")
        except redis_errors.RedisError:
            return None

    def dbsize(self):
        return self.call("DBSIZE", self.client.dbsize)

    def keyspace(self):
        return parse_keyspace(self.call("INFO keyspace", self.client.info, "keyspace"))

    def flushdb(self, asynchronous):
        """Empty this database; the key count it held right before (same transaction)."""
        command = "FLUSHDB ASYNC" if asynchronous else "FLUSHDB"
        pipe = self.client.pipeline(transaction=True)
        pipe.dbsize()
        pipe.flushdb(asynchronous=asynchronous)
        return self.call(command, pipe.execute)[0], command

    def flushall(self, asynchronous):
        """Empty every database; the key counts they held right before (same transaction)."""
        command = "FLUSHALL ASYNC" if asynchronous else "FLUSHALL"
        pipe = self.client.pipeline(transaction=True)
        pipe.info("keyspace")
        pipe.flushall(asynchronous=asynchronous)
        return parse_keyspace(self.call(command, pipe.execute)[0]), command

    def scan(self, pattern, count):
        """Keys matching ``pattern``, one SCAN page at a time (SCAN MATCH ... COUNT ..., never KEYS)."""
        cursor = 0
        while True:
            cursor, keys = self.call("SCAN MATCH %s" % pattern, self.client.scan, cursor, match=pattern, count=count)
            yield from keys
            if int(cursor) == 0:
                return

    def delete(self, keys, asynchronous):
        """UNLINK (or DEL) ``keys``; the number the server removed."""
        if asynchronous:
            return self.call("UNLINK", self.client.unlink, *keys)
        return self.call("DEL", self.client.delete, *keys)


def _reason(error):
    text = one_line(str(error)) or type(error).__name__
    return text.split(" of pipeline caused error: ", 1)[-1]


def count_patterns(cache, patterns, batch_size):
    """Check mode: per pattern, the keys it would delete that no earlier pattern deletes."""
    seen = set()
    counts = []
    for pattern in patterns:
        fresh = set(cache.scan(pattern, batch_size)) - seen
        seen.update(fresh)
        counts.append(dict(pattern=pattern, keys=len(fresh)))
    return counts


def delete_patterns(cache, patterns, batch_size, asynchronous):
    """Delete the keys matching each pattern in batches; (per-pattern counts, commands executed).

    A failure part-way names what was already deleted (in the error's ``pattern_counts`` and ``keys_deleted``).
    """
    verb = "UNLINK" if asynchronous else "DEL"
    counts, executed = [], []
    for pattern in patterns:
        counts.append(dict(pattern=pattern, keys=0))
        calls = 0
        try:
            for batch in batched(cache.scan(pattern, batch_size), batch_size):
                counts[-1]["keys"] += cache.delete(batch, asynchronous)
                calls += 1
        except RollbackError as error:
            error.details.update(pattern_counts=counts, keys_deleted=sum(item["keys"] for item in counts))
            raise
        if calls:
            executed.append("%s <%d key(s) matching %s> (%d call(s) of at most %d keys)" % (
                verb, counts[-1]["keys"], pattern, calls, batch_size))
    return counts, executed


def _flushall(module, cache, asynchronous):
    """Every database: (keyspace before, keyspace after, keys deleted, commands)."""
    before, commands = cache.keyspace(), []
    if sum(before.values()) and not module.check_mode:
        before, command = cache.flushall(asynchronous)
        commands.append(command)
    after = {} if module.check_mode else cache.keyspace()
    after = dict((name, after.get(name, 0)) for name in set(before) | set(after))
    return before, after, sum(before.values()), commands


def _flushdb(module, cache, asynchronous):
    """One database: (keys before, keys deleted, commands)."""
    keys = cache.dbsize()
    if not keys or module.check_mode:
        return keys, keys, []
    keys, command = cache.flushdb(asynchronous)
    return keys, keys, [command]


def invalidate(module):
    """The cache_invalidate flow: validate, connect, count, delete (not in check mode), count again."""
    params = module.params
    mode, asynchronous = params["mode"], params["asynchronous"]
    patterns = validate(params)
    cache = RedisCache(params)
    result = dict(mode=mode, db=None if mode == "flushall" else cache.db, redis_version=cache.version())
    if mode == "flushall":
        before, after, deleted, result["executed_commands"] = _flushall(module, cache, asynchronous)
    else:
        name = db_name(cache.db)
        if mode == "flushdb":
            keys, deleted, result["executed_commands"] = _flushdb(module, cache, asynchronous)
        else:
            keys = cache.dbsize()
            if module.check_mode:
                result["pattern_counts"] = count_patterns(cache, patterns, params["batch_size"])
                result["executed_commands"] = []
            else:
                result["pattern_counts"], result["executed_commands"] = delete_patterns(
                    cache, patterns, params["batch_size"], asynchronous)
            deleted = sum(item["keys"] for item in result["pattern_counts"])
        before = {name: keys}
        after = {name: max(keys - deleted, 0) if module.check_mode else cache.dbsize()}
    result.update(keys_before=sum(before.values()), keys_deleted=deleted, keys_after=sum(after.values()),
                  keyspace_before=before, keyspace_after=after, changed=deleted > 0)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    return result
