"""A real nginx (Debian's /usr/sbin/nginx) as the demo's load balancer, with a blue and a green backend.

Everything lives under .lab/nginx/: the main config (rewritten on every start), the site-managed include
conf.d/demo-upstream.conf (written only when missing: it is the state rollback.core.nginx_traffic changes),
the pid file, logs and temp paths; nothing goes to /etc/nginx, /var/log/nginx, /var/lib/nginx or /run.

- front (the "load balancer") 127.0.0.1:58180: its ``location /`` is the include file;
- blue 127.0.0.1:58181 answers /version and /health with {"version": "1.0.0", "color": "blue"};
- green 127.0.0.1:58182 answers {"version": "1.0.1", "color": "green"}.

Initial state: green is live (the bad release 1.0.1 is served; a rollback switches the front to blue). The
ports 58080/58081 already belong to the server and compose targets, hence 5818x.
"""

import os
import shutil
import signal
import time

from labkit.common import LabError, ensure_port_free, http_json, read_pid, run, spawn, stop_pid, wait_for

NAME = "nginx"
PORT = 58180
COLORS = {"blue": (58181, "1.0.0"), "green": (58182, "1.0.1")}
INITIAL_COLOR = "green"
WORKERS = 2
BINARY = shutil.which("nginx") or "/usr/sbin/nginx"
URL = "http://127.0.0.1:%d" % PORT

MAIN_CONF = """\
# rollback.core lab nginx: written by lab/labkit/nginx.py on every start; do not edit.
# Run as: {binary} -p {prefix} -c {conf}
worker_processes {workers};
pid {prefix}/nginx.pid;
lock_file {prefix}/nginx.lock;
error_log {prefix}/error.log notice;

events {{
    worker_connections 256;
}}

http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;
{backends}
    # The load balancer: the live colour (or the maintenance page) is the site-managed include.
    server {{
        listen 127.0.0.1:{port};
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        include {upstream};
    }}
}}
"""

BACKEND = """
    # {color}: the demo app {version}
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location = /version {{
            return 200 '{{"version": "{version}", "color": "{color}"}}\\n';
        }}
        location = /health {{
            return 200 '{{"status": "ok", "version": "{version}", "color": "{color}"}}\\n';
        }}
        location / {{
            return 404 '{{"error": "not found", "color": "{color}"}}\\n';
        }}
    }}
"""

UPSTREAM_CONF = """\
# demo front: the live colour. Managed by rollback.core.nginx_traffic (traffic switch / maintenance).
location / {{
    proxy_pass http://127.0.0.1:{port};
}}
"""


def prefix(lab):
    return lab.path("nginx")


def conf(lab):
    return lab.path("nginx", "nginx.conf")


def upstream_file(lab):
    return lab.path("nginx", "conf.d", "demo-upstream.conf")


def pid_file(lab):
    return lab.path("nginx", "nginx.pid")


def backend_url(color):
    return "http://127.0.0.1:%d" % COLORS[color][0]


def facts(lab):
    return {
        "LAB_NGINX_BINARY": BINARY,
        "LAB_NGINX_PORT": PORT,
        "LAB_NGINX_URL": URL,
        "LAB_NGINX_PREFIX": prefix(lab),
        "LAB_NGINX_CONF": conf(lab),
        "LAB_NGINX_CONF_DIR": lab.path("nginx", "conf.d"),
        "LAB_NGINX_UPSTREAM_FILE": upstream_file(lab),
        "LAB_NGINX_PID_FILE": pid_file(lab),
        "LAB_NGINX_ERROR_LOG": lab.path("nginx", "error.log"),
        "LAB_NGINX_BLUE_URL": backend_url("blue"),
        "LAB_NGINX_GREEN_URL": backend_url("green"),
        "LAB_NGINX_INITIAL_COLOR": INITIAL_COLOR,
    }


