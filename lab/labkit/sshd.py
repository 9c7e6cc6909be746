"""The lab's remote host: Debian's OpenSSH server on its own loopback address, with its own Python.

Manual-server targets and self-managed databases are remote in production: Ansible reaches them over SSH and
runs the modules with the Python that host has. This host is reached the same way - key authentication as
root, the host key checked against a known_hosts file - on 127.0.0.2 (its own address; everything else in the lab
listens on 127.0.0.1). Its interpreter is a venv of Debian's /usr/bin/python3 holding only the collection's
requirements.txt (scripts/bootstrap makes it as .venv-remote: installing needs the network, the lab may not have
it), never the controller's venv; /usr/bin/python3 itself is what a bare server has (no psycopg2).
"""

import os
import subprocess

from labkit.common import REPO, LabError, port_in_use, read_pid, require_binary, run, spawn, stop_pid, wait_for

NAME = "sshd"
ADDRESS = "127.0.0.2"
PORT = 58022
USER = "root"
REMOTE_PYTHON = os.path.join(REPO, ".venv-remote", "bin", "python")
BARE_PYTHON = "/usr/bin/python3"

CONFIG = """\
# rollback.core lab: the remote host (lab/labkit/sshd.py)
ListenAddress {address}:{port}
HostKey {root}/ssh_host_ed25519_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The lab dir is not root-owned all the way up in every checkout.
StrictModes no
PrintMotd no
MaxSessions 50
MaxStartups 50:30:100
Subsystem sftp internal-sftp
# Root's home on this host is its own, as on a server: sshd sets HOME from the passwd entry, then applies SetEnv
# (session.c, do_setup_env). bash started by sshd reads ~/.bashrc (Debian builds it with SSH_SOURCE_BASHRC), and the
# machine's own /root/.bashrc is the controller's: with pyenv's init there, 0.2 s and ~100 processes per command.
SetEnv HOME={root}/home
"""


def facts(lab):
    root = lab.path("sshd")
    return {"LAB_SSH_HOST": ADDRESS, "LAB_SSH_PORT": PORT, "LAB_SSH_USER": USER,
            "LAB_SSH_KEY": os.path.join(root, "id_ed25519"), "LAB_SSH_KNOWN_HOSTS": os.path.join(root, "known_hosts"),
            "LAB_REMOTE_PYTHON": REMOTE_PYTHON, "LAB_BARE_PYTHON": BARE_PYTHON}


def _keys(lab):
    root = lab.makedirs("sshd")
    os.chmod(root, 0o700)
    keygen = require_binary("ssh-keygen", "openssh-client")
    for name, comment in (("ssh_host_ed25519_key", "lab-remote-host"), ("id_ed25519", "rollback-core-lab")):
        path = os.path.join(root, name)
        if not os.path.exists(path):
            run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], "ssh-keygen " + name)
    with open(os.path.join(root, "id_ed25519.pub")) as handle:
        client = handle.read()
    with open(os.path.join(root, "authorized_keys"), "w") as handle:
        handle.write(client)
    with open(os.path.join(root, "ssh_host_ed25519_key.pub")) as handle:
        host_key = " ".join(handle.read().split()[:2])
    with open(os.path.join(root, "known_hosts"), "w") as handle:
        handle.write("[%s]:%d %s\n" % (ADDRESS, PORT, host_key))
    os.makedirs(os.path.join(root, "home"), mode=0o700, exist_ok=True)
    with open(os.path.join(root, "sshd_config"), "w") as handle:
        handle.write(CONFIG.format(address=ADDRESS, port=PORT, root=root))
    return root


def _answers(lab):
    """An SSH login with the lab's key, checking the host key, runs the remote Python."""
    completed = subprocess.run(
        ["ssh", "-i", lab.path("sshd", "id_ed25519"), "-p", str(PORT), "-o", "BatchMode=yes",
         "-o", "UserKnownHostsFile=" + lab.path("sshd", "known_hosts"), "-o", "StrictHostKeyChecking=yes",
         "-o", "ConnectTimeout=2", "%s@%s" % (USER, ADDRESS), "%s -c 'print(42)'" % REMOTE_PYTHON],
        capture_output=True, text=True, timeout=20, check=False)
    return completed.returncode == 0 and completed.stdout.strip() == "42"


def start(lab):
    sshd = require_binary("/usr/sbin/sshd", "openssh-server")
    require_binary("ssh", "openssh-client")
    if not os.path.exists(REMOTE_PYTHON):
        raise LabError("the remote host's Python %s is missing: run ./dev bootstrap (outside the lab's network "
                       "namespace: it installs requirements.txt)" % REMOTE_PYTHON)
    root = _keys(lab)
    pidfile = os.path.join(root, "sshd.pid")
    if read_pid(pidfile) and _answers(lab):
        return "already running"
    if port_in_use(PORT, ADDRESS):
        raise LabError("port %d on %s is already in use by another process" % (PORT, ADDRESS))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # Debian's sshd privilege separation directory
    run([sshd, "-t", "-f", os.path.join(root, "sshd_config")], "sshd -t")
    log = os.path.join(root, "sshd.log")
    spawn([sshd, "-D", "-f", os.path.join(root, "sshd_config"), "-E", log], os.path.join(root, "sshd.launcher.pid"),
          log)
    wait_for(lambda: _answers(lab), "sshd on %s:%d" % (ADDRESS, PORT), log, timeout=30)
    return "started"


def stop(lab):
    launcher = lab.path("sshd", "sshd.launcher.pid")
    if not read_pid(launcher):
        return "not running"
    stop_pid(launcher)
    return "stopped"


def status(lab):
    if not read_pid(lab.path("sshd", "sshd.launcher.pid")):
        return False, "not running"
    up = _answers(lab)
    return up, "%s:%d, key login as %s, Python %s" % (ADDRESS, PORT, USER, REMOTE_PYTHON if up else "(no answer)")
