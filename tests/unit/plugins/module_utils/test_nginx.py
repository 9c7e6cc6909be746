from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.rollback.core.plugins.module_utils import nginx
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

UPSTREAMS = {"blue": "http://10.0.1.10:8080", "green": "http://10.0.2.10:8080"}
LAB_FILE = "# the live colour\nlocation / {\n    proxy_pass http://10.0.2.10:8080;\n}\n"


def params(**extra):
    base = dict(state=None, active_color=None, reason="rollback in progress")
    base.update(extra)
    return base


def test_statements_read_words_as_nginx_does():
    text = ("# comment ; {\nlocation / {  # trailing\n  proxy_pass http://a:1;\n"
            "  return 503 'it\\'s; # {not} a \\\\ comment\\n';\n  add_header X \"a\\\"b\";\n  set $x ${host}-y;\n"
            "  rewrite ^/a#b$ /c;\n}\n")
    assert nginx.statements(text) == [
        ["location", "/"], ["proxy_pass", "http://a:1"], ["return", "503", "it's; # {not} a \\ comment\n"],
        ["add_header", "X", 'a"b'], ["set", "$x", "${host}-y"], ["rewrite", "^/a#b$", "/c"]]


def test_upstream_addresses_get_a_scheme_and_nginx_syntax_is_refused():
    assert nginx.upstream_url("127.0.0.1:8080", "u") == "http://127.0.0.1:8080"
    assert nginx.upstream_url(" https://pool ", "u") == "https://pool"
    for bad in ("1.2.3.4:1; return 200", "a b", "a{", "x'", "$host", "#x"):
        with pytest.raises(RollbackError, match="holds a character nginx would read as syntax"):
            nginx.upstream_url(bad, "upstreams.blue")
    with pytest.raises(RollbackError, match="upstreams.blue must be a non-empty address"):
        nginx.upstream_url(8080, "upstreams.blue")
    with pytest.raises(RollbackError, match=r"upstreams has unknown colour\(s\) red: use blue and green"):
        nginx.check_upstreams({"red": "a:1", "blue": "b:2"})


def test_maintenance_body_survives_nginx_quoting_exactly():
    reason = "db restore: it's $HOME; # {x} \\ \"q\"\nline two \u00e9"
    text = nginx.render(dict(state="maintenance", active_color="blue", upstream=UPSTREAMS["blue"], reason=reason))
    returns = [words for words in nginx.statements(text) if words[0] == "return"]
    assert returns[0][:2] == ["return", "503"]
    body = returns[0][2]
    assert "$" not in body, "nginx would expand $HOME"
    assert json.loads(body) == {"status": "maintenance", "reason": reason}
    assert text.count("\n") == 6, "one line per directive: no raw newline inside the string"


@pytest.mark.parametrize("want", [
    dict(state="live", active_color="blue", upstream=UPSTREAMS["blue"], reason=None),
    dict(state="maintenance", active_color="green", upstream=UPSTREAMS["green"], reason="restore"),
    dict(state="maintenance", active_color=None, upstream=None, reason="restore"),
])
def test_render_then_parse_gives_the_same_state(want):
    assert nginx.parse(nginx.render(want), UPSTREAMS, "f") == want


def test_a_hand_written_file_is_read_from_its_directives():
    expected = dict(state="live", active_color="green", upstream=UPSTREAMS["green"], reason=None)
    assert nginx.parse(LAB_FILE, UPSTREAMS, "f") == expected
    assert nginx.parse(LAB_FILE, {}, "f")["active_color"] is None
    assert nginx.parse("location / { return 503; }", {}, "f")["state"] == "maintenance"
    expected = dict(state=None, active_color=None, upstream=None, reason=None)
    assert nginx.parse("# nothing yet\n\n", UPSTREAMS, "f") == expected


def test_the_directives_win_over_the_mark_comment():
    live_blue = nginx.render(dict(state="live", active_color="blue", upstream=UPSTREAMS["blue"], reason=None))
    edited = live_blue.replace("proxy_pass " + UPSTREAMS["blue"], "proxy_pass " + UPSTREAMS["green"])
    assert nginx.parse(edited, UPSTREAMS, "f")["active_color"] == "green"
    assert nginx.parse(edited, {}, "f")["active_color"] is None, "the mark names another address"
    assert nginx.parse(live_blue, {}, "f")["active_color"] == "blue", "the mark names the colour of its address"


