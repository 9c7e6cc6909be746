"""Simulated users (lab/demo_app/users.py): RATE requests per second to /api/items on every demo app target.

Without traffic an error rate is 0/0: the bad release 1.0.1 answers half of these with 500, which is what
Prometheus' error-rate triggers see. Stdlib only, run by the system python like the server target's app.
"""

import os

from labkit.common import LAB_SRC, read_pid, spawn, stop_pid
from labkit.monitoring import APP_TARGETS
from labkit.server import _python

NAME = "users"
RATE = 4.0


def urls():
    return ["http://%s/api/items" % address for _service, address in sorted(APP_TARGETS.items())]


def facts(lab):
    return {"LAB_USERS_RATE": RATE}


def is_up(lab):
    return bool(read_pid(lab.path("users", "users.pid")))


def start(lab):
    if is_up(lab):
        return "already running"
    lab.makedirs("users")
    spawn([_python(), os.path.join(LAB_SRC, "demo_app", "users.py"), "--rate", str(RATE)] + urls(),
          lab.path("users", "users.pid"), lab.path("users", "users.log"))
    return "started"


def stop(lab):
    return "stopped" if stop_pid(lab.path("users", "users.pid")) else "not running"


def status(lab):
    return is_up(lab), "%g requests/s to each of %s" % (RATE, ", ".join(urls()))
