"""backup_spec: the backup module's one flat spec of its own options and the connections of every kind it backs
up, validated by ansible-core's ArgumentSpecValidator (ansible/module_utils/common/arg_spec.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.rollback.core.plugins.module_utils import backup_spec, connection_specs
from ansible_collections.rollback.core.plugins.module_utils.restore_points import KINDS


def test_the_spec_is_valid_and_takes_each_systems_options():
    result = ArgumentSpecValidator(backup_spec.BACKUP_SPEC).validate(dict(
        manifest_dir="/var/backups/points", kind="postgres", login_password="pw", secret_key="aws", password="etcd",
        api_key="kube"))
    assert not result.errors.errors
    assert set(result._no_log_values) == set(["pw", "aws", "etcd", "kube"])
    assert result.validated_parameters["action"] == "take"


def test_shared_options_are_taken_once():
    spec = backup_spec.BACKUP_SPEC
    assert "maintenance_db" not in spec  # a backup connects to the database it dumps
    assert spec["validate_certs"] == dict(type="bool", default=True, aliases=["verify_ssl"])  # AWS and Kubernetes
    assert spec["ca_cert"] == connection_specs.KUBE_AUTH_SPEC["ca_cert"]  # etcd and Kubernetes, the alias kept
    assert spec["kind"]["choices"] == list(KINDS)


def test_missing_manifest_dir_and_a_bad_kind_are_refused():
    result = ArgumentSpecValidator(backup_spec.BACKUP_SPEC).validate(dict(kind="mysql"))
    text = " ".join(str(error) for error in result.errors.errors)
    assert "manifest_dir" in text and "kind" in text
