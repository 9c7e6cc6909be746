"""rollback.core.nginx_traffic through Ansible against the lab's real nginx (front 58180, blue 58181, green 58182).

Every test starts and ends with the lab's initial state: green (1.0.1) live, written as the lab writes it.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))

from labkit import nginx as lab_nginx  # noqa: E402
from labkit.common import Lab  # noqa: E402


def get(url):
    """(status, JSON body or None)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, None


def master(lab):
    with open(lab["LAB_NGINX_PID_FILE"]) as handle:
        return int(handle.read().split()[0])


def workers(lab):
    """The master's worker pids once any reload is over: a reload replaces them all, nothing else does."""
    return lab_nginx.settled_workers(Lab(lab["LAB_DIR"]))


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


@pytest.fixture
def front(lab):
    """The lab nginx with green live as first written; the colour found is put back after, backups removed."""
    lab_dir = Lab(lab["LAB_DIR"])
    conf_dir = lab["LAB_NGINX_CONF_DIR"]
    found = (lab_nginx.served(lab_dir)[1] or {}).get("color") or lab["LAB_NGINX_INITIAL_COLOR"]
    lab_nginx.select(lab_dir, lab["LAB_NGINX_INITIAL_COLOR"])
    existing = set(os.listdir(conf_dir))
    EARLIER_BACKUPS.clear()
    EARLIER_BACKUPS.update(existing)
    yield read(lab["LAB_NGINX_UPSTREAM_FILE"])
    lab_nginx.select(lab_dir, found)
    for name in set(os.listdir(conf_dir)) - existing:
        os.remove(os.path.join(conf_dir, name))


def args(lab, **extra):
    base = dict(conf_file=lab["LAB_NGINX_UPSTREAM_FILE"], nginx_binary=lab["LAB_NGINX_BINARY"],
                nginx_prefix=lab["LAB_NGINX_PREFIX"], nginx_conf=lab["LAB_NGINX_CONF"],
                upstreams=dict(blue=lab["LAB_NGINX_BLUE_URL"], green=lab["LAB_NGINX_GREEN_URL"]),
                wait_timeout=15, wait_sleep=0.1)
    base.update(extra)
    return base


# Backups earlier rollbacks of the lab (playbook tests, the drill) left beside the file; a test counts only its own.
EARLIER_BACKUPS = set()


def backups(lab, earlier=None):
    """This test's backups beside the file: not in ``earlier`` (default EARLIER_BACKUPS, which the front fixture
    fills; a state function recorded in the playbook's process gets it as a keyword)."""
    earlier = EARLIER_BACKUPS if earlier is None else set(earlier)
    return sorted(name for name in os.listdir(lab["LAB_NGINX_CONF_DIR"])
                  if ".pre-rollback-" in name and name not in earlier)


def test_maintenance_answers_503_and_live_resumes_the_same_colour(ansible_module, lab, front):
    url = lab["LAB_NGINX_URL"] + "/version"
    reason = "database restore: it's $HOME; # not a comment"
    down = ansible_module("nginx_traffic", args(lab, state="maintenance", reason=reason, verify_url=url), diff=True)
    assert not down.failed, down.stdout
    assert down.result["changed"] and down.result["reloaded"]
    assert down.result["before"] == dict(state="live", active_color="green", upstream=lab["LAB_NGINX_GREEN_URL"],
                                         reason=None)
    assert down.result["after"]["state"] == "maintenance" and down.result["after"]["active_color"] == "green"
    assert "return 503" in down.stdout, "--diff shows the new file"
    for path in ("/version", "/health", "/anything"):
        assert get(lab["LAB_NGINX_URL"] + path) == (503, {"status": "maintenance", "reason": reason})
    assert get(lab["LAB_NGINX_GREEN_URL"] + "/version")[0] == 200, "the colours themselves keep running"
    assert read(down.result["previous_file"]) == front, "the previous file is kept byte for byte"
    assert backups(lab) == [os.path.basename(down.result["previous_file"])]
    assert os.path.basename(down.result["previous_file"]).startswith("."), "hidden from include *.conf"

    reloaded = workers(lab)
    again = ansible_module("nginx_traffic", args(lab, state="maintenance", reason=reason))
    assert not again.failed and again.result["changed"] is False and again.result["reloaded"] is False
    assert workers(lab) == reloaded and len(backups(lab)) == 1

    up = ansible_module("nginx_traffic", dict(args(lab, state="live", verify_url=url, expected_version="1.0.1"),
                                              upstreams={}))
    assert not up.failed, up.stdout
    assert up.result["changed"] and up.result["after"]["active_color"] == "green"
    assert up.result["served_version"] == "1.0.1"
    assert get(url) == (200, {"version": "1.0.1", "color": "green"})


