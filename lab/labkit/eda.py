"""The rulebook (extensions/eda/rulebooks/auto_rollback.yml) under ansible-rulebook, on demand.

``labctl.py rulebook start|stop|status``; not part of ``lab start``: while it runs, every bad deploy of the lab is
rolled back automatically, which the other tests must not see. ansible-rulebook (PyPI, in the venv) runs its rules
on Drools through jpy, so it needs Java 17: Debian's openjdk-17-jre-headless, named by JAVA_HOME and JDK_HOME.
Its webhook listens where Alertmanager posts (labkit.monitoring.WEBHOOK_URL) and requires the lab's bearer token.
ROLLBACK_PAGERDUTY_URL / ROLLBACK_PAGERDUTY_ROUTING_KEY / ROLLBACK_AUTO_DRY_RUN / ROLLBACK_WEBHOOK_URL in the
caller's environment reach the playbooks it runs (inventories/lab reads them).
"""

import glob
import json
import os
import socket
import time

from labkit.common import REPO, VENV_BIN, LabError, read_pid, spawn, stop_pid, wait_for
from labkit.monitoring import WEBHOOK_PORT, WEBHOOK_TOKEN
from labkit.sshd import REMOTE_PYTHON

NAME = "rulebook"
RULEBOOK = "rollback.core.auto_rollback"


def java_home():
    """Debian's OpenJDK 17 (ansible-rulebook refuses older Javas; jpy loads its libjvm.so)."""
    found = sorted(glob.glob("/usr/lib/jvm/java-17-openjdk-*/lib/server/libjvm.so"))
    if not found:
        raise LabError("Java 17 not found under /usr/lib/jvm: apt-get install openjdk-17-jre-headless "
                       "(or run ./dev bootstrap)")
    return os.path.dirname(os.path.dirname(os.path.dirname(found[0])))


def _listening():
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", WEBHOOK_PORT)) == 0


def _pid_file(lab):
    return lab.path("eda", "rulebook.pid")


def log_file(lab):
    return lab.path("eda", "rulebook.log")


def environment(lab):
    home = java_home()
    # The playbooks it runs see a copy of the inventory in a temporary directory: the lab's paths come from here.
    return dict(os.environ, JAVA_HOME=home, JDK_HOME=home, LAB_DIR=lab.root, LAB_REMOTE_PYTHON=REMOTE_PYTHON,
                ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                PATH=os.pathsep.join([VENV_BIN, os.environ.get("PATH", "/usr/bin:/bin")]))


def start(lab):
    if read_pid(_pid_file(lab)) and _listening():
        return "already running"
    if _listening():
        raise LabError("port %d (the rulebook's webhook) is already in use by another process" % WEBHOOK_PORT)
    binary = os.path.join(VENV_BIN, "ansible-rulebook")
    if not os.path.exists(binary):
        raise LabError("%s not found: pip install ansible-rulebook (run ./dev bootstrap)" % binary)
    lab.makedirs("eda")
    variables = lab.path("eda", "vars.json")
    with open(variables + ".tmp", "w") as handle:
        json.dump({"rollback_eda_host": "127.0.0.1", "rollback_eda_port": WEBHOOK_PORT,
                   "rollback_eda_token": WEBHOOK_TOKEN, "rollback_approval": "notify"}, handle)
    os.chmod(variables + ".tmp", 0o600)
    os.rename(variables + ".tmp", variables)
    argv = [binary, "--rulebook", RULEBOOK, "--inventory", os.path.join(REPO, "inventories", "lab"),
            "--vars", variables, "--verbose"]
    spawn(argv, _pid_file(lab), log_file(lab), env=environment(lab))
    wait_for(lambda: _listening() or read_pid(_pid_file(lab)) is None, NAME, log_file(lab), timeout=120)
    if not _listening():
        raise LabError("ansible-rulebook exited before listening (see %s)" % log_file(lab))
    return "started"


def _rollbacks(root):
    """Rollback playbooks (rollback.yml, through ansible-runner) the rulebook process ``root`` is running."""
    parents, commands = {}, {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % name) as handle:
                stat = handle.read()
            with open("/proc/%s/cmdline" % name, "rb") as handle:
                commands[int(name)] = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(name)] = int(stat[stat.rfind(")") + 2:].split()[1])

    def descends(pid):
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == root:
                return True
        return False

    return [pid for pid, command in commands.items() if "ansible-playbook" in command
            and any(arg == "rollback.yml" or arg.endswith("/rollback.yml") for arg in command.split())
            and descends(pid)]


def stop(lab, wait=600):
    """Stop the rulebook once the rollback it runs is done: a rollback killed halfway keeps its lock (decisions are
    safe to stop: the history is written under a file lock and replaced atomically)."""
    pid = read_pid(_pid_file(lab))
    if pid is None:
        return "not running"
    deadline = time.monotonic() + wait
    waited = False
    while _rollbacks(pid) and time.monotonic() < deadline:
        if not waited:
            print("lab: rulebook  waiting for the rollback it runs to finish", flush=True)
            waited = True
        time.sleep(1)
    return "stopped" if stop_pid(_pid_file(lab), timeout=30) else "not running"


def status(lab):
    up = bool(read_pid(_pid_file(lab))) and _listening()
    return up, "%s on 127.0.0.1:%d (log %s)" % (RULEBOOK, WEBHOOK_PORT, log_file(lab))
