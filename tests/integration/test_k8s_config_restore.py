"""k8s_config_restore against the Kubernetes API simulator (lab/kubesim)."""

import base64

import pytest
import yaml
from support.kube import Simulator

SECRET_VALUE = "db-pass-restored-77"


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "config")
    simulator.history()
    live = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config"},
         "data": {"LOG_LEVEL": "debug", "FEATURE_X": "on"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-secret"}, "type": "Opaque",
         "data": {"DB_PASSWORD": base64.b64encode(b"db-pass-bad-11").decode()}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "untouched"}, "data": {"A": "1"}},
    ]
    simulator.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump_all(live))
    yield simulator
    simulator.stop()


def write_backup(tmp_path):
    backup = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config"},
         "data": {"LOG_LEVEL": "info", "FEATURE_X": "off"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-secret"}, "type": "Opaque",
         "stringData": {"DB_PASSWORD": SECRET_VALUE}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new-config"}, "data": {"B": "2"}},
    ]}
    path = tmp_path / "backup.yaml"
    path.write_text(yaml.safe_dump(backup))
    return str(path)


def args(sim, backup, **extra):
    return dict(dict(kubeconfig=sim.kubeconfig, backup=backup, wait_timeout=10, wait_sleep=0.1), **extra)


def test_restores_only_differing_objects_saves_current_and_restarts(ansible_module, sim, tmp_path):
    saved = tmp_path / "current.yaml"
    run = ansible_module("k8s_config_restore", args(sim, write_backup(tmp_path), save_current_to=str(saved),
                                                    restart=["demo"]), diff=True, verbosity=3)
    assert not run.failed, run.stdout
    assert run.result["created"] == ["ConfigMap default/new-config"]
    assert run.result["updated"] == ["ConfigMap default/api-config", "Secret default/api-secret"]
    assert run.result["restarted"] == ["demo"]
    assert sim.get("configmap", "api-config")["data"] == {"LOG_LEVEL": "info", "FEATURE_X": "off"}
    secret = sim.get("secret", "api-secret")["data"]["DB_PASSWORD"]
    assert base64.b64decode(secret).decode() == SECRET_VALUE
    assert sim.get("configmap", "untouched")["data"] == {"A": "1"}
    saved_items = yaml.safe_load(saved.read_text())["items"]
    assert sorted(item["metadata"]["name"] for item in saved_items) == ["api-config", "api-secret"]
    assert "kubectl.kubernetes.io/restartedAt" in sim.get("deployment", "demo")["spec"]["template"]["metadata"][
        "annotations"]
    output = run.stdout + run.stderr
    assert SECRET_VALUE not in output and base64.b64encode(SECRET_VALUE.encode()).decode() not in output
    assert "db-pass-bad-11" not in output
    rerun = ansible_module("k8s_config_restore", args(sim, write_backup(tmp_path), restart=["demo"]))
    assert rerun.result["changed"] is False and rerun.result["restarted"] == []


def test_check_mode_changes_nothing(ansible_module, sim, tmp_path):
    run = ansible_module("k8s_config_restore", args(sim, write_backup(tmp_path)), check=True)
    assert run.result["changed"] is True
    assert sim.get("configmap", "api-config")["data"]["LOG_LEVEL"] == "debug"
    assert sim.kubectl("get", "configmap", "new-config", check=False).returncode != 0


@pytest.mark.parametrize("content,message", [
    ("", "holds no objects; refusing to restore an empty backup"),
    ("kind: Deployment\nmetadata: {name: x}\n", "only ConfigMap and Secret are restored"),
    ("kind: ConfigMap\ndata: {a: b}\n", "has no metadata.name"),
    ("kind: Secret\nmetadata: {name: s}\ndata: {k: 'not base64!'}\n", "is not base64 (use stringData"),
    ("{unbalanced", "is not valid YAML/JSON"),
])
def test_bad_backup_changes_nothing(ansible_module, sim, tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    run = ansible_module("k8s_config_restore", args(sim, str(path)))
    assert run.failed and message in run.result["msg"], run.result
    assert sim.get("configmap", "api-config")["data"]["LOG_LEVEL"] == "debug"