def test_switch_to_blue_serves_the_old_version_and_leaves_green_running(ansible_module, lab, front):
    pid = master(lab)
    url = lab["LAB_NGINX_URL"] + "/version"
    switch = args(lab, state="live", active_color="blue", verify_url=url, expected_version="1.0.0")
    run = ansible_module("nginx_traffic", switch)
    assert not run.failed, run.stdout
    assert run.result["changed"] and run.result["served_version"] == "1.0.0"
    assert run.result["before"]["active_color"] == "green" and run.result["after"]["active_color"] == "blue"
    assert get(url) == (200, {"version": "1.0.0", "color": "blue"})
    assert get(lab["LAB_NGINX_GREEN_URL"] + "/version") == (200, {"version": "1.0.1", "color": "green"})
    assert master(lab) == pid, "reloaded, not restarted"

    again = ansible_module("nginx_traffic", switch)
    assert not again.failed and again.result["changed"] is False, again.stdout
    assert again.result["previous_file"] is None and again.result["served_version"] == "1.0.0"
    assert len(backups(lab)) == 1

    back = ansible_module("nginx_traffic", args(lab, active_color="green"))
    assert back.result["changed"] and back.result["after"]["state"] == "live", back.stdout
    assert get(url) == (200, {"version": "1.0.1", "color": "green"})


def test_colour_switch_during_maintenance_stays_in_maintenance(ansible_module, lab, front):
    assert ansible_module("nginx_traffic", args(lab, state="maintenance")).result["changed"]
    switched = ansible_module("nginx_traffic", args(lab, active_color="blue"))
    assert switched.result["changed"] and switched.result["after"]["state"] == "maintenance", switched.stdout
    assert get(lab["LAB_NGINX_URL"] + "/version")[0] == 503
    resumed = ansible_module("nginx_traffic", dict(args(lab, state="live"), upstreams={}))
    assert resumed.result["after"]["active_color"] == "blue", resumed.stdout
    assert get(lab["LAB_NGINX_URL"] + "/version") == (200, {"version": "1.0.0", "color": "blue"})


def test_check_mode_reports_and_changes_nothing(ansible_module, lab, front):
    before = workers(lab)
    run = ansible_module("nginx_traffic", args(lab, state="maintenance"), check=True, diff=True)
    assert not run.failed and run.result["changed"] is True, run.stdout
    assert run.result["after"]["state"] == "maintenance" and run.result["reloaded"] is False
    assert "return 503" in run.stdout
    assert read(lab["LAB_NGINX_UPSTREAM_FILE"]) == front and backups(lab) == []
    assert workers(lab) == before, "not reloaded: no new worker"
    assert get(lab["LAB_NGINX_URL"] + "/version") == (200, {"version": "1.0.1", "color": "green"})


def test_config_test_failure_puts_the_previous_file_back_without_reload(ansible_module, lab, front):
    before = workers(lab)
    bad = args(lab, active_color="blue", upstreams=dict(blue="127.0.0.1:notaport"))
    run = ansible_module("nginx_traffic", bad)
    assert run.failed
    msg = run.result["msg"]
    assert msg.startswith("nginx -t refused the new %s" % lab["LAB_NGINX_UPSTREAM_FILE"]), msg
    assert "previous file put back and nginx not reloaded" in msg
    assert 'invalid port in upstream "127.0.0.1:notaport"' in msg and "\n" not in msg
    assert read(lab["LAB_NGINX_UPSTREAM_FILE"]) == front and backups(lab) == []
    assert [name for name in os.listdir(lab["LAB_NGINX_CONF_DIR"]) if name.endswith(".tmp")] == []
    assert workers(lab) == before, "not reloaded: no new worker"
    assert get(lab["LAB_NGINX_URL"] + "/version") == (200, {"version": "1.0.1", "color": "green"})


def test_a_broken_current_config_is_never_touched(ansible_module, lab, front):
    broken = b"location / {\n    proxy_pass http://127.0.0.1:notaport;\n}\n"
    with open(lab["LAB_NGINX_UPSTREAM_FILE"], "wb") as handle:
        handle.write(broken)
    run = ansible_module("nginx_traffic", args(lab, state="maintenance"))
    assert run.failed and "fails nginx -t, fix it before switching traffic" in run.result["msg"], run.stdout
    assert read(lab["LAB_NGINX_UPSTREAM_FILE"]) == broken and backups(lab) == []
    assert get(lab["LAB_NGINX_URL"] + "/version")[0] == 200, "the running nginx still serves its loaded config"


