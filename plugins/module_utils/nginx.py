# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic at an nginx load balancer: maintenance page or live colour (runbook 000 steps 1.2/4.5, runbook 003).

The module owns one include file, placed inside the front's ``server`` block, that holds the front's
``location /``: either ``proxy_pass`` to the live colour or ``return 503`` with a maintenance body. A
comment line in the file remembers the live colour and its address while in maintenance, so resuming needs
no input. A change is: copy of the previous file, atomic write, ``nginx -t`` (the previous file is put back
when it fails: a broken config is never reloaded), SIGHUP to the master (what ``nginx -s reload`` and
``systemctl reload nginx`` send), then a wait until the master runs new workers (it accepted the config)
and, optionally, until a URL serves the expected state.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import signal

from ansible_collections.rollback.core.plugins.module_utils import http_checks, toolkit
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, one_line
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

COLORS = ("blue", "green")
STATES = ("live", "maintenance")

NGINX_TRAFFIC_SPEC = dict(
    conf_file=dict(type="path", required=True),
    state=dict(type="str", choices=list(STATES)),
    active_color=dict(type="str", choices=list(COLORS)),
    upstreams=dict(type="dict", default={}),
    reason=dict(type="str", default="rollback in progress"),
    nginx_binary=dict(type="path", default="nginx"),
    nginx_prefix=dict(type="path"),
    nginx_conf=dict(type="path"),
    pid_file=dict(type="path"),
    verify_url=dict(type="str"),
    expected_version=dict(type="str"),
    version_field=dict(type="str", default="version"),
    backup_dir=dict(type="path"),
)

MARK = "# rollback.core.nginx_traffic "
HEADER = "# Managed by rollback.core.nginx_traffic: replaced on every traffic switch, change it through the module.\n"
LIVE = """\
location / {{
    proxy_pass {upstream};
}}
"""
MAINTENANCE = """\
location / {{
    default_type application/json;
    return 503 {body};
}}
"""
# Characters nginx would read as syntax (or a variable) inside an unquoted proxy_pass address.
UNSAFE = re.compile(r"[\s;{}'\"#$\\]")
ERROR_LEVELS = ("[emerg]", "[alert]", "[crit]", "[error]")
# The main-context pid directive in an ``nginx -T`` dump (found by line: a dump can be megabytes).
PID = re.compile(r"^\s*pid\s+[\"']?([^;\"'\s]+)[\"']?\s*;", re.MULTILINE)


# --- the managed file: render and parse -------------------------------------------------------------------


def upstream_url(address, where):
    """``host:port`` or a URL as nginx's proxy_pass wants it (``http://`` added when no scheme is given)."""
    if not isinstance(address, str) or not address.strip():
        raise RollbackError("%s must be a non-empty address (host:port or http://name)" % where)
    address = address.strip()
    if UNSAFE.search(address):
        raise RollbackError("%s %r holds a character nginx would read as syntax (space ; { } quote # $ \\)"
                            % (where, address))
    return address if "://" in address else "http://" + address


def check_upstreams(upstreams):
    """``{colour: proxy_pass URL}`` of the ``upstreams`` option; unknown colours are refused."""
    unknown = sorted(set(upstreams) - set(COLORS))
    if unknown:
        raise RollbackError("upstreams has unknown colour(s) %s: use %s" % (", ".join(unknown), " and ".join(COLORS)))
    return dict((color, upstream_url(address, "upstreams.%s" % color)) for color, address in upstreams.items())


def nginx_string(text):
    """``text`` as one single-quoted nginx string (nginx un-escapes backslash and quote in it)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def maintenance_body(reason):
    """The JSON every request gets in maintenance; ``$`` and ``'`` as JSON escapes (nginx would expand ``$x``)."""
    body = json.dumps({"status": "maintenance", "reason": reason}, sort_keys=True)
    return body.replace("$", "\\u0024").replace("'", "\\u0027") + "\n"


