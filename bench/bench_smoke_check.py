"""One smoke_check round over 50 endpoints that each answer in 200 ms.

Prints: the round (module_utils, in process) and the whole module process
against the slowest single endpoint, and what sequential ansible.builtin.uri
tasks take for the same 50 requests. Needs no lab.
Run: .venv/bin/python bench/bench_smoke_check.py
"""

import os
import subprocess
import sys
import tempfile
import time

from common import COLLECTIONS, REPO, ratio_line, run_module, timed

sys.path[:0] = [COLLECTIONS, os.path.join(REPO, "tests")]

from ansible_collections.rollback.core.plugins.module_utils.http_checks import request, run_checks  # noqa: E402
from support.http_servers import slow_server  # noqa: E402

ENDPOINTS = 50
DELAY = 0.2

PLAYBOOK = """\
- name: Sequential uri checks
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check each endpoint
      ansible.builtin.uri:
        url: "{{ item }}"
      loop: %s
"""


def main():
    server = slow_server(DELAY)
    try:
        urls = ["%s/e%d" % (server.url, n) for n in range(ENDPOINTS)]
        checks = [dict(name="e%d" % n, url=url, method="GET", headers={}, status=[200]) for n, url in enumerate(urls)]
        single = timed(lambda: request(urls[0]), repeat=5)
        round_time = timed(lambda: run_checks(checks, 1, 0, 1, 0, 5.0, 64, True), repeat=5)
        module_time = timed(lambda: run_module("smoke_check", dict(checks=[dict(name=c["name"], url=c["url"])
                                                                           for c in checks])), repeat=3)
        playbook = os.path.join(tempfile.mkdtemp(prefix="bench-uri-"), "uri.yml")
        with open(playbook, "w") as handle:
            handle.write(PLAYBOOK % urls)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
        began = time.perf_counter()
        subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", "-c", "local",
                        "-e", "ansible_python_interpreter=" + sys.executable, playbook], env=env, check=True,
                       capture_output=True)
        uri_time = time.perf_counter() - began
    finally:
        server.stop()
    print("%d endpoints x %.0f ms each" % (ENDPOINTS, DELAY * 1000))
    ratio_line("one smoke_check round (in process)", round_time, "slowest single endpoint", single, "<= 1.5")
    ratio_line("whole smoke_check module process", module_time, "slowest single endpoint", single)
    ratio_line("sequential ansible.builtin.uri loop", uri_time, "smoke_check module", module_time)


if __name__ == "__main__":
    main()
