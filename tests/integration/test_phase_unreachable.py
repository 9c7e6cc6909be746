"""rollback.core.phase: a host that stops answering fails its phase, and every host halts before the next phase.

The plays run with ``ignore_unreachable: true`` (playbooks/rollback.yml) so that the report always runs: Ansible then
registers the unreachable result (``unreachable: true``, see ansible-core's ``TaskExecutor`` / the ``unreachable``
test in lib/ansible/plugins/test/core.py) instead of dropping the host, and the phase must record it as failed.
"""

import json
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PLAYBOOK = """
- name: Two phases on a host that answers and one that does not
  hosts: all
  gather_facts: false
  ignore_unreachable: true
  tasks:
    - name: Start the records
      ansible.builtin.import_role:
        name: rollback.core.phase
        tasks_from: init
    - name: Run the phases in order
      ansible.builtin.include_role:
        name: rollback.core.phase
        tasks_from: run
      vars:
        phase_name: "{{ item }}"
        phase_role: probe
        phase_result: probe_result
      loop: [first, second]
    - name: Keep what every host recorded
      ansible.builtin.copy:
        content: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)
          | map(attribute='_phase_records'))) | to_json }}"
        dest: "{{ records_file }}"
        mode: "0600"
      delegate_to: localhost
      run_once: true
"""


def test_a_host_that_stops_answering_fails_its_phase_and_halts_the_others(tmp_path):
    role = tmp_path / "roles" / "probe" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text("- name: Probe\n  ansible.builtin.ping:\n  register: probe_result\n")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    # Port 9 (discard) is closed: the SSH connection is refused, the host is unreachable.
    (tmp_path / "hosts").write_text(
        "up ansible_connection=local ansible_python_interpreter=%s\n"
        "gone ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh\n"
        % os.path.join(REPO, ".venv", "bin", "python"))
    records_file = tmp_path / "records.json"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_ROLES_PATH="%s:%s" % (tmp_path / "roles", os.path.join(REPO, "roles")),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    completed = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(tmp_path / "hosts"),
         str(tmp_path / "play.yml"), "-e", "records_file=%s" % records_file],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert records_file.exists(), completed.stdout + completed.stderr
    records = json.loads(records_file.read_text())
    assert [(r["phase"], r["status"]) for r in records["up"]] == [("first", "unchanged")], \
        "the host that answered finishes the first phase and is halted before the second"
    [gone] = records["gone"]
    assert (gone["phase"], gone["status"]) == ("first", "failed"), gone
    assert gone["msg"].startswith("gone did not answer: "), gone
    assert gone["task"] == "Fail the phase when the host did not answer - first", gone
