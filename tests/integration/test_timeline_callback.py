"""The timeline callback on a real playbook run: phases by role, durations, budget verdict, JSON file."""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_playbook(lab_env, tmp_path, *extra):
    output = tmp_path / "timeline.json"
    env = dict(lab_env, ANSIBLE_CALLBACKS_ENABLED="rollback.core.timeline", ROLLBACK_TIMELINE_FILE=str(output),
               ANSIBLE_ROLES_PATH=os.path.join(HERE, "files", "roles"))
    completed = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e",
                                "ansible_python_interpreter=" + sys.executable,
                                os.path.join(HERE, "files", "timeline_playbook.yml")] + list(extra),
                               env=env, capture_output=True, text=True, check=False)
    return completed, json.loads(output.read_text())


def test_phases_are_timed_and_compared_with_the_level_budget(lab_env, tmp_path):
    completed, timeline = run_playbook(lab_env, tmp_path, "-e", "level=1")
    assert completed.returncode == 0, completed.stdout
    names = [phase["name"] for phase in timeline["phases"]]
    assert names[-2:] == ["phase_one", "phase_two"]
    one, two = timeline["phases"][-2:]
    # The sleeps bound the durations from below; load only ever adds to them.
    assert one["duration"] >= 0.3 and two["duration"] >= 0.6
    assert two["changed"] == 1 and two["status"] == "ok" and one["changed"] == 0
    assert one["end"] <= two["start"] and two["end"] <= timeline["total_seconds"]
    assert (timeline["level"], timeline["budget_seconds"], timeline["within_budget"]) == ("1", 300.0, True)
    assert "ROLLBACK TIMELINE" in completed.stdout and "of the level 1 budget 300s: within budget" in completed.stdout


def test_a_failed_phase_is_marked_and_a_tight_budget_is_reported_over(lab_env, tmp_path):
    completed, timeline = run_playbook(lab_env, tmp_path, "-e", "level=3", "-e", "fail_phase_two=true")
    assert completed.returncode != 0
    assert timeline["phases"][-1]["status"] == "failed" and timeline["phases"][-1]["failed"] == 1
    completed, timeline = run_playbook(dict(lab_env, ROLLBACK_TIMELINE_BUDGETS="1=0.1"), tmp_path, "-e", "level=1")
    assert timeline["within_budget"] is False and "OVER BUDGET" in completed.stdout


def test_a_timeline_file_of_its_own_is_read_during_the_run_and_removed_at_its_end(lab_env, tmp_path):
    # Each run used to leave its rollback-timeline-*.json in the temporary directory (898 of them on a
    # developer's machine, 2026-12-05).
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = dict(lab_env, ANSIBLE_CALLBACKS_ENABLED="rollback.core.timeline", TMPDIR=str(temporary),
               ANSIBLE_ROLES_PATH=os.path.join(HERE, "files", "roles"))
    env.pop("ROLLBACK_TIMELINE_FILE", None)
    completed = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
         "-e", "level=1", os.path.join(HERE, "files", "timeline_playbook.yml")],
        env=env, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout
    # phase_two shows what a report play reads: the file the callback named in the run's environment.
    assert "timeline file during the run: present" in completed.stdout
    assert [name for name in os.listdir(temporary) if name.startswith("rollback-timeline-")] == []


def test_a_long_module_on_the_remote_host_over_ssh_is_shown_running(lab_env, tmp_path):
    """A module run over SSH writes its progress record on its own host, where the controller cannot read it (a
    pg_restore on a remote database host): the callback still shows the task running, without a state (issue 22:
    no silent minute). The lab's demo-server is reached over SSH (inventories/lab/group_vars/lab_remote.yml)."""
    repo = os.path.dirname(os.path.dirname(HERE))
    playbook = tmp_path / "remote_wait.yml"
    playbook.write_text(
        "- name: Remote wait\n  hosts: demo-server\n  gather_facts: false\n  tasks:\n"
        "    - name: Wait on the remote host\n      slow_wait: {seconds: 7, wait_timeout: 60, wait_sleep: 0.5}\n")
    env = dict(lab_env, ANSIBLE_CALLBACKS_ENABLED="rollback.core.timeline", ROLLBACK_PROGRESS_INTERVAL="4",
               ROLLBACK_TIMELINE_FILE=str(tmp_path / "timeline.json"),
               ANSIBLE_LIBRARY=os.path.join(repo, "tests", "unit", "files_progress", "library"))
    completed = subprocess.run(["ansible-playbook", "-i", os.path.join(repo, "inventories", "lab"), str(playbook)],
                               cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    running = re.findall(r'^running: demo-server "Wait on the remote host" (\d+)s$', completed.stdout, re.M)
    assert running and int(running[0]) <= 4, completed.stdout
    assert "waiting:" not in completed.stdout, "no record of the remote module reaches the controller"
    assert completed.stdout.index("running: demo-server") < completed.stdout.index("ok: [demo-server]")
