"""The heavy client libraries are imported by the platform that uses them, not by every module run (issue 22).

A module process imports everything its file names at the top: the kubernetes client costs about half a second
of CPU, paid by every compose, server and Swarm task of rollout_undo and traffic if imported there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

COLLECTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", ".collections")


def imported_after(module):
    code = ("import importlib, json, sys; importlib.import_module(%r); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'docker'))))") % module
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=COLLECTIONS)).stdout
    return json.loads(out)


@pytest.mark.parametrize("module", ["rollout_undo", "traffic", "k8s_config_restore", "swarm_service_rollback"])
def test_module_import_loads_no_kubernetes_or_docker_client(module):
    assert imported_after("ansible_collections.rollback.core.plugins.modules." + module) == []


def test_kubernetes_client_is_imported_when_a_kube_is_made(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": "http://127.0.0.1:1"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
        "users": [{"name": "lab", "user": {"token": "t"}}]}))
    code = ("import sys; from ansible_collections.rollback.core.plugins.module_utils.kubernetes import Kube; "
            "kube = Kube({'kubeconfig': %r}); print('kubernetes.client' in sys.modules, kube.server)") % str(kubeconfig)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=COLLECTIONS)).stdout
    assert out.split()[:2] == ["True", "http://127.0.0.1:1"]


def test_missing_client_is_reported_through_require_library(monkeypatch):
    from ansible_collections.rollback.core.plugins.module_utils import requirements

    assert requirements.missing(["rollout_undo:kubernetes"], find_spec=lambda name: None) == [
        dict(module="rollout_undo:kubernetes", library="kubernetes", pip="kubernetes")]
