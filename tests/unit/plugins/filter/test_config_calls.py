"""rollback.core.config_calls: the config phase restores every source of a host in one task
(rollback.core.target_module's calls), each source with exactly the arguments its own task gave its module before
(roles/config/tasks/{etcd,kubernetes,env_file}.yml of 0.2.0: the source's keys under the identity, the role's wait)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rollback.core.plugins.action.target_module import CALL
from ansible_collections.rollback.core.plugins.filter.options import config_calls

ETCD = dict(type="etcd", prefix="/demo/config/", backup_dir="/b", backup_pattern="etcd-*.json",
            endpoints=["http://127.0.0.1:2379"])
KUBE = dict(type="kubernetes", backup="/b/cm.json", configmaps=["demo"], namespace="shop")
ENV = dict(type="env_file", path="/srv/app.env", backup_dir="/b", wait_timeout=5)
CONNECTION = dict(kubeconfig="/k", context="lab", namespace="default", releases_dir="/opt/releases")


def test_one_call_per_source_in_the_sources_order_each_naming_its_source():
    calls = config_calls([ENV, ETCD, KUBE], CONNECTION, "", 120)
    assert [c["module"] for c in calls] == ["rollback.core.env_file_restore", "rollback.core.etcd_config_restore",
                                            "rollback.core.k8s_config_restore"]
    assert [c["result"] for c in calls] == [dict(source="env_file"), dict(source="etcd"), dict(source="kubernetes")]
    assert all(set(c) == set(CALL) for c in calls)


def test_each_module_gets_the_keys_it_takes_and_the_roles_wait():
    env, etcd, kube = config_calls([ENV, ETCD, KUBE], CONNECTION, "", 120)
    # wait_timeout is the role's (reserved: preflight refuses it in a source), etcd's restore does not wait
    assert env["args"] == dict(path="/srv/app.env", backup_dir="/b", wait_timeout=120)
    assert etcd["args"] == dict(prefix="/demo/config/", backup_dir="/b", backup_pattern="etcd-*.json",
                                endpoints=["http://127.0.0.1:2379"])
    # the connection's Kubernetes keys, under the source's own; the role's own keys (configmaps) stay out
    assert kube["args"] == dict(kubeconfig="/k", context="lab", namespace="shop", backup="/b/cm.json", wait_timeout=120)


def test_the_decrypt_identity_goes_to_every_source_unless_it_has_its_own():
    calls = config_calls([ETCD, dict(ENV, decrypt_identity="/own.key")], {}, "/run.key", 60)
    assert [c["args"]["decrypt_identity"] for c in calls] == ["/run.key", "/own.key"]
    assert all("decrypt_identity" not in c["args"] for c in config_calls([ETCD, ENV], {}, "", 60))


def test_no_source_is_no_call():
    assert config_calls([], CONNECTION, "", 60) == [] and config_calls(None, CONNECTION, "", 60) == []


@pytest.mark.parametrize("source", [dict(type="vault", path="/x"), dict(path="/x"), "env_file"])
def test_an_unknown_source_type_is_refused_naming_the_source(source):
    with pytest.raises(AnsibleFilterError, match=r"^configuration source 1: type must be etcd, kubernetes or env_file"):
        config_calls([ETCD, source], {}, "", 60)
