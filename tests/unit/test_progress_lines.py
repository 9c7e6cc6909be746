"""A long wait is not silent: the timeline callback prints the running waits while the task runs (issue 22).

The module is a fixture (files_progress/library/slow_wait.py) that waits through the collection's one waiter
(module_utils/wait.py wait_until), the path every module's wait takes (RDS status, rollout, Swarm tasks,
target draining, CloudFront invalidation, nginx, systemd units, sessions to end).
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LINE = re.compile(r"^waiting: (\S+) the test clock state=countdown-(\d+)s (\d+)s \(timeout 10m\)$", re.M)


def run_playbook(tmp_path, *extra, **env):
    environ = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_CALLBACKS_ENABLED="rollback.core.timeline",
                   ANSIBLE_LIBRARY=os.path.join(HERE, "files_progress", "library"),
                   ROLLBACK_TIMELINE_FILE=str(tmp_path / "timeline.json"),
                   PATH=os.pathsep.join([os.path.join(REPO, ".venv", "bin"), os.environ.get("PATH", "")]), **env)
    return subprocess.run(["ansible-playbook", "-i", "localhost,one,two,", "-c", "local", "-e",
                           "ansible_python_interpreter=" + sys.executable,
                           os.path.join(HERE, "files_progress", "progress_playbook.yml")] + list(extra),
                          env=environ, capture_output=True, text=True, check=False)


def test_a_20_second_wait_prints_at_least_two_progress_lines(tmp_path):
    completed = run_playbook(tmp_path, "-e", "wait_seconds=20")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = LINE.findall(completed.stdout)
    assert len(lines) >= 2, completed.stdout
    # The default interval (10 s): the first line after 5 s, then every 10 s, each with the state seen then.
    elapsed = [int(seen) for _host, _left, seen in lines]
    assert all(host == "localhost" for host, _left, _seen in lines)
    assert 4 <= elapsed[0] <= 9 and all(14 >= b - a >= 8 for a, b in zip(elapsed, elapsed[1:])), lines
    assert all(abs(int(left) + seen - 20) <= 2 for (_h, left, _s), seen in zip(lines, elapsed)), lines
    # The lines come while the task runs: before its result.
    assert completed.stdout.index("waiting: localhost") < completed.stdout.index("ok: [localhost]")


def test_hosts_running_the_same_wait_at_once_are_each_named(tmp_path):
    completed = run_playbook(tmp_path, "-e", "wait_seconds=6", "-e", "wait_hosts=all",
                             ROLLBACK_PROGRESS_INTERVAL="4")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert {host for host, _left, _seen in LINE.findall(completed.stdout)} == {"localhost", "one", "two"}


RUNNING = re.compile(r'^running: (.+) "Sleep without a progress record" (\d+)s$', re.M)


def test_a_task_without_a_progress_record_is_shown_running_on_the_same_schedule(tmp_path):
    # A module run over SSH writes its record on its own host, where the controller cannot read it: the task is
    # still shown, without a state, one line for all its hosts (here a command, which keeps no record).
    completed = run_playbook(tmp_path, "-e", "plain_seconds=7", "-e", "wait_hosts=all",
                             ROLLBACK_PROGRESS_INTERVAL="4")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = RUNNING.findall(completed.stdout)
    assert lines and all(hosts == "localhost, one, two" for hosts, _seen in lines), completed.stdout
    assert 2 <= int(lines[0][1]) <= 4 and all(int(seen) <= 8 for _hosts, seen in lines), lines
    assert "waiting:" not in completed.stdout


def test_a_task_with_a_progress_record_is_not_also_shown_running(tmp_path):
    completed = run_playbook(tmp_path, "-e", "wait_seconds=7", ROLLBACK_PROGRESS_INTERVAL="4")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert LINE.findall(completed.stdout) and "running:" not in completed.stdout


def test_a_short_wait_prints_nothing_and_zero_turns_progress_off(tmp_path):
    short = run_playbook(tmp_path, "-e", "wait_seconds=2", "-e", "plain_seconds=2").stdout
    assert LINE.findall(short) == [] and "running:" not in short
    completed = run_playbook(tmp_path, "-e", "wait_seconds=7", ROLLBACK_PROGRESS_INTERVAL="0")
    assert completed.returncode == 0 and "waiting:" not in completed.stdout


def test_the_lines_are_job_events_under_ansible_runner_as_in_awx(tmp_path):
    """AWX runs playbooks through ansible-runner, whose display callback turns every Display line printed outside
    a callback event into an event of its own (ansible_runner/display_callback/callback/awx_display.py,
    display_with_context): the job output shows them as they come."""
    import ansible_runner

    project = tmp_path / "project"
    project.mkdir()
    with open(os.path.join(HERE, "files_progress", "progress_playbook.yml")) as playbook:
        (project / "progress_playbook.yml").write_text(playbook.read())
    run = ansible_runner.run(
        private_data_dir=str(tmp_path), playbook="progress_playbook.yml", inventory="localhost,", quiet=True,
        cmdline="-c local -e ansible_python_interpreter=%s -e wait_seconds=7" % sys.executable,
        envvars=dict(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                     ANSIBLE_CALLBACKS_ENABLED="rollback.core.timeline",
                     ANSIBLE_LIBRARY=os.path.join(HERE, "files_progress", "library"), ROLLBACK_PROGRESS_INTERVAL="4",
                     ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"),
                     ROLLBACK_TIMELINE_FILE=str(tmp_path / "timeline.json"),
                     PATH=os.pathsep.join([os.path.join(REPO, ".venv", "bin"), os.environ.get("PATH", "")])))
    assert run.status == "successful", run.stdout.read()
    events = [event for event in run.events if "waiting: localhost the test clock" in event.get("stdout", "")]
    assert events and all(event["event"] == "verbose" for event in events), [e.get("stdout") for e in run.events]


def test_the_time_a_phase_waited_in_modules_is_in_its_line_and_the_timeline(tmp_path):
    """The run's module_seconds is the sum of its phases' own: what a phase spent outside its modules is Ansible's
    overhead, phase by phase (issue 22)."""
    completed = run_playbook(tmp_path, "-e", "wait_seconds=1.5", ROLLBACK_PROGRESS_INTERVAL="0")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    with open(str(tmp_path / "timeline.json")) as handle:
        timeline = json.load(handle)
    waited = [phase for phase in timeline["phases"] if phase["module_seconds"] > 0]
    assert [phase["name"] for phase in waited] == ["Progress fixture"]
    assert 1.5 <= waited[0]["module_seconds"] <= waited[0]["duration"]
    assert timeline["module_seconds"] == round(sum(p["module_seconds"] for p in timeline["phases"]), 3)
    # Two tasks: the wait, and the fixture's sleep without a record (skipped here).
    assert re.search(r"^Progress fixture .* 2 task\(s\), 0 changed, 1\.[5-9]s in modules$", completed.stdout, re.M)
