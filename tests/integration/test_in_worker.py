"""Modules on the controller run inside Ansible's worker; on a remote host, as a module process (issue 22).

ansible-core logs every command it runs for a module at -vvv (`<host> EXEC ...`, ActionBase._low_level_execute_command):
a module run in the worker runs none, a module on the lab's SSH host still does.
"""

import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_controller_module_runs_no_process_and_a_remote_one_still_does(lab_env):
    completed = subprocess.run(
        ["ansible", "localhost,demo-server", "-i", os.path.join(REPO, "inventories", "lab"), "-vvv",
         "-m", "rollback.core.module_requirements", "-a", "modules=rollout_undo:server"],
        cwd=REPO, env=dict(lab_env, ANSIBLE_STDOUT_CALLBACK="minimal"), capture_output=True, text=True, timeout=300,
        check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert re.search(r"^localhost \| SUCCESS", output, re.M) and re.search(r"^demo-server \| SUCCESS", output, re.M)
    assert not re.search(r"^<(localhost|127\.0\.0\.1)> EXEC", output, re.M), output
    assert re.search(r"^<127\.0\.0\.2> SSH: EXEC", output, re.M), output
    assert ".venv-remote/bin/python" in output.split("demo-server | SUCCESS", 1)[1]
