"""The Kubernetes API simulator (lab/kubesim) with the demo app as a Deployment.

No Kubernetes API server can run here; the simulator serves the API the
official client and kubectl use. docs/lab.md says what was verified against it.
"""

import json
import os
import sys
import urllib.request

from labkit import registry
from labkit.common import LAB_SRC, ensure_port_free, http_ok, read_pid, spawn, stop_pid, wait_for

NAME = "kubernetes"
PORT = 56443
HOST = "http://127.0.0.1:%d" % PORT
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "demo", "labels": {"app": "demo"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "demo"}},
             "template": {"metadata": {"labels": {"app": "demo"}},
                          "spec": {"containers": [{"name": "web", "image": registry.DEMO_IMAGE + ":1.0.0",
                                                   "ports": [{"containerPort": 8080}]}]}}},
}
DEPLOYMENT_URL = HOST + "/apis/apps/v1/namespaces/default/deployments"


def facts(lab):
    return {"LAB_KUBECONFIG": lab.path("kubernetes", "kubeconfig"), "LAB_KUBE_HOST": HOST,
            "LAB_KUBE_NAMESPACE": "default", "LAB_KUBE_DEPLOYMENT": "demo"}


def is_up(lab):
    return http_ok(HOST + "/version")


def start(lab):
    state = "already running"
    if not (read_pid(lab.path("kubernetes", "kubesim.pid")) and is_up(lab)):
        ensure_port_free(PORT, NAME)
        lab.makedirs("kubernetes")
        log = lab.path("kubernetes", "kubesim.log")
        spawn([sys.executable, "-m", "kubesim.server", "--port", str(PORT),
               "--kubeconfig", lab.path("kubernetes", "kubeconfig")], lab.path("kubernetes", "kubesim.pid"), log,
              env=dict(os.environ, PYTHONPATH=LAB_SRC))
        wait_for(lambda: is_up(lab), "kubesim", log)
        state = "started"
    if not http_ok(DEPLOYMENT_URL + "/demo"):
        request = urllib.request.Request(DEPLOYMENT_URL, data=json.dumps(DEPLOYMENT).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()
    return state


def stop(lab):
    return "stopped" if stop_pid(lab.path("kubernetes", "kubesim.pid")) else "not running"


def status(lab):
    up = is_up(lab) and http_ok(DEPLOYMENT_URL + "/demo")
    return up, "%s (simulator), deployment default/demo %s" % (HOST, "present" if up else "missing")
