"""k8s_config_restore against the Kubernetes API simulator (lab/kubesim): contents restored, metadata kept."""

import base64

import pytest
import yaml
from support.inprocess import run
from support.kube import Simulator

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

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


def test_check_mode_changes_nothing(sim, tmp_path):
    """Check mode sends each write as a server-side dry run: validated and authorized, not stored."""
    planned = run("k8s_config_restore", args(sim, write_backup(tmp_path), restart=["demo"]), check=True)
    assert planned["changed"] is True and not planned["failed"], planned
    assert sim.get("configmap", "api-config")["data"]["LOG_LEVEL"] == "debug"
    assert sim.kubectl("get", "configmap", "new-config", check=False).returncode != 0
    assert "kubectl.kubernetes.io/restartedAt" not in (
        sim.get("deployment", "demo")["spec"]["template"]["metadata"].get("annotations") or {})


@pytest.mark.parametrize("content,message", [
    ("", "holds no objects; refusing to restore an empty backup"),
    ("kind: Deployment\nmetadata: {name: x}\n", "only ConfigMap and Secret are restored"),
    ("kind: ConfigMap\ndata: {a: b}\n", "has no metadata.name"),
    ("kind: Secret\nmetadata: {name: s}\ndata: {k: 'not base64!'}\n", "is not base64 (use stringData"),
    ("{unbalanced", "is not valid YAML/JSON"),
])
def test_bad_backup_changes_nothing(sim, tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    refused = run("k8s_config_restore", args(sim, str(path)))
    assert refused["failed"] and message in refused["msg"], refused
    assert sim.get("configmap", "api-config")["data"]["LOG_LEVEL"] == "debug"


def helm_config_map(sim, **extra):
    owner = sim.get("deployment", "demo")
    metadata = {"name": "helm-config", "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {"meta.helm.sh/release-name": "api", "meta.helm.sh/release-namespace": "default"},
                "finalizers": ["example.com/keep"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo",
                                     "uid": owner["metadata"]["uid"]}]}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                  "data": {"LOG_LEVEL": "debug", "EXTRA": "x"},
                  "binaryData": {"logo": base64.b64encode(b"\x89PNG").decode()}}
    config_map.update(extra)
    sim.kubectl("create", "-f", "-", stdin=yaml.safe_dump(config_map))
    return sim.get("configmap", "helm-config")["metadata"]


def backup_of(tmp_path, data, binary=None, name="helm-config"):
    path = tmp_path / ("%s.yaml" % name)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if binary:
        obj["binaryData"] = binary
    path.write_text(yaml.safe_dump(obj))
    return str(path)


def kept(metadata):
    return dict((k, metadata.get(k)) for k in ("labels", "annotations", "finalizers", "ownerReferences"))


def test_a_helm_managed_config_map_keeps_its_metadata_and_loses_keys_not_in_the_backup(sim, tmp_path):
    """A PUT of the backup would drop Helm's annotations, the owner and the finalizer; a patch of data keeps them."""
    before = helm_config_map(sim)
    backup = backup_of(tmp_path, {"LOG_LEVEL": "info"}, {"logo": base64.b64encode(b"\x89PNG").decode()})
    restored = run("k8s_config_restore", args(sim, backup))
    assert not restored["failed"] and restored["updated"] == ["ConfigMap default/helm-config"], restored
    after = sim.get("configmap", "helm-config")
    assert after["data"] == {"LOG_LEVEL": "info"} and after["binaryData"] == {"logo": "iVBORw=="}
    assert kept(after["metadata"]) == kept(before) and after["metadata"]["uid"] == before["uid"]


def test_an_identical_backup_with_binary_data_changes_nothing(sim, tmp_path):
    helm_config_map(sim)
    backup = backup_of(tmp_path, {"LOG_LEVEL": "debug", "EXTRA": "x"}, {"logo": "iVBO\nRw=="})
    again = run("k8s_config_restore", args(sim, backup, restart=["demo"]))
    assert not again["failed"] and again["changed"] is False and again["restarted"] == [], again
    assert "kubectl.kubernetes.io/restartedAt" not in (
        sim.get("deployment", "demo")["spec"]["template"]["metadata"].get("annotations") or {})


def test_an_immutable_config_map_is_refused_unless_replace_immutable(sim, tmp_path):
    """ValidateConfigMapUpdate: the data of an immutable ConfigMap cannot change (422)."""
    before = helm_config_map(sim, immutable=True)
    backup = backup_of(tmp_path, {"LOG_LEVEL": "info"})
    refused = run("k8s_config_restore", args(sim, backup))
    assert refused["failed"] and "immutable" in refused["msg"] and "ConfigMap default/helm-config" in refused["msg"]
    assert "replace_immutable: true" in refused["msg"]
    assert sim.get("configmap", "helm-config")["data"]["LOG_LEVEL"] == "debug"
    planned = run("k8s_config_restore", args(sim, backup, replace_immutable=True), check=True)
    assert planned["replaced"] == ["ConfigMap default/helm-config"] and not planned["failed"], planned
    assert sim.get("configmap", "helm-config")["metadata"]["uid"] == before["uid"], "the dry run deleted nothing"
    sim.kubectl("patch", "configmap", "helm-config", "--type=json",
                "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')  # else the delete waits for its controller
    before = sim.get("configmap", "helm-config")["metadata"]
    replaced = run("k8s_config_restore", args(sim, backup, replace_immutable=True, save_current_to=str(
        tmp_path / "saved.yaml")))
    assert not replaced["failed"] and replaced["replaced"] == ["ConfigMap default/helm-config"], replaced
    after = sim.get("configmap", "helm-config")
    assert after["data"] == {"LOG_LEVEL": "info"} and after["immutable"] is True
    assert kept(after["metadata"]) == kept(before) and after["metadata"]["uid"] != before["uid"]
    saved = yaml.safe_load((tmp_path / "saved.yaml").read_text())["items"][0]
    assert saved["data"]["LOG_LEVEL"] == "debug", "the old contents stay restorable"
