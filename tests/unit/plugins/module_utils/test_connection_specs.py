"""connection_specs: the connection options shared by the modules, validated by ansible-core's own
ArgumentSpecValidator (ansible/module_utils/common/arg_spec.py, what AnsibleModule runs): defaults, aliases and
secrets kept out of logs (``no_log`` values are what AnsibleModule masks)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.rollback.core.plugins.module_utils import connection_specs

SPECS = dict(aws=connection_specs.AWS_CONNECTION_SPEC, etcd=connection_specs.ETCD_CONNECTION_SPEC,
             kube=connection_specs.KUBE_AUTH_SPEC, postgres=connection_specs.POSTGRES_LOGIN_SPEC)
SECRETS = dict(aws=["secret_key", "session_token"], etcd=["password"], kube=["api_key"], postgres=["login_password"])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_is_valid_and_hides_its_secrets(name):
    values = dict((option, "hidden-%s" % option) for option in SECRETS[name])
    result = ArgumentSpecValidator(SPECS[name]).validate(values)
    assert not result.errors.errors
    assert set(result._no_log_values) == set(values.values())
    hidden = sorted(option for option, spec in SPECS[name].items() if spec.get("no_log"))
    assert hidden == sorted(SECRETS[name])


def test_defaults_and_aliases():
    result = ArgumentSpecValidator(connection_specs.POSTGRES_LOGIN_SPEC).validate({})
    assert result.validated_parameters == dict(login_host="localhost", login_port=5432, login_user="postgres",
                                               login_password=None, maintenance_db="postgres")
    result = ArgumentSpecValidator(connection_specs.AWS_CONNECTION_SPEC).validate(dict(
        aws_region="eu-west-1", aws_secret_access_key="k"))
    assert result.validated_parameters["region"] == "eu-west-1" and result.validated_parameters["secret_key"] == "k"
    assert result.validated_parameters["validate_certs"] is True
    result = ArgumentSpecValidator(connection_specs.ETCD_CONNECTION_SPEC).validate({})
    assert result.validated_parameters["endpoints"] == ["http://127.0.0.1:2379"]


def test_a_sql_check_needs_its_sql():
    spec = dict(verify=dict(type="list", elements="dict", options=connection_specs.SQL_CHECK_OPTIONS))
    result = ArgumentSpecValidator(spec).validate(dict(verify=[dict(name="orders")]))
    assert "missing required arguments: sql" in " ".join(str(e) for e in result.errors.errors)