def upstream_text(color):
    """The include file with ``color`` live, as the lab first writes it."""
    return UPSTREAM_CONF.format(port=COLORS[color][0])


def _main_text(lab):
    backends = "".join(BACKEND.format(color=color, port=port, version=version)
                       for color, (port, version) in sorted(COLORS.items()))
    return MAIN_CONF.format(binary=BINARY, prefix=prefix(lab), conf=conf(lab), port=PORT, backends=backends,
                            upstream=upstream_file(lab), workers=WORKERS)


def _write(path, text):
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.rename(temporary, path)


def _argv(lab, *extra):
    return [BINARY, "-p", prefix(lab), "-c", conf(lab)] + list(extra)


def served(lab):
    """(status, JSON) of the front's /version: (200, {"version": ..., "color": ...}) or (503, ...)."""
    return http_json(URL + "/version")


def is_up(lab):
    return bool(read_pid(pid_file(lab))) and all(
        http_json(backend_url(color) + "/health")[0] == 200 for color in COLORS)


def start(lab):
    if read_pid(pid_file(lab)) and is_up(lab):
        return "already running"
    if not os.path.exists(BINARY):
        raise LabError("%s not found: apt-get install nginx-light (or nginx)" % BINARY)
    for port in [PORT] + [port for port, _version in COLORS.values()]:
        ensure_port_free(port, NAME)
    for part in ("conf.d", "tmp"):
        lab.makedirs("nginx", part)
    _write(conf(lab), _main_text(lab))
    if not os.path.exists(upstream_file(lab)):
        _write(upstream_file(lab), upstream_text(INITIAL_COLOR))
    run(_argv(lab, "-t", "-q"), "nginx -t")
    log = lab.path("nginx", "nginx.log")
    spawn(_argv(lab, "-g", "daemon off;"), pid_file(lab), log)
    wait_for(lambda: is_up(lab) and served(lab)[0] is not None, NAME, log)
    return "started"


def stop(lab):
    return "stopped" if stop_pid(pid_file(lab)) else "not running"


def status(lab):
    code, body = served(lab)
    if code == 200 and isinstance(body, dict):
        detail = "%s serves %s %s" % (URL, body.get("color"), body.get("version"))
    else:
        detail = "%s answers %s" % (URL, code)
    return is_up(lab), detail


def workers(pid):
    """{worker pid: title} of the master ``pid`` (old workers are "... is shutting down" after a reload)."""
    found = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % name) as handle:
                stat = handle.read()
            with open("/proc/%s/cmdline" % name, "rb") as handle:
                title = handle.read().replace(b"\0", b" ").decode().strip()
        except (OSError, UnicodeDecodeError):
            continue
        if stat[stat.rfind(")") + 2:].split()[1] == str(pid):
            found[int(name)] = title
    return found


def _settled(pid):
    """A reload is over: exactly WORKERS workers, none of them an old one shutting down."""
    titles = list(workers(pid).values())
    return len(titles) == WORKERS and all(title == "nginx: worker process" for title in titles)


def settled_workers(lab, timeout=20):
    """The worker pids once no reload is in progress (tests compare them: a reload changes them all)."""
    pid = read_pid(pid_file(lab))
    deadline = time.monotonic() + timeout
    while pid is not None and not _settled(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return set(workers(pid)) if pid is not None else set()


def select(lab, color, timeout=20):
    """Make ``color`` live again as the lab first wrote it (tests' reset); reload and wait until served."""
    _write(upstream_file(lab), upstream_text(color))
    pid = read_pid(pid_file(lab))
    if pid is None:
        raise LabError("nginx is not running (start it: labctl.py start --only nginx)")
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = served(lab)
        if code == 200 and isinstance(body, dict) and body.get("color") == color and _settled(pid):
            return
        time.sleep(0.05)
    raise LabError("nginx did not serve %s within %ds (see %s)" % (color, timeout, lab.path("nginx", "error.log")))
