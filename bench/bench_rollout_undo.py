"""rollout_undo vs the runbook's bare commands for the same undo, on the lab.

compose: switch the demo service back from 1.0.1 to 1.0.0
  baseline: DEMO_TAG=1.0.0 docker compose up -d (and with --wait, when the module waits)
server: switch current back from v1.0.1 to v1.0.0 and restart the unit
  baseline: ln -s + mv -T (atomic) + systemctl restart
kubernetes: undo the lab Deployment default/demo from 1.0.1 to 1.0.0 and wait until rolled out (lab/kubesim)
  baseline: kubectl rollout undo + kubectl rollout status
Each run starts from the bad release (untimed). Run with the lab up:
  .venv/bin/python bench/bench_rollout_undo.py
"""

import os
import subprocess

from common import lab_facts, ratio_line, run_module, timed


def main():
    lab = lab_facts()
    env = dict(os.environ, DOCKER_HOST=lab["DOCKER_HOST"], DOCKER_CONFIG=lab["DOCKER_CONFIG"],
               PATH=lab["LAB_BIN"] + os.pathsep + os.path.join(os.path.dirname(lab["LAB_DIR"]), ".venv", "bin")
               + os.pathsep + os.environ["PATH"])
    os.environ.update(env)
    compose = ["docker", "compose", "--project-directory", lab["LAB_COMPOSE_DIR"], "-p", lab["LAB_COMPOSE_PROJECT"]]

    def compose_to(tag, *flags):
        subprocess.run(compose + ["up", "-d"] + list(flags), env=dict(env, DEMO_TAG=tag), check=True,
                       capture_output=True)

    def module_compose(wait):
        return lambda: run_module("rollout_undo", dict(platform="compose", name="demo",
                                                       project_src=lab["LAB_COMPOSE_DIR"], wait=wait))

    def bad_compose():
        compose_to("1.0.1")

    results = [
        ("compose, no wait", timed(module_compose(False), setup=bad_compose),
         "docker compose up -d", timed(lambda: compose_to("1.0.0"), setup=bad_compose)),
        ("compose, wait healthy", timed(module_compose(True), setup=bad_compose),
         "docker compose up -d --wait", timed(lambda: compose_to("1.0.0", "--wait"), setup=bad_compose)),
    ]
    compose_to("1.0.0", "--wait")

    root = lab["LAB_SERVER_RELEASES_DIR"]
    unit = lab["LAB_SERVER_UNIT"]

    def point(version):
        subprocess.run(["ln", "-sfn", os.path.join(root, "releases", version), os.path.join(root, "current.new")],
                       check=True)
        subprocess.run(["mv", "-T", os.path.join(root, "current.new"), os.path.join(root, "current")], check=True)
        subprocess.run(["systemctl", "restart", unit], check=True, env=env)

    def module_server():
        run_module("rollout_undo", dict(platform="server", name="demo", releases_dir=root, units=[unit],
                                        wait_sleep=0.1))

    def bad_server():
        point("v1.0.1")

    results.append(("server, wait active", timed(module_server, setup=bad_server),
                    "ln -s + mv -T + systemctl restart", timed(lambda: point("v1.0.0"), setup=bad_server)))
    point("v1.0.0")

    kubectl = [os.path.join(os.path.dirname(lab["LAB_DIR"]), ".venv", "bin", "kubectl"), "--kubeconfig",
               lab["LAB_KUBECONFIG"]]

    def kube(*args):
        subprocess.run(kubectl + list(args), check=True, capture_output=True)

    def bad_kubernetes():
        kube("set", "image", "deployment/demo", "web=rollback-demo:1.0.1")
        kube("rollout", "status", "deployment/demo", "--timeout=120s")

    def module_kubernetes():
        run_module("rollout_undo", dict(platform="kubernetes", name="demo", kubeconfig=lab["LAB_KUBECONFIG"],
                                        wait_sleep=0.2))

    def kubectl_undo():
        kube("rollout", "undo", "deployment/demo")
        kube("rollout", "status", "deployment/demo", "--timeout=120s")

    results.append(("kubernetes, wait rolled out", timed(module_kubernetes, setup=bad_kubernetes),
                    "kubectl rollout undo + rollout status", timed(kubectl_undo, setup=bad_kubernetes)))
    for label, ours, baseline_label, baseline in results:
        ratio_line("rollout_undo (%s)" % label, ours, baseline_label, baseline, "<= 1.3")


if __name__ == "__main__":
    main()
