"""A module run by another Python sends the payload the last run built, without building it again (issue 22).

ansible-core logs its payload cache at ANSIBLE_DEBUG (module_common._find_module_utils): "ANSIBALLZ: Creating
module" when it builds one, "ANSIBALLZ: using cached module" when it reads it from the run's cache. Debian's
/usr/bin/python3 is not the controller's Python, so the module runs as a module process with a payload, as on a
remote host (plugins/plugin_utils/payload_cache.py).
"""

import os
import re
import subprocess

import pytest

# Needs no lab service: ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = "ansible_collections.rollback.core.plugins.modules.module_requirements"


def run(local_tmp, **env):
    completed = subprocess.run(
        ["ansible", "localhost", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=/usr/bin/python3",
         "-m", "rollback.core.module_requirements", "-a", "modules=rollout_undo:server"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_LOCAL_TEMP=local_tmp,
                 ANSIBLE_DEBUG="1", ANSIBLE_STDOUT_CALLBACK="minimal",
                 PATH=os.pathsep.join([os.path.join(REPO, ".venv", "bin"), os.environ.get("PATH", "")]), **env))
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0 and re.search(r"^localhost \| SUCCESS", output, re.M), output
    built = re.search(r"ANSIBALLZ: Creating module", output) is not None
    cached = re.search(r"ANSIBALLZ: using cached module: \S+/ansiballz_cache/%s-" % re.escape(MODULE), output)
    return built, cached is not None


def kept(local_tmp):
    store = os.path.join(local_tmp, "rollback-core-ansiballz")
    return sorted(name.split("~")[0] for key in os.listdir(store) for name in os.listdir(os.path.join(store, key)))


def test_the_second_run_sends_the_kept_payload_and_off_builds_it(tmp_path):
    local_tmp = str(tmp_path)
    assert run(local_tmp) == (True, False)
    (entry,) = kept(local_tmp)
    assert entry.startswith(MODULE + "-")
    assert run(local_tmp) == (False, True)
    assert run(local_tmp, ROLLBACK_CORE_PAYLOAD_CACHE="false") == (True, False)
    assert kept(local_tmp) == [entry]
    # the runs' own directories are gone, as ansible-core leaves them; the store stays
    assert sorted(os.listdir(local_tmp)) == ["rollback-core-ansiballz"]
