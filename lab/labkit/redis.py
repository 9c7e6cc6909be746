"""Redis 7 from Debian: a password on the plain port, mutual TLS on a second port, a least-privilege ACL user.

No persistence: the lab's Redis is a cache, its keys are seeded by the tests that need them.
The TLS port needs a client certificate signed by the lab's own CA (made with openssl on first start).
"""

import os
import socket

from labkit.common import ensure_port_free, read_pid, require_binary, run, spawn, stop_pid, wait_for

NAME = "redis"
PORT = 56379
TLS_PORT = 56380
PASSWORD = "lab-redis-secret"
# An ACL user that may invalidate one database but not flush the whole server (see docs/least-privilege.md).
INVALIDATOR_USER = "invalidator"
INVALIDATOR_PASSWORD = "lab-redis-invalidator-secret"
INVALIDATOR_ACL = "~* -@all +ping +hello +auth +select +dbsize +info +scan +unlink +del +flushdb " \
                  "+multi +exec +discard"

CONFIG = """\
bind 127.0.0.1
port {port}
protected-mode yes
daemonize no
dir {dir}
dbfilename lab.rdb
save ""
appendonly no
databases 16
requirepass {password}
user {user} on >{user_password} {acl}
tls-port {tls_port}
tls-cert-file {tls}/server.crt
tls-key-file {tls}/server.key
tls-ca-cert-file {tls}/ca.crt
tls-auth-clients yes
"""


def facts(lab):
    tls = lab.path("redis", "tls")
    return {
        "LAB_REDIS_HOST": "127.0.0.1",
        "LAB_REDIS_PORT": PORT,
        "LAB_REDIS_PASSWORD": PASSWORD,
        "LAB_REDIS_URL": "redis://127.0.0.1:%d/0" % PORT,
        "LAB_REDIS_INVALIDATOR_USER": INVALIDATOR_USER,
        "LAB_REDIS_INVALIDATOR_PASSWORD": INVALIDATOR_PASSWORD,
        "LAB_REDIS_TLS_PORT": TLS_PORT,
        "LAB_REDIS_CA_CERT": os.path.join(tls, "ca.crt"),
        "LAB_REDIS_CLIENT_CERT": os.path.join(tls, "client.crt"),
        "LAB_REDIS_CLIENT_KEY": os.path.join(tls, "client.key"),
    }


def _ping(timeout=1.0):
    """AUTH + PING over the plain port, without a client library (labctl runs on the system python)."""
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as sock:
            sock.sendall(b"AUTH %s\r\nPING\r\n" % PASSWORD.encode())
            answer = b""
            while answer.count(b"\r\n") < 2:
                chunk = sock.recv(256)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return False
    return answer == b"+OK\r\n+PONG\r\n"


def is_up(lab):
    return _ping()


def _certificates(lab):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, once."""
    tls = lab.makedirs("redis", "tls")
    if os.path.exists(os.path.join(tls, "client.crt")):
        return tls
    openssl = require_binary("openssl", "openssl")

    def path(name):
        return os.path.join(tls, name)

    run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=rollback-lab-ca",
         "-keyout", path("ca.key"), "-out", path("ca.crt")], "openssl (lab CA)")
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                            ("client", "extendedKeyUsage=clientAuth")):
        run([openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rollback-lab-%s" % name,
             "-keyout", path(name + ".key"), "-out", path(name + ".csr")], "openssl (%s key)" % name)
        extfile = path(name + ".ext")
        with open(extfile, "w") as handle:
            handle.write(extension + "\n")
        run([openssl, "x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
             "-CAcreateserial", "-days", "3650", "-extfile", extfile, "-out", path(name + ".crt")],
            "openssl (%s certificate)" % name)
    return tls


def start(lab):
    if read_pid(lab.path("redis", "redis.pid")) and is_up(lab):
        return "already running"
    binary = require_binary("redis-server", "redis-server")
    ensure_port_free(PORT, NAME)
    ensure_port_free(TLS_PORT, NAME + " tls")
    directory = lab.makedirs("redis")
    tls = _certificates(lab)
    config = lab.path("redis", "redis.conf")
    with open(config, "w") as handle:
        handle.write(CONFIG.format(port=PORT, dir=directory, password=PASSWORD, user=INVALIDATOR_USER,
                                   user_password=INVALIDATOR_PASSWORD, acl=INVALIDATOR_ACL, tls_port=TLS_PORT,
                                   tls=tls))
    os.chmod(config, 0o600)
    log = lab.path("redis", "redis.log")
    spawn([binary, config], lab.path("redis", "redis.pid"), log)
    wait_for(lambda: is_up(lab), NAME, log)
    return "started"


def stop(lab):
    return "stopped" if stop_pid(lab.path("redis", "redis.pid")) else "not running"


def status(lab):
    return is_up(lab), "redis://127.0.0.1:%d (tls %d)" % (PORT, TLS_PORT)