def test_version_never_served_fails_saying_what_was_switched(ansible_module, lab, front):
    run = ansible_module("nginx_traffic", args(lab, active_color="blue", verify_url=lab["LAB_NGINX_URL"] + "/version",
                                               expected_version="9.9.9", wait_timeout=2))
    assert run.failed
    msg = run.result["msg"]
    assert "switched %s from live green to live blue and reloaded nginx, not switched back" % (
        lab["LAB_NGINX_UPSTREAM_FILE"]) in msg, msg
    assert "to serve version 9.9.9" in msg and "version 1.0.0" in msg
    assert run.result["switched"] is True and run.result["served_version"] == "1.0.0"
    assert read(run.result["previous_file"]) == front
    assert get(lab["LAB_NGINX_URL"] + "/version")[1]["color"] == "blue", "documented: left as switched"


def bad_cases(lab, tmp_path):
    dead = tmp_path / "dead.pid"
    dead.write_text("999999\n")
    stray = tmp_path / "stray.conf"
    stray.write_text("")
    return [
        (dict(conf_file=str(tmp_path / "nope" / "up.conf"), state="live"), "directory of conf_file %s does not exist"
         % (tmp_path / "nope" / "up.conf")),
        (dict(conf_file=str(tmp_path / "up.conf"), state="live"), "conf_file %s does not exist: create it"
         % (tmp_path / "up.conf")),
        (dict(conf_file=str(stray), state="maintenance"), "conf_file %s is not included by the nginx config" % stray),
        (dict(nginx_binary="/nonexistent/nginx", state="maintenance"),
         "nginx_binary /nonexistent/nginx does not exist or is not executable"),
        (dict(nginx_binary="no-such-nginx", state="maintenance"), "nginx binary no-such-nginx not found"),
        (dict(nginx_conf=str(tmp_path / "missing.conf"), state="maintenance"), "nginx_conf %s does not exist"
         % (tmp_path / "missing.conf")),
        (dict(active_color="blue", upstreams={}), "active_color blue needs its address: give upstreams.blue"),
        (dict(active_color="blue", upstreams=dict(red="127.0.0.1:1")), "upstreams has unknown colour(s) red"),
        (dict(active_color="blue", upstreams=dict(blue="127.0.0.1:1; return 200")), "holds a character nginx"),
        (dict(state="live", expected_version="1.0.0"), "expected_version needs verify_url"),
        (dict(state="live", verify_url="ftp://x"), "verify_url 'ftp://x' is not an http(s) URL"),
        (dict(state="maintenance", pid_file=str(dead)), "nginx is not running: pid 999999 from %s" % dead),
        (dict(state="maintenance", backup_dir=str(tmp_path / "nobackups")), "backup_dir %s does not exist"
         % (tmp_path / "nobackups")),
        (dict(upstreams={}), "one of the following is required: state, active_color"),
    ]


def front_state(lab, earlier):
    """The front as a call left it (module_batch.py records it after each call): the upstream file, the backups
    beside it that are not in ``earlier``, the settled workers (a reload replaces them all) and what it serves."""
    return dict(upstream=read(lab["LAB_NGINX_UPSTREAM_FILE"]).decode(), workers=sorted(workers(lab)),
                backups=backups(lab, earlier), served=list(get(lab["LAB_NGINX_URL"] + "/version")))


def test_bad_options_fail_with_one_line_and_change_nothing(module_batch, lab, front, tmp_path):
    before = workers(lab)
    cases = bad_cases(lab, tmp_path)
    earlier = sorted(EARLIER_BACKUPS)
    untouched = front_state(lab, earlier)
    runs = module_batch([("nginx_traffic", args(lab, **extra)) for extra, _expected in cases],
                        state=(front_state, dict(earlier=earlier)))
    for (extra, expected), run in zip(cases, runs):
        assert run.failed, (extra, run.stdout)
        assert expected in run.result["msg"] and "\n" not in run.result["msg"], (extra, run.result.get("msg"))
        assert run.state == untouched, extra  # each case alone: no write, no backup, no reload
    assert read(lab["LAB_NGINX_UPSTREAM_FILE"]) == front and backups(lab) == []
    assert workers(lab) == before, "not reloaded: no new worker"
    assert get(lab["LAB_NGINX_URL"] + "/version") == (200, {"version": "1.0.1", "color": "green"})
