"""A Kubernetes API simulator (lab/kubesim) per test, on a free port, with kubectl against it."""

import json
import os
import subprocess
import sys
import threading
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))

from ansible_collections.rollback.core.plugins.module_utils.kubernetes import pruned  # noqa: E402
from kubesim.server import kubeconfig_text, serve  # noqa: E402
from kubesim.settings import Settings  # noqa: E402

__all__ = ("DEPLOYMENT", "Settings", "Simulator", "pruned", "wait_until")
KUBECTL = os.path.join(REPO, ".venv", "bin", "kubectl")
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "demo", "labels": {"app": "demo"}, "annotations": {"team": "payments"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "demo"}},
             "template": {"metadata": {"labels": {"app": "demo"}},
                          "spec": {"containers": [{"name": "web", "image": "rollback-demo:1.0.0"}]}}},
}


def wait_until(check, timeout=20, step=0.05):
    """Poll until check() is truthy; returns its last value (never sleeps longer than needed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Simulator:
    def __init__(self, tmp_path, name, settings=None):
        self.kubeconfig = str(tmp_path / ("%s.kubeconfig" % name))
        self.server = serve(0, self.kubeconfig, settings)
        self.cluster = self.server.cluster
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubectl(self, *args, check=True, stdin=None, token=None):
        auth = ["--token", token] if token else []
        completed = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir",
                                    os.path.dirname(self.kubeconfig) + "/kcache"] + auth + list(args),
                                   input=stdin, capture_output=True, text=True, check=False)
        if check:
            assert completed.returncode == 0, completed.stderr
        return completed

    def kubeconfig_for(self, token, path):
        """A kubeconfig that authenticates with this token (a ServiceAccount's, in RBAC mode)."""
        with open(path, "w") as handle:
            handle.write(kubeconfig_text(self.server, token))
        return str(path)

    def get(self, *args):
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def apply(self, *objects, namespace="default"):
        return self.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(objects))

    def history(self, *images):
        self.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
        for image in images:
            self.kubectl("set", "image", "deployment/demo", "web=" + image)

    def settle(self, timeout=60):
        """Wait for demo's rollout to finish: the controllers keep writing until then, so state compared
        before and after must be read once it has settled."""
        self.kubectl("rollout", "status", "deployment/demo", "--timeout=%ds" % timeout)

    def image(self):
        return self.get("deployment", "demo")["spec"]["template"]["spec"]["containers"][0]["image"]

    def stop(self):
        self.server.shutdown()
