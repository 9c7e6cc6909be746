"""The "server" target: releases on disk, a systemd unit, and systemctl.

PID 1 here is not systemd, so units are run by Debian's systemctl replacement
(docker-systemctl-replacement), extracted from its .deb rather than installed
(installing it removes systemd), with ``--root`` pointing at the lab dir so the
host's /etc/systemd is never touched.
"""

import glob
import os
import shutil
import subprocess

from labkit.common import (LAB_SRC, LabError, ensure_port_free, http_json, http_ok, log_tail, port_in_use,
                           require_binary, run, wait_for)

NAME = "server"
PORT = 58080
UNIT = "rollback-demo.service"
VERSIONS = ("v1.0.0", "v1.0.1", "v1.0.2")

UNIT_FILE = """\
[Unit]
Description=rollback.core lab demo app (server target)

[Service]
Type=simple
ExecStart={python} {current}/app.py --port {port}
Restart=no

[Install]
WantedBy=multi-user.target
"""

WRAPPER = """\
#!/bin/sh
# The lab's systemctl: docker-systemctl-replacement rooted in the lab dir.
exec {python} {script} --root={root} "$@" </dev/null
"""


def facts(lab):
    return {
        "LAB_BIN": lab.path("bin"),
        "LAB_PATH_PREFIX": lab.path("bin"),
        "LAB_SYSTEMCTL": lab.path("bin", "systemctl"),
        "LAB_SYSTEMD_ROOT": lab.path("systemd-root"),
        "LAB_SERVER_RELEASES_DIR": lab.path("server"),
        "LAB_SERVER_REPO_DIR": lab.path("server", "repo"),
        "LAB_SERVER_UNIT": UNIT,
        "LAB_SERVER_PORT": PORT,
    }


def _python():
    return shutil.which("python3", path="/usr/bin:/bin") or require_binary("python3", "python3")


def _systemctl(lab, *args):
    return run([lab.path("bin", "systemctl")] + list(args), "systemctl " + " ".join(args))


def _install_systemctl(lab):
    script = lab.path("systemctl-pkg", "usr", "bin", "systemctl")
    if not os.path.exists(script):
        downloads = lab.makedirs("systemctl-pkg", "deb")
        if not glob.glob(os.path.join(downloads, "systemctl_*.deb")):
            completed = subprocess.run(["apt-get", "download", "systemctl"], cwd=downloads, capture_output=True,
                                       text=True, check=False)
            if completed.returncode != 0:
                raise LabError("apt-get download systemctl failed (run apt-get update first): %s"
                               % completed.stderr.strip().splitlines()[-1:])
        deb = sorted(glob.glob(os.path.join(downloads, "systemctl_*.deb")))[-1]
        run(["dpkg-deb", "-x", deb, lab.path("systemctl-pkg")], "dpkg-deb -x " + deb)
    wrapper = os.path.join(lab.makedirs("bin"), "systemctl")
    with open(wrapper, "w") as handle:
        handle.write(WRAPPER.format(python=_python(), script=script, root=lab.path("systemd-root")))
    os.chmod(wrapper, 0o755)


def _install_releases(lab):
    releases = lab.makedirs("server", "releases")
    for version in VERSIONS:
        target = os.path.join(releases, version)
        os.makedirs(target, exist_ok=True)
        # Copied again when the lab's demo app changed (a lab made by an older checkout).
        for source, name in ((os.path.join(LAB_SRC, "demo_app", "app.py"), "app.py"),
                             (os.path.join(LAB_SRC, "demo_app", "releases", version[1:] + ".json"), "release.json")):
            if not _same_file(source, os.path.join(target, name)):
                shutil.copy(source, os.path.join(target, name))
    current = lab.path("server", "current")
    if not os.path.lexists(current):
        os.symlink(os.path.join(releases, VERSIONS[0]), current)
    _install_repo(lab)


def _same_file(source, target):
    try:
        with open(source, "rb") as one, open(target, "rb") as other:
            return one.read() == other.read()
    except FileNotFoundError:
        return False


def _install_repo(lab):
    """The same releases as git tags in one work tree (runbook 000 option C)."""
    repo = lab.path("server", "repo")
    if os.path.isdir(os.path.join(repo, ".git")):
        return
    os.makedirs(repo, exist_ok=True)
    git = ["git", "-C", repo, "-c", "user.name=lab", "-c", "user.email=lab@localhost"]
    run(git + ["init", "-q"], "git init")
    for version in VERSIONS:
        shutil.copy(os.path.join(LAB_SRC, "demo_app", "app.py"), repo)
        shutil.copy(os.path.join(LAB_SRC, "demo_app", "releases", version[1:] + ".json"),
                    os.path.join(repo, "release.json"))
        run(git + ["add", "-A"], "git add")
        run(git + ["commit", "-qm", "release " + version], "git commit")
        run(git + ["tag", version], "git tag")
    run(git + ["checkout", "-q", VERSIONS[0]], "git checkout " + VERSIONS[0])


def _install_unit(lab):
    units = lab.makedirs("systemd-root", "etc", "systemd", "system")
    with open(os.path.join(units, UNIT), "w") as handle:
        handle.write(UNIT_FILE.format(current=lab.path("server", "current"), python=_python(), port=PORT))
    # The replacement reports "unknown" from is-active for units not enabled.
    _systemctl(lab, "enable", UNIT)


def is_up(lab):
    return http_ok("http://127.0.0.1:%d/health" % PORT) or _release_health(lab) is not None


def _release_health(lab):
    """The running app's version when it answers /health at all (even 503)."""
    status, body = http_json("http://127.0.0.1:%d/health" % PORT)
    return body.get("version") if isinstance(body, dict) else None


def _active(lab):
    completed = subprocess.run([lab.path("bin", "systemctl"), "is-active", UNIT], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, check=False)
    return completed.stdout.strip() == "active"


def start(lab):
    _install_systemctl(lab)
    _install_releases(lab)
    _install_unit(lab)
    if _active(lab) and is_up(lab):
        return "already running"
    ensure_port_free(PORT, NAME + " (" + UNIT + ")")
    try:
        _systemctl(lab, "start", UNIT)
    except LabError as error:
        raise LabError("%s; the unit's last output:\n%s" % (error, log_tail(lab.path("systemd-root", "var", "log"))))
    wait_for(lambda: _active(lab) and is_up(lab), UNIT, lab.path("systemd-root", "var", "log"))
    return "started"


def stop(lab):
    if not os.path.exists(lab.path("bin", "systemctl")):
        return "not running"
    if not _active(lab) and not port_in_use(PORT):
        return "not running"
    _systemctl(lab, "stop", UNIT)
    return "stopped"


def status(lab):
    if not os.path.exists(lab.path("bin", "systemctl")):
        return False, "not installed"
    active = _active(lab)
    version = _release_health(lab)
    release = os.path.basename(os.path.realpath(lab.path("server", "current")))
    return active and version is not None, "%s %s, current -> %s, serving %s on :%d" % (
        UNIT, "active" if active else "inactive", release, version, PORT)
