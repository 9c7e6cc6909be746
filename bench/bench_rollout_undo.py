"""rollout_undo vs the runbook's bare commands for the same undo, on the lab.

compose: switch the demo service back from 1.0.1 to 1.0.0 so that it stays there (the module writes the tag in
  the project's .env, as the lab's pipeline does, saves the previous .env, reads and appends the deploy history)
  baseline: the tag written in .env (runbook 000 option B's sed) + docker compose up -d (and --wait, when the
  module waits)
compose, pull: the same when 1.0.0 is no longer on the host and comes from the lab's registry (htpasswd),
  reported apart (no target: the pull dominates)
  baseline: docker pull + the tag written in .env + docker compose up -d --wait
server: switch current back from v1.0.1 to v1.0.0 and restart the unit
  baseline: ln -s + mv -T (atomic) + systemctl restart
kubernetes: undo the lab Deployment default/demo from 1.0.1 to 1.0.0 and wait until rolled out (lab/kubesim)
  baseline: kubectl rollout undo + kubectl rollout status
Each run starts from the bad release (untimed). Run with the lab up:
  .venv/bin/python bench/bench_rollout_undo.py
"""

import io
import json
import os
import shutil
import subprocess
import tempfile
import time

import docker
from common import free_port, lab_facts, ratio_line, run_module, timed

COMPOSE_FILE = """\
services:
  web:
    image: %(repository)s:${DEMO_TAG}
    network_mode: host
    environment:
      PORT: "%(port)d"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:%(port)d/health"]
      interval: 1s
      timeout: 3s
      retries: 3
"""


def deployer(env, directory, project, repository):
    """What the lab's pipeline does: the tag in .env, docker compose up -d, a deploy-history line."""
    compose = ["docker", "compose", "--project-directory", directory, "-p", project]

    def deploy(tag, *flags, record=True):
        with open(os.path.join(directory, ".env"), "w") as handle:
            handle.write("DEMO_TAG=%s\n" % tag)
        subprocess.run(compose + ["up", "-d"] + list(flags), env=env, check=True, capture_output=True)
        if record:
            with open(os.path.join(directory, ".deploy-history.jsonl"), "a") as handle:
                handle.write(json.dumps({"project": project, "service": "web", "event": "deploy", "source": "bench",
                                         "image": "%s:%s" % (repository, tag),
                                         "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")

    return deploy


def compose_results(lab, env):
    deploy = deployer(env, lab["LAB_COMPOSE_DIR"], lab["LAB_COMPOSE_PROJECT"], lab["LAB_DEMO_IMAGE"])

    def module(wait):
        return lambda: run_module("rollout_undo", dict(platform="compose", name="demo",
                                                       project_src=lab["LAB_COMPOSE_DIR"], wait=wait))

    def bad():
        deploy("1.0.1")

    def baseline(*flags):
        return lambda: deploy("1.0.0", *flags, record=False)

    try:
        return [
            ("compose, no wait", timed(module(False), setup=bad),
             "tag in .env + docker compose up -d", timed(baseline(), setup=bad)),
            ("compose, wait healthy", timed(module(True), setup=bad),
             "tag in .env + docker compose up -d --wait", timed(baseline("--wait"), setup=bad)),
        ]
    finally:
        deploy("1.0.0", "--wait")


def pull_results(lab, env):
    """A project of the demo app whose images have a repository of their own in the registry."""
    client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
    auth = dict(username=lab["LAB_REGISTRY_USER"], password=lab["LAB_REGISTRY_PASSWORD"])
    repository = lab["LAB_REGISTRY"] + "/rollback-bench"
    for tag in ("1.0.0", "1.0.1"):
        dockerfile = "FROM %s:%s\nLABEL rollback.core.bench=pull\n" % (lab["LAB_DEMO_IMAGE"], tag)
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag="%s:%s" % (repository, tag), rm=True)
        for line in client.images.push(repository, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in line:
                raise SystemExit("bench: docker push %s:%s failed: %s" % (repository, tag, line["error"]))
    directory = tempfile.mkdtemp(prefix="rollback-bench-pull-")
    with open(os.path.join(directory, "compose.yaml"), "w") as handle:
        handle.write(COMPOSE_FILE % dict(repository=repository, port=free_port()))
    deploy = deployer(env, directory, "bench-pull", repository)

    def bad():
        deploy("1.0.1")
        try:
            client.images.remove("%s:1.0.0" % repository)
        except docker.errors.ImageNotFound:
            pass

    def baseline():
        subprocess.run(["docker", "pull", "-q", "%s:1.0.0" % repository], env=env, check=True, capture_output=True)
        deploy("1.0.0", "--wait", record=False)

    def module():
        result = run_module("rollout_undo", dict(platform="compose", name="bench", project_src=directory,
                                                 project_name="bench-pull"))
        assert list(result["images"].values()) == ["pulled"], result

    try:
        deploy("1.0.0", "--wait")
        return [("compose, pull + wait healthy", timed(module, setup=bad),
                 "docker pull + tag in .env + docker compose up -d --wait", timed(baseline, setup=bad))]
    finally:
        subprocess.run(["docker", "compose", "--project-directory", directory, "-p", "bench-pull", "down", "-t", "1"],
                       env=env, check=False, capture_output=True)
        shutil.rmtree(directory)


def main():
    lab = lab_facts()
    env = dict(os.environ, DOCKER_HOST=lab["DOCKER_HOST"], DOCKER_CONFIG=lab["DOCKER_CONFIG"],
               PATH=lab["LAB_BIN"] + os.pathsep + os.path.join(os.path.dirname(lab["LAB_DIR"]), ".venv", "bin")
               + os.pathsep + os.environ["PATH"])
    os.environ.update(env)
    results = compose_results(lab, env)
    for label, ours, baseline_label, baseline in pull_results(lab, env):
        ratio_line("rollout_undo (%s)" % label, ours, baseline_label, baseline)

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
