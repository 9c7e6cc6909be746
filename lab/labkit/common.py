"""What every lab service shares: the lab's paths, processes, ports and waits."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

LAB_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(LAB_SRC)
VENV_BIN = os.path.join(REPO, ".venv", "bin")


class LabError(Exception):
    """One line for the user: what failed and where."""


class Lab:
    """The lab's state directory and the facts its services publish."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.facts = {"LAB_DIR": self.root}

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def makedirs(self, *parts):
        path = self.path(*parts)
        os.makedirs(path, exist_ok=True)
        return path

    def write_facts(self):
        with open(self.path("lab.json"), "w") as handle:
            json.dump(self.facts, handle, indent=2, sort_keys=True)
        with open(self.path("lab.env"), "w") as handle:
            for key, value in sorted(self.facts.items()):
                handle.write("export %s=%s\n" % (key, shell_quote(str(value))))


def shell_quote(value):
    return "'" + value.replace("'", "'\\''") + "'"


def require_binary(name, package):
    path = shutil.which(name) or (os.path.exists(name) and name)
    if not path:
        raise LabError("%s not found: apt-get install %s (or run ./dev bootstrap)" % (name, package))
    return path


def port_in_use(port, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


RESERVED_PORTS = "/proc/sys/net/ipv4/ip_local_reserved_ports"


def _read_reserved():
    with open(RESERVED_PORTS) as handle:
        return handle.read().strip()


def _ports_of(text):
    """The ports of the kernel's list, a set (it writes ranges: "59090-59093,59500")."""
    ports = set()
    for part in filter(None, text.split(",")):
        bounds = part.split("-")
        ports.update(range(int(bounds[0]), int(bounds[-1]) + 1))
    return ports


def reserved_ports():
    """The ports in net.ipv4.ip_local_reserved_ports, a set."""
    return _ports_of(_read_reserved())


def reserve_ports(ports):
    """Keep the lab's fixed ports out of the kernel's ephemeral range (32768-60999, where they all lie): a client
    connection of any process (Prometheus' scrapes, the traffic generator) may otherwise hold one as its local port,
    and a service started later (the rulebook's webhook) fails with EADDRINUSE. Merged with what is reserved already
    (written only when a port is missing); skipped, with a line saying so, where the sysctl is not writable."""
    try:
        current = _read_reserved()
        missing = sorted(set(ports) - _ports_of(current))
        if missing:
            with open(RESERVED_PORTS, "w") as handle:
                handle.write(",".join(([current] if current else []) + [str(port) for port in missing]))
    except OSError as error:
        print("lab: could not reserve the lab's ports (%s): a port may be taken by a client connection" % error)


def ensure_port_free(port, service):
    if port_in_use(port):
        raise LabError("port %d (%s) is already in use by another process" % (port, service))


def read_pid(pidfile):
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def spawn(argv, pidfile, logfile, env=None, user=None):
    """Start a daemon in its own session; its pid goes to pidfile."""
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    with open(logfile, "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True, close_fds=True)
    with open(pidfile, "w") as handle:
        handle.write("%d\n" % process.pid)
    return process


def stop_pid(pidfile, timeout=20):
    pid = read_pid(pidfile)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(pidfile) is not None:
        reap(pid)
        time.sleep(0.1)
    if read_pid(pidfile) is not None:
        os.killpg(pid, signal.SIGKILL)
    return True


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(path, lines=12):
    """The last lines of a log file, or of the newest file under a log directory: what a failure message shows."""
    if os.path.isdir(path):
        files = [os.path.join(top, name) for top, _dirs, names in os.walk(path) for name in names]
        if not files:
            return ""
        path = max(files, key=os.path.getmtime)
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def wait_for(check, what, logfile, timeout=60, process=None):
    """Poll check() until it is true. A daemon that exits (``process``, a Popen) or a timeout fail with the
    service's name and the tail of its log, so a CI log says why without the lab directory."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if process is not None and process.poll() is not None:
            raise LabError("%s exited with %s before it became ready; the end of %s:\n%s"
                           % (what, process.returncode, logfile, log_tail(logfile)))
        time.sleep(0.1)
    raise LabError("%s did not become ready within %ds; the end of %s:\n%s"
                   % (what, timeout, logfile, log_tail(logfile)))


def http_ok(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def http_json(url, timeout=2.0):
    """(status, parsed JSON body or None), errors included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body or b"null")
        except ValueError:
            return error.code, None
    except (OSError, ValueError):
        return None, None


def run(argv, what, env=None, user=None, input_text=None):
    """Run a command to completion; a failure is one LabError line."""
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    # Never the caller's stdin: a closed or non-inheritable one breaks some tools (docker-systemctl-replacement).
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                               **({"input": input_text} if input_text is not None else {"stdin": subprocess.DEVNULL}))
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise LabError("%s failed: %s" % (what, detail[-1] if detail else "exit %d" % completed.returncode))
    return completed.stdout