def render(want):
    """The whole managed file for ``want`` (state, active_color, upstream, reason)."""
    meta = MARK + json.dumps(want, sort_keys=True) + "\n"
    if want["state"] == "live":
        block = LIVE.format(upstream=want["upstream"])
    else:
        block = MAINTENANCE.format(body=nginx_string(maintenance_body(want["reason"])))
    return HEADER + meta + block


def statements(text):
    """nginx's own reading of ``text``: the list of statements, each the list of its words.

    A statement ends with ``;`` or opens a block with ``{``; comments are dropped; quoted words are
    unquoted (backslash escapes as nginx reads them) so a ``#`` or ``;`` inside a string stays in its word.
    """
    found, words, word, quote, index = [], [], None, None, 0
    while index < len(text):
        char = text[index]
        index += 1
        if quote:
            if char == "\\" and index < len(text):
                following = text[index]
                index += 1
                word += {"n": "\n", "t": "\t", "r": "\r"}.get(following, following) \
                    if following in "\"'\\ntr" else "\\" + following
            elif char == quote:
                quote = None
            else:
                word += char
            continue
        if char == "{" and word is not None and word.endswith("$"):
            close = text.find("}", index)
            close = len(text) - 1 if close < 0 else close
            word += char + text[index:close + 1]
            index = close + 1
            continue
        if word is not None and char in "#\"'":
            word += char  # only special where a word starts, as for nginx
            continue
        if char.isspace() or char in ";{}#\"'":
            if word is not None:
                words.append(word)
                word = None
            if char in "\"'":
                word, quote = "", char
            elif char == "#":
                newline = text.find("\n", index)
                index = len(text) if newline < 0 else newline
            elif char in ";{":
                found.append(words)
                words = []
            elif char == "}":
                words = []
            continue
        word = char if word is None else word + char
    return found


def _meta(text):
    for line in text.splitlines():
        if line.startswith(MARK):
            try:
                found = json.loads(line[len(MARK):])
            except ValueError:
                return {}
            return found if isinstance(found, dict) else {}
    return {}


def parse(text, upstreams, source):
    """The state the file really sets: its directives first, the mark comment for what they cannot say.

    Returns ``dict(state, active_color, upstream, reason)``; ``state`` is None for a file without directives.
    """
    code = statements(text)
    locations = [words for words in code if words[:1] == ["location"]]
    passes = [words[1] for words in code if words[:1] == ["proxy_pass"] and len(words) > 1]
    returns = [words for words in code if words[:2] == ["return", "503"]]
    meta = _meta(text)
    if len(locations) > 1 or (passes and returns) or len(set(passes)) > 1:
        raise RollbackError("%s holds more than the one location / this module manages (%d location(s), %d "
                            "proxy_pass, %d return 503): keep other directives in the server block"
                            % (source, len(locations), len(passes), len(returns)))
    if passes:
        upstream = passes[0]
        colors = [color for color in COLORS if upstreams.get(color) == upstream]
        if not colors and meta.get("upstream") == upstream and meta.get("active_color") in COLORS:
            colors = [meta["active_color"]]
        return dict(state="live", active_color=colors[0] if colors else None, upstream=upstream, reason=None)
    if returns:
        color = meta.get("active_color") if meta.get("active_color") in COLORS else None
        upstream = meta.get("upstream")
        if upstream is not None:
            upstream = upstream_url(upstream, "the upstream saved in %s" % source)
        return dict(state="maintenance", active_color=color, upstream=upstream, reason=meta.get("reason"))
    if code:
        raise RollbackError("%s is neither live (proxy_pass) nor in maintenance (return 503): refusing to "
                            "replace what this module did not write" % source)
    return dict(state=None, active_color=None, upstream=None, reason=None)