@pytest.mark.parametrize("text, message", [
    ("location / { proxy_pass http://a:1; }\nlocation /x { return 503; }", "holds more than the one location /"),
    ("location / { proxy_pass http://a:1; return 503; }", "holds more than the one location /"),
    ("upstream pool { server 10.0.0.1; }", "is neither live (proxy_pass) nor in maintenance"),
])
def test_files_the_module_did_not_write_are_refused(text, message):
    with pytest.raises(RollbackError) as raised:
        nginx.parse(text, UPSTREAMS, "/etc/nginx/x.conf")
    assert raised.value.msg.startswith("/etc/nginx/x.conf ") and message in raised.value.msg


def test_plan_keeps_what_is_not_asked():
    live_green = nginx.parse(LAB_FILE, UPSTREAMS, "f")
    down = nginx.plan(live_green, params(state="maintenance"), UPSTREAMS, "f")
    assert down == dict(state="maintenance", active_color="green", upstream=UPSTREAMS["green"],
                        reason="rollback in progress")
    switched = nginx.plan(down, params(active_color="blue"), UPSTREAMS, "f")
    assert switched["state"] == "maintenance" and switched["upstream"] == UPSTREAMS["blue"]
    expected = dict(state="live", active_color="blue", upstream=UPSTREAMS["blue"], reason=None)
    assert nginx.plan(switched, params(state="live"), {}, "f") == expected
    assert nginx.plan(live_green, params(state="live"), {}, "f") == live_green, "nothing asked, nothing changes"


def test_plan_refuses_what_it_cannot_do():
    empty = dict(state=None, active_color=None, upstream=None, reason=None)
    with pytest.raises(RollbackError, match="f sets no traffic state yet: give state"):
        nginx.plan(empty, params(), UPSTREAMS, "f")
    with pytest.raises(RollbackError, match="cannot go live: f names no upstream"):
        nginx.plan(empty, params(state="live"), UPSTREAMS, "f")
    with pytest.raises(RollbackError, match="active_color blue needs its address: give upstreams.blue"):
        nginx.plan(empty, params(state="live", active_color="blue"), {}, "f")
    assert nginx.plan(empty, params(state="maintenance"), {}, "f")["upstream"] is None


def test_describe():
    assert nginx.describe(dict(state="live", active_color=None, upstream="http://a:1")) == "live http://a:1"
    assert nginx.describe(dict(state="live", active_color="blue", upstream="http://a:1")) == "live blue"
    assert nginx.describe(dict(state="maintenance", active_color="blue")) == "maintenance"
    assert nginx.describe(dict(state=None)) == "no traffic state"


def test_error_line_is_nginx_own_error():
    stderr = ('nginx: [warn] conflicting server name "" on 0.0.0.0:80, ignored\n'
              'nginx: [emerg] invalid port in upstream "127.0.0.1:x" in /etc/nginx/up.conf:3\n'
              "nginx: configuration file /etc/nginx/nginx.conf test failed\n")
    assert nginx.error_line(stderr, 1) == '[emerg] invalid port in upstream "127.0.0.1:x" in /etc/nginx/up.conf:3'
    assert nginx.error_line("something\nelse\n", 1) == "something; else"
    assert nginx.error_line("", 2) == "exit 2"


def test_included_files_and_build_options(tmp_path):
    (tmp_path / "up.conf").write_text("")
    os.symlink(str(tmp_path / "up.conf"), str(tmp_path / "link.conf"))
    dump = "# configuration file /etc/nginx/nginx.conf:\nhttp {}\n\n# configuration file %s:\n" % (
        tmp_path / "link.conf")
    assert nginx.included_files(dump) == {"/etc/nginx/nginx.conf", str(tmp_path / "up.conf")}
    built = "configure arguments: --prefix=/usr/share/nginx --pid-path=/run/nginx.pid --with-debug"
    assert nginx.configure_argument(built, "pid-path") == "/run/nginx.pid"
    assert nginx.configure_argument(built, "prefix") == "/usr/share/nginx"
    assert nginx.configure_argument(built, "lock-path") is None


