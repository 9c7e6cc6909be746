"""Which cluster and credentials: options, then K8S_AUTH_*, then KUBECONFIG / ~/.kube/config, then in-cluster.

K8S_AUTH_* names and aliases as kubernetes.core plugins/module_utils/k8s/client.py _create_auth_spec reads
them; the AWX Kubernetes credential sets K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL and
K8S_AUTH_SSL_CA_CERT (awx/main/tests/unit/test_tasks.py test_k8s_credential). An AWX job pod always has
KUBERNETES_SERVICE_HOST: the pod's own service account comes last.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml
from kubernetes.config import incluster_config

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_auth import configuration_for

IN_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def kubeconfig(tmp_path, name, server, token, insecure=False):
    cluster = {"server": server}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": cluster}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}},
                     {"name": "other", "context": {"cluster": name, "user": "other"}}],
        "users": [{"name": name, "user": {"token": token}}, {"name": "other", "user": {"token": "other-token"}}]}))
    return str(path)


@pytest.fixture(autouse=True)
def no_home_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def token(configuration):
    return configuration.get_api_key_with_prefix("BearerToken", alias="authorization")


def test_host_option_wins_over_everything(tmp_path):
    env = dict(IN_POD, K8S_AUTH_HOST="https://awx.example", K8S_AUTH_API_KEY="awx-token",
               KUBECONFIG=kubeconfig(tmp_path, "env", "https://env.example", "env-token"))
    configuration, source = configuration_for({"host": "https://given.example/", "api_key": "given"}, env)
    assert configuration.host == "https://given.example" and token(configuration) == "Bearer given"
    assert source == "https://given.example (option host)"


def test_awx_pod_uses_k8s_auth_variables_not_the_pod_account_nor_kubeconfig(tmp_path):
    env = dict(IN_POD, K8S_AUTH_HOST="https://awx.example", K8S_AUTH_API_KEY="awx-token", K8S_AUTH_VERIFY_SSL="False",
               K8S_AUTH_SSL_CA_CERT="/runner/ca.crt",
               KUBECONFIG=kubeconfig(tmp_path, "env", "https://env.example", "env-token"))
    configuration, source = configuration_for({}, env)
    assert (configuration.host, token(configuration)) == ("https://awx.example", "Bearer awx-token")
    assert configuration.verify_ssl is False and configuration.ssl_ca_cert == "/runner/ca.crt"
    assert source == "https://awx.example (K8S_AUTH_HOST)"


def test_explicit_kubeconfig_is_not_mixed_with_k8s_auth_credentials(tmp_path):
    given = kubeconfig(tmp_path, "given", "https://given.example", "given-token")
    env = dict(IN_POD, K8S_AUTH_API_KEY="awx-token", K8S_AUTH_HOST="https://awx.example")
    configuration, source = configuration_for({"kubeconfig": given}, env)
    assert (configuration.host, token(configuration)) == ("https://given.example", "Bearer given-token")
    assert source == "https://given.example (kubeconfig %s)" % given


def test_k8s_auth_kubeconfig_and_context(tmp_path):
    path = kubeconfig(tmp_path, "awx", "https://awx.example", "awx-token")
    configuration, source = configuration_for({}, dict(IN_POD, K8S_AUTH_KUBECONFIG=path, K8S_AUTH_CONTEXT="other"))
    assert token(configuration) == "Bearer other-token"
    assert source == "https://awx.example (K8S_AUTH_KUBECONFIG %s context other)" % path


def test_kubeconfig_variable_before_the_pod_service_account(tmp_path):
    path = kubeconfig(tmp_path, "env", "https://env.example", "env-token", insecure=True)
    configuration, source = configuration_for({}, dict(IN_POD, KUBECONFIG=path))
    assert (configuration.host, token(configuration)) == ("https://env.example", "Bearer env-token")
    assert configuration.verify_ssl is False, "the kubeconfig's insecure-skip-tls-verify is not overridden"
    assert source == "https://env.example (KUBECONFIG %s)" % path


def test_in_cluster_last(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("pod-token")
    (tmp_path / "ca.crt").write_text("CA")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    configuration, source = configuration_for({}, dict(IN_POD))
    # the client's in-cluster loader writes "bearer " (lower case), which the API server accepts
    assert (configuration.host, token(configuration)) == ("https://10.96.0.1:443", "bearer pod-token")
    assert source == "https://10.96.0.1:443 (in-cluster service account)"


def test_pod_without_a_token_or_nothing_at_all_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "absent"))
    with pytest.raises(RollbackError, match="cannot load the Kubernetes configuration: Service token file does not"):
        configuration_for({}, dict(IN_POD))
    with pytest.raises(RollbackError, match="^no Kubernetes configuration: give kubeconfig or host"):
        configuration_for({}, {})


def test_validate_certs_option_and_variable(tmp_path):
    path = kubeconfig(tmp_path, "env", "https://env.example", "t", insecure=True)
    assert configuration_for({"kubeconfig": path, "validate_certs": True}, {})[0].verify_ssl is True
    assert configuration_for({}, {"K8S_AUTH_HOST": "https://x", "K8S_AUTH_VALIDATE_CERTS": "no"})[0].verify_ssl is False