def plan(current, params, upstreams, source):
    """The wanted ``dict(state, active_color, upstream, reason)``; unset options keep the current value."""
    state = params["state"] or current["state"]
    if state is None:
        raise RollbackError("%s sets no traffic state yet: give state" % source)
    color = params["active_color"] or current["active_color"]
    if params["active_color"]:
        if color not in upstreams:
            raise RollbackError("active_color %s needs its address: give upstreams.%s" % (color, color))
        upstream = upstreams[color]
    elif color in upstreams:
        upstream = upstreams[color]
    else:
        upstream = current["upstream"]
    if state == "live" and not upstream:
        raise RollbackError("cannot go live: %s names no upstream to resume; give active_color and upstreams" % source)
    return dict(state=state, active_color=color, upstream=upstream,
                reason=params["reason"] if state == "maintenance" else None)


def describe(state):
    if state["state"] is None:
        return "no traffic state"
    if state["state"] == "maintenance":
        return "maintenance"
    return "live %s" % (state["active_color"] or state["upstream"])


# --- nginx itself ----------------------------------------------------------------------------------------


def error_line(stderr, rc):
    """nginx's own error (``[emerg] ...``) out of its stderr, as one line."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    for line in lines:
        if any(level in line for level in ERROR_LEVELS):
            return line[len("nginx: "):] if line.startswith("nginx: ") else line
    return one_line("\n".join(lines)) or "exit %d" % rc


def included_files(dump):
    """The files of an ``nginx -T`` dump (its ``# configuration file <path>:`` lines), real paths."""
    return set(os.path.realpath(path) for path in re.findall(r"^# configuration file (.+):$", dump, re.MULTILINE))


def configure_argument(version_output, name):
    match = re.search(r"--%s=(\S+)" % re.escape(name), version_output)
    return match.group(1) if match else None


class Nginx:
    """The nginx binary run with the same ``-p``/``-c`` as the running server."""

    def __init__(self, module, binary, prefix, conf):
        self.module = module
        if "/" in binary:
            if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
                raise RollbackError("nginx_binary %s does not exist or is not executable" % binary)
            self.binary = binary
        else:
            self.binary = module.get_bin_path(binary)
            if not self.binary:
                raise RollbackError("nginx binary %s not found on PATH or in sbin: give nginx_binary" % binary)
        if prefix and not os.path.isdir(prefix):
            raise RollbackError("nginx_prefix %s is not a directory" % prefix)
        if conf and not os.path.isfile(conf):
            raise RollbackError("nginx_conf %s does not exist" % conf)
        self.prefix = prefix
        self.conf = conf

    def argv(self, *extra):
        argv = [self.binary]
        if self.prefix:
            argv += ["-p", self.prefix]
        if self.conf:
            argv += ["-c", self.conf]
        return argv + list(extra)

    def run(self, *extra):
        return self.module.run_command(self.argv(*extra))

    def where(self):
        return self.conf or "nginx's default configuration"

    def dump(self):
        """``nginx -T``: the whole configuration, after a test that must pass."""
        rc, out, err = self.run("-T")
        if rc != 0:
            raise RollbackError("the current nginx config (%s) fails nginx -t, fix it before switching traffic: %s"
                                % (self.where(), error_line(err, rc)))
        return out

    def test(self):
        """``(ok, nginx's one-line error)`` of ``nginx -t``."""
        rc, _out, err = self.run("-t")
        return rc == 0, error_line(err, rc)

    def pid_file(self, dump):
        """The master's pid file: the config's ``pid`` directive, else nginx's compiled default."""
        found = PID.findall(dump)
        if found and os.path.isabs(found[-1]):
            return found[-1]
        rc, out, err = self.run("-V")
        built = (out or "") + (err or "")
        if found:
            return os.path.join(self.prefix or configure_argument(built, "prefix") or "/", found[-1])
        path = configure_argument(built, "pid-path")
        if not path:
            raise RollbackError("cannot tell where nginx keeps its pid (nginx -V: %s): give pid_file"
                                % error_line(err, rc))
        return path


def master_pid(pid_file):
    """The running master's pid, named by ``pid_file``; RollbackError when nginx is not running."""
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        raise RollbackError("nginx is not running: no readable pid in %s (give pid_file)" % pid_file)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise RollbackError("nginx is not running: pid %d from %s does not exist" % (pid, pid_file))
    except PermissionError:
        raise RollbackError("no permission to signal nginx (pid %d from %s): run with become" % (pid, pid_file))
    title = _cmdline(pid)
    if title is not None and not title.startswith("nginx: master process"):
        raise RollbackError("pid %d from %s is not an nginx master process (%s): stale pid file?"
                            % (pid, pid_file, title[:60] or "no command line"))
    return pid


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return None


def children(pid):
    """Pids of the processes whose parent is ``pid`` (nginx workers and cache processes)."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.add(int(name))
    return found


def reloaded_probe(master, old_workers):
    """Done once the master runs a worker it did not have before (it accepted the new config) and no old worker
    still accepts connections: each is gone or titled "worker process is shutting down", which nginx sets right
    before it closes its listening sockets (src/os/unix/ngx_process_cycle.c, ngx_worker_process_cycle). Until then
    a new connection may still reach an old worker and get the old config (seen: a front resumed by the module
    answered the next request 503 from an old worker)."""

    def probe():
        try:
            os.kill(master, 0)
        except ProcessLookupError:
            raise RollbackError("nginx master pid %d exited during the reload: see its error log" % master)
        current = children(master)
        new = current - old_workers
        if not new:
            return False, "no new worker process yet"
        accepting = sorted(pid for pid in old_workers & current if _still_accepting(pid))
        if accepting:
            return False, "new worker(s) %s, old worker(s) %s not shutting down yet" % (sorted(new), accepting)
        return True, "new worker(s) %s" % sorted(new)

    return probe


def _still_accepting(pid):
    """An nginx worker process that has not begun its graceful shutdown (a cache process, or one gone, is not)."""
    title = _cmdline(pid) or ""
    return "worker process" in title and "shutting down" not in title


def served_probe(url, want, expected, field, seen):
    """Done once ``url`` serves ``want``: 503 in maintenance; live: 2xx/3xx, and ``expected`` at ``field``."""

    def probe():
        status, text, error = http_checks.request(url, timeout=5.0)
        version = None
        if status is not None:
            try:
                found = http_checks.json_path(json.loads(text), field)
            except ValueError:
                found = http_checks.MISSING
            version = None if found is http_checks.MISSING else str(found)
        seen.update(status=status, version=version)
        state = "request failed: %s" % error if error else "status %s, %s %s" % (status, field, version)
        if want["state"] == "maintenance":
            return status == 503, state
        if expected is not None:
            return status == 200 and version == expected, state
        return status is not None and 200 <= status < 400, state

    return probe


# --- files -----------------------------------------------------------------------------------------------


def read_file(path):
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise RollbackError("cannot read conf_file %s: %s" % (path, error.strerror or error))
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RollbackError("conf_file %s is not UTF-8 text" % path)


def save_previous(path, backup_dir):
    """Copy ``path`` to ``backup_dir`` (mode and time kept); a dot file when beside ``path`` (no ``include *``)."""
    hidden = os.path.realpath(backup_dir) == os.path.realpath(os.path.dirname(path))
    return toolkit.save_previous(path, backup_dir, hidden=hidden)


def check_paths(params):
    """``(conf_file, backup_dir)``, both checked before anything changes."""
    conf_file = os.path.abspath(params["conf_file"])
    directory = os.path.dirname(conf_file)
    if not os.path.isdir(directory):
        raise RollbackError("directory of conf_file %s does not exist" % conf_file)
    if not os.path.isfile(conf_file):
        raise RollbackError("conf_file %s does not exist: create it (it may be empty) and include it in the "
                            "front's server block" % conf_file)
    backup_dir = os.path.abspath(params["backup_dir"] or directory)
    if not os.path.isdir(backup_dir):
        raise RollbackError("backup_dir %s does not exist" % backup_dir)
    return conf_file, backup_dir


def check_verify(params):
    url = params["verify_url"]
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        raise RollbackError("verify_url %r is not an http(s) URL" % url)
    if params["expected_version"] is not None and url is None:
        raise RollbackError("expected_version needs verify_url (the URL whose JSON names the served version)")


# --- the switch ------------------------------------------------------------------------------------------


def switch(module, waiter):
    params = module.params
    upstreams = check_upstreams(params["upstreams"])
    conf_file, backup_dir = check_paths(params)
    check_verify(params)
    nginx = Nginx(module, params["nginx_binary"], params["nginx_prefix"], params["nginx_conf"])
    raw, text = read_file(conf_file)
    current = parse(text, upstreams, conf_file)
    want = plan(current, params, upstreams, conf_file)
    dump = nginx.dump()
    if os.path.realpath(conf_file) not in included_files(dump):
        raise RollbackError("conf_file %s is not included by the nginx config (%s): include it in the front's "
                            "server block" % (conf_file, nginx.where()))
    master = master_pid(params["pid_file"] or nginx.pid_file(dump))
    new_text = render(want)
    result = dict(conf_file=conf_file, before=current, after=want, previous_file=None, reloaded=False,
                  served_version=None, changed=current != want,
                  # A blue/green front's "versions" are its colours; the report adds the version served.
                  from_version=current["active_color"], to_version=want["active_color"])
    if module._diff:
        result["diff"] = dict(before=text, after=new_text if result["changed"] else text,
                              before_header=conf_file, after_header=conf_file)
    if module.check_mode:
        return result
    if result["changed"]:
        for directory in set([os.path.dirname(conf_file), backup_dir]):
            if not os.access(directory, os.W_OK):
                raise RollbackError("no permission to write in %s (run with become)" % directory)
        result["previous_file"] = save_previous(conf_file, backup_dir)
        _apply(module, nginx, waiter, master, conf_file, raw, new_text, result)
    if params["verify_url"]:
        _verify(module, waiter, want, result)
    return result


def _apply(module, nginx, waiter, master, conf_file, raw, new_text, result):
    """Write, test, reload, wait for new workers; the previous bytes are put back on any refusal."""
    old_workers = children(master)
    toolkit.atomic_write(conf_file, new_text, what="conf_file")
    ok, error = nginx.test()
    if not ok:
        toolkit.atomic_write(conf_file, raw, what="conf_file")
        os.remove(result["previous_file"])
        raise RollbackError("nginx -t refused the new %s, previous file put back and nginx not reloaded: %s"
                            % (conf_file, error), before=result["before"])
    os.kill(master, signal.SIGHUP)
    result["reloaded"] = True
    try:
        waiter.wait(reloaded_probe(master, old_workers), "nginx (pid %d) to load the new config" % master)
    except WaitTimeout as timeout:
        toolkit.atomic_write(conf_file, raw, what="conf_file")
        os.kill(master, signal.SIGHUP)
        raise RollbackError("%s (see nginx's error log); previous %s put back" % (timeout.msg, conf_file),
                            before=result["before"], previous_file=result["previous_file"])


def _verify(module, waiter, want, result):
    params = module.params
    url, expected = params["verify_url"], params["expected_version"]
    if want["state"] == "maintenance" and expected is not None:
        module.warn("expected_version %s not checked: the front is in maintenance" % expected)
        expected = None
    seen = {}
    if want["state"] == "maintenance":
        what = "%s to answer 503 (maintenance)" % url
    elif expected is not None:
        what = "%s to serve %s %s" % (url, params["version_field"], expected)
    else:
        what = "%s to answer 2xx/3xx" % url
    try:
        waiter.wait(served_probe(url, want, expected, params["version_field"], seen), what)
    except WaitTimeout as timeout:
        if result["changed"]:
            msg = "switched %s from %s to %s and reloaded nginx, not switched back (previous file %s): %s" % (
                result["conf_file"], describe(result["before"]), describe(want), result["previous_file"],
                timeout.msg)
        else:
            msg = "nothing changed (%s already %s): %s" % (result["conf_file"], describe(want), timeout.msg)
        raise RollbackError(msg, switched=result["changed"], before=result["before"], after=want,
                            previous_file=result["previous_file"], served_version=seen.get("version"))
    if want["state"] == "live":
        result["served_version"] = seen.get("version")
