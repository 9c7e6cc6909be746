#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nginx_traffic
short_description: Put an nginx load balancer in maintenance, resume it, or switch its live blue/green colour
description:
  - Runbook 000 step 1.2 (Option B, nginx) and step 4.5 - every request to the front gets a 503 maintenance
    page while the database is restored, then traffic resumes. Runbook 003 - the blue/green switch back to the
    previous environment, confirming the version it now serves; the other colour is left running untouched.
  - The module owns O(conf_file), a file included inside the front's C(server) block that holds its
    C(location /) - C(proxy_pass) to the live colour, or C(return 503) with a JSON body whose C(status) is
    C(maintenance) and whose C(reason) is O(reason). Keep every other directive (headers, TLS) in the server block.
    A comment line in the file remembers the live colour and its address during maintenance, so
    O(state=live) resumes without more input.
  - The state is read from the file's directives; nothing is written when it is already the wanted one.
  - A change copies the previous file (see O(backup_dir)), writes the new one atomically and runs C(nginx -t)
    with O(nginx_prefix) and O(nginx_conf). When the test fails the previous file is put back, nginx is not
    reloaded, and the module fails with nginx's error. Otherwise the master (found through O(pid_file)) gets
    SIGHUP, as with C(nginx -s reload) or C(systemctl reload nginx), and the module waits until the master runs
    new workers (it accepted the config; if it does not, the previous file is put back).
  - With O(verify_url), the module then waits until that URL answers 503 in maintenance, or, live, 2xx/3xx and
    O(expected_version) at O(version_field) of its JSON. If that never happens after a switch, the module fails
    saying what was switched and does B(not) switch back - putting the previous colour (often the bad
    release) live again is left to a human; RV(previous_file) holds the previous file.
  - Before any change, the current config must pass C(nginx -t), must include O(conf_file), and nginx must be
    running.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.wait
options:
  conf_file:
    description:
      - The include file this module manages. It must exist (empty is fine the first time) and be included by
        the nginx configuration.
    type: path
    required: true
  state:
    description:
      - V(maintenance) - every request gets 503 with the maintenance body. V(live) - the front proxies to the
        live colour.
      - Default, the file's current state (a colour switch during maintenance stays in maintenance and is
        served once O(state=live)).
      - One of O(state) and O(active_color) is required.
    type: str
    choices: [live, maintenance]
  active_color:
    description:
      - The colour to make live (or to resume with, in maintenance). Its address comes from O(upstreams).
      - Default, the current colour.
    type: str
    choices: [blue, green]
  upstreams:
    description:
      - Address of each colour - C(host:port) or a URL (C(http://blue_pool) for an C(upstream) block defined
        elsewhere). C(http://) is added when no scheme is given. Needed for the colour in O(active_color).
      - Also used to name the colour of the file's current C(proxy_pass).
    type: dict
    default: {}
  reason:
    description:
      - Reason in the maintenance body.
    type: str
    default: rollback in progress
  nginx_binary:
    description:
      - The nginx binary, a path or a name looked up on PATH and in the sbin directories.
    type: path
    default: nginx
  nginx_prefix:
    description:
      - Prefix path given as C(-p) to C(nginx -t) and C(nginx -T). Default, nginx's compiled one.
    type: path
  nginx_conf:
    description:
      - Main configuration given as C(-c). Default, nginx's compiled one (C(/etc/nginx/nginx.conf) on Debian).
    type: path
  pid_file:
    description:
      - Pid file of the running master. Default, the config's C(pid) directive, else nginx's compiled default.
    type: path
  verify_url:
    description:
      - URL through the front to check after the change (and on an unchanged run), e.g. C(https://lb/version).
    type: str
  expected_version:
    description:
      - Version O(verify_url) must serve once live, compared as text with its JSON at O(version_field).
      - Not checked in maintenance (a warning says so).
    type: str
  version_field:
    description:
      - Dotted path of the version in O(verify_url)'s JSON.
    type: str
    default: version
  backup_dir:
    description:
      - Directory for the copy of the previous file, named C(<name>.pre-rollback-<UTC time>). Default, the
        directory of O(conf_file), where the copy is a dot file so that an C(include *.conf) never loads it.
    type: path
notes:
  - Both colours keep running - only the front's C(location /) changes.
  - Needs permission to write O(conf_file) and to signal the nginx master (usually C(become)).
attributes:
  check_mode:
    support: full
    description: Validates everything (nginx -t of the current config, the include, the running master) and
      reports what would change; writes nothing and reloads nothing.
  diff_mode:
    support: full
    description: The managed file's text before and after.
"""

EXAMPLES = r"""
- name: Runbook 000 step 1.2 - maintenance page on the load balancer
  rollback.core.nginx_traffic:
    conf_file: /etc/nginx/rollback/api-upstream.conf
    state: maintenance
    reason: database restore
    verify_url: https://api.example.com/health
  become: true

- name: Runbook 000 step 4.5 - resume traffic to the colour that was live
  rollback.core.nginx_traffic:
    conf_file: /etc/nginx/rollback/api-upstream.conf
    state: live
  become: true

- name: Runbook 003 - switch back to blue and confirm the version served
  rollback.core.nginx_traffic:
    conf_file: /etc/nginx/rollback/api-upstream.conf
    state: live
    active_color: blue
    upstreams:
      blue: 10.0.1.10:8080
      green: 10.0.2.10:8080
    verify_url: https://api.example.com/version
    expected_version: 1.0.0
    wait_timeout: 60
  become: true
"""

RETURN = r"""
conf_file:
  description: The managed file.
  returned: always
  type: str
before:
  description: Traffic state found - C(state) (live, maintenance or null for an empty file), C(active_color),
    C(upstream) (the proxy_pass URL, kept during maintenance) and C(reason) (maintenance only).
  returned: always
  type: dict
  sample: {state: live, active_color: green, upstream: "http://10.0.2.10:8080", reason: null}
after:
  description: Traffic state set, same keys as RV(before).
  returned: always
  type: dict
  sample: {state: live, active_color: blue, upstream: "http://10.0.1.10:8080", reason: null}
previous_file:
  description: Copy of the file before the change, to restore it exactly; null when nothing changed.
  returned: always
  type: str
reloaded:
  description: Whether nginx was sent SIGHUP.
  returned: always
  type: bool
served_version:
  description: Version O(verify_url) served at the end (text), when live and verified.
  returned: always
  type: str
from_version:
  description: The live colour before (C(active_color) of RV(before)), for reports.
  returned: always
  type: str
to_version:
  description: The live colour after (C(active_color) of RV(after)), for reports.
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import nginx
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


def main():
    module = RollbackModule(
        dict(),
        shared_specs=(nginx.NGINX_TRAFFIC_SPEC, WAIT_SPEC),
        required_one_of=[("state", "active_color")],
        supports_check_mode=True,
    )
    module.run(lambda module: nginx.switch(module, Waiter(module)))


if __name__ == "__main__":
    main()
