"""How fast the simulator rolls out: the playbook tests wait on it.

A Deployment of 2 replicas (maxSurge 25% -> 1, maxUnavailable 25% -> 0) with the lab's 0.2 s readiness
delay, image changed and waited for with ``kubectl rollout status``. The upstream algorithm needs two
waves of new pods, each ready after 0.2 s, so 0.4 s is the floor the simulator is compared with; the
issue asks for about a second. Needs no lab (the simulator runs in this process).
Run: .venv/bin/python bench/bench_kubesim_rollout.py
"""

import os
import pathlib
import shutil
import sys
import tempfile

from common import COLLECTIONS, REPO, ratio_line, timed

sys.path[:0] = [COLLECTIONS, os.path.join(REPO, "lab"), os.path.join(REPO, "tests")]

import yaml  # noqa: E402
from support.kube import DEPLOYMENT, Settings, Simulator  # noqa: E402

FLOOR = 2 * 0.2  # two waves of surged pods, each Ready after the readiness delay


def main():
    directory = tempfile.mkdtemp()
    sim = Simulator(pathlib.Path(directory), "bench", Settings(ready_delay=0.2))
    images = iter("rollback-demo:1.0.%d" % n for n in range(1, 100))
    try:
        sim.kubectl("create", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
        sim.kubectl("rollout", "status", "deployment/demo", "--timeout=60s")

        def rollout():
            sim.kubectl("set", "image", "deployment/demo", "web=" + next(images))
            sim.kubectl("rollout", "status", "deployment/demo", "--timeout=60s")

        def kubectl_only():
            sim.kubectl("get", "deployment/demo", "-o", "name")
            sim.kubectl("get", "deployment/demo", "-o", "name")

        overhead = timed(kubectl_only, repeat=5)
        took = timed(rollout, repeat=5)
        print("kubectl process overhead for the two commands: %.3fs" % overhead)
        ratio_line("2-replica rollout (set image + rollout status) minus kubectl overhead", took - overhead,
                   "the algorithm's floor (2 waves x 0.2 s)", FLOOR, target="about 1 s, ratio <= 2.5")
    finally:
        sim.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