def test_previous_copies_are_hidden_beside_the_file_and_never_overwritten(tmp_path):
    conf = tmp_path / "up.conf"
    conf.write_text("one")
    first = nginx.save_previous(str(conf), str(tmp_path))
    conf.write_text("two")
    second = nginx.save_previous(str(conf), str(tmp_path))
    assert os.path.basename(first).startswith(".up.conf.pre-rollback-") and first != second
    assert open(first).read() == "one" and open(second).read() == "two"
    elsewhere = tmp_path / "backups"
    elsewhere.mkdir()
    assert os.path.basename(nginx.save_previous(str(conf), str(elsewhere))).startswith("up.conf.pre-rollback-")


def test_check_paths(tmp_path):
    conf = tmp_path / "up.conf"
    with pytest.raises(RollbackError, match="directory of conf_file .*/nope/up.conf does not exist"):
        nginx.check_paths(dict(conf_file=str(tmp_path / "nope" / "up.conf"), backup_dir=None))
    with pytest.raises(RollbackError, match="conf_file .*/up.conf does not exist: create it"):
        nginx.check_paths(dict(conf_file=str(conf), backup_dir=None))
    conf.write_text("")
    assert nginx.check_paths(dict(conf_file=str(conf), backup_dir=None)) == (str(conf), str(tmp_path))
    with pytest.raises(RollbackError, match="backup_dir .*/gone does not exist"):
        nginx.check_paths(dict(conf_file=str(conf), backup_dir=str(tmp_path / "gone")))


def test_master_pid_needs_a_running_nginx_master(tmp_path):
    pid_file = tmp_path / "nginx.pid"
    with pytest.raises(RollbackError, match="nginx is not running: no readable pid in"):
        nginx.master_pid(str(pid_file))
    pid_file.write_text("999999\n")
    with pytest.raises(RollbackError, match="nginx is not running: pid 999999 from"):
        nginx.master_pid(str(pid_file))
    pid_file.write_text("%d\n" % os.getpid())
    with pytest.raises(RollbackError, match="is not an nginx master process .*: stale pid file"):
        nginx.master_pid(str(pid_file))


def test_children_are_found_through_proc():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in nginx.children(os.getpid())
        probe = nginx.reloaded_probe(os.getpid(), set())
        assert probe()[0] is True
        assert nginx.reloaded_probe(os.getpid(), nginx.children(os.getpid()))() == (
            False, "no new worker process yet")
    finally:
        child.kill()
        child.wait()


def test_a_reload_is_done_only_once_no_old_worker_accepts_connections(monkeypatch):
    # nginx titles an old worker "worker process is shutting down" right before it closes its listening sockets
    # (src/os/unix/ngx_process_cycle.c); until then it may take a new connection and serve the old config.
    titles = {11: "nginx: worker process", 12: "nginx: cache manager process", 21: "nginx: worker process"}
    monkeypatch.setattr(nginx.os, "kill", lambda pid, sig: None)
    monkeypatch.setattr(nginx, "children", lambda pid: set(titles))
    monkeypatch.setattr(nginx, "_cmdline", titles.get)
    probe = nginx.reloaded_probe(1, {11, 12})
    assert probe() == (False, "new worker(s) [21], old worker(s) [11] not shutting down yet")
    titles[11] = "nginx: worker process is shutting down"
    assert probe() == (True, "new worker(s) [21]")
    del titles[11], titles[12]
    assert probe() == (True, "new worker(s) [21]")


def test_pid_directive_is_found_in_a_dump_and_comments_are_not():
    dump = "# pid /commented.pid;\nuser www-data;\npid /run/nginx.pid;\nhttp {\n    pidx 1;\n}\n"
    assert nginx.PID.findall(dump) == ["/run/nginx.pid"]
    assert nginx.PID.findall("pid 'logs/nginx.pid' ;\n") == ["logs/nginx.pid"]


def test_a_tampered_saved_upstream_is_refused():
    text = nginx.render(dict(state="maintenance", active_color="blue", upstream=UPSTREAMS["blue"], reason="r"))
    tampered = text.replace(UPSTREAMS["blue"], "http://a:1; return 200 x")
    with pytest.raises(RollbackError, match="the upstream saved in f .* holds a character nginx would read"):
        nginx.parse(tampered, UPSTREAMS, "f")
