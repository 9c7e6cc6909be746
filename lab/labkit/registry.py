"""A real image registry (Debian docker-registry, the CNCF distribution registry 2.8) with htpasswd auth.

It holds the demo releases (pushed by the docker service after it imports them), so pulls, wrong
credentials and missing tags are real answers from a real registry. It listens on loopback with TLS
(a self-signed certificate made with openssl on first start) and bcrypt htpasswd users (apache2-utils'
htpasswd): distribution's registry/auth/htpasswd package says it MUST be used under TLS.

The lab's Docker engine trusts it without any daemon flag: dockerd always treats 127.0.0.0/8 registries
as insecure (moby registry/config.go, serviceConfig.loadInsecureRegistries appends "127.0.0.0/8"), which
means it tries HTTPS without verifying the certificate (and plain HTTP after). A production registry
needs a certificate its engines trust instead.
"""

import base64
import json
import os
import ssl
import urllib.error
import urllib.request

from labkit.common import ensure_port_free, read_pid, require_binary, run, spawn, stop_pid, wait_for

NAME = "registry"
PORT = 55050
ADDRESS = "127.0.0.1:%d" % PORT
URL = "https://" + ADDRESS
USER = "rollback"
PASSWORD = "lab-registry-secret"
# The demo app's repository: the compose project, the swarm service and the Kubernetes Deployment all name it.
DEMO_IMAGE = ADDRESS + "/rollback-demo"

CONFIG = """\
# rollback.core lab registry: written by lab/labkit/registry.py on every start; do not edit.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: {address}
  secret: rollback-lab-registry-http-secret
  tls:
    certificate: {tls}/registry.crt
    key: {tls}/registry.key
auth:
  htpasswd:
    realm: rollback-lab-registry
    path: {htpasswd}
"""


def facts(lab):
    return {
        "LAB_REGISTRY": ADDRESS,
        "LAB_REGISTRY_URL": URL,
        "LAB_REGISTRY_USER": USER,
        "LAB_REGISTRY_PASSWORD": PASSWORD,
        "LAB_REGISTRY_CERT": lab.path("registry", "tls", "registry.crt"),
        "LAB_DEMO_IMAGE": DEMO_IMAGE,
    }


def _context(lab):
    cert = lab.path("registry", "tls", "registry.crt")
    return ssl.create_default_context(cafile=cert) if os.path.exists(cert) else None


def api(lab, path, user=USER, password=PASSWORD):
    """(status, JSON body) of a registry API GET, with basic auth."""
    request = urllib.request.Request(URL + path)
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, timeout=2, context=_context(lab)) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return None, None


def is_up(lab):
    return api(lab, "/v2/")[0] == 200


def tags(lab, repository):
    """Tags the registry holds for a repository given as in an image reference (host:port/name)."""
    name = repository[len(ADDRESS) + 1:] if repository.startswith(ADDRESS + "/") else repository
    status, body = api(lab, "/v2/%s/tags/list" % name)
    return sorted((body or {}).get("tags") or []) if status == 200 else []


def _certificate(lab):
    tls = lab.makedirs("registry", "tls")
    if not os.path.exists(os.path.join(tls, "registry.crt")):
        run([require_binary("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", "/CN=rollback-lab-registry", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", os.path.join(tls, "registry.key"), "-out", os.path.join(tls, "registry.crt")],
            "openssl (registry certificate)")
    return tls


def _htpasswd(lab):
    path = lab.path("registry", "htpasswd")
    line = run([require_binary("htpasswd", "apache2-utils"), "-Bbn", USER, PASSWORD], "htpasswd -B")
    with open(path, "w") as handle:
        handle.write(line.strip() + "\n")
    os.chmod(path, 0o600)
    return path


def login(config_dir):
    """What ``docker login`` stores: the lab's credentials for the registry in a Docker client config."""
    os.makedirs(config_dir, exist_ok=True)
    path = os.path.join(config_dir, "config.json")
    config = {}
    if os.path.exists(path):
        with open(path) as handle:
            config = json.load(handle)
    auth = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    if config.get("auths", {}).get(ADDRESS, {}).get("auth") != auth:
        config.setdefault("auths", {})[ADDRESS] = {"auth": auth}
        with open(path + ".tmp", "w") as handle:
            json.dump(config, handle, indent=2)
        os.chmod(path + ".tmp", 0o600)
        os.replace(path + ".tmp", path)


def start(lab):
    if read_pid(lab.path("registry", "registry.pid")) and is_up(lab):
        return "already running"
    binary = require_binary("/usr/bin/docker-registry", "docker-registry")
    ensure_port_free(PORT, NAME)
    tls = _certificate(lab)
    config = lab.path("registry", "config.yml")
    with open(config, "w") as handle:
        handle.write(CONFIG.format(data=lab.makedirs("registry", "data"), address=ADDRESS, tls=tls,
                                   htpasswd=_htpasswd(lab)))
    log = lab.path("registry", "registry.log")
    spawn([binary, "serve", config], lab.path("registry", "registry.pid"), log)
    wait_for(lambda: is_up(lab), NAME, log)
    return "started"


def stop(lab):
    return "stopped" if stop_pid(lab.path("registry", "registry.pid")) else "not running"


def status(lab):
    up = is_up(lab)
    held = ", ".join(tags(lab, DEMO_IMAGE)) if up else ""
    return up, "%s (htpasswd user %s), rollback-demo: %s" % (URL, USER, held or "no tags")
