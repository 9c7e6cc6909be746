# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of the systems the modules talk to, apart from their client libraries.

Each is paired with its doc fragment (plugins/doc_fragments) and imported from its system's file (aws.py, etcd.py,
kubernetes_auth.py, postgres.py) as before; here so that a module taking several of them (rollback.core.backup)
does not import boto3, etcd3gw, kubernetes and psycopg2 to build its argument spec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

AWS_CONNECTION_SPEC = dict(
    region=dict(type="str", aliases=["aws_region"]),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url"]),
    profile=dict(type="str", aliases=["aws_profile"]),
    access_key=dict(type="str", aliases=["aws_access_key_id"], no_log=False),
    secret_key=dict(type="str", aliases=["aws_secret_access_key"], no_log=True),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
    validate_certs=dict(type="bool", default=True),
)

ETCD_CONNECTION_SPEC = dict(
    endpoints=dict(type="list", elements="str", default=["http://127.0.0.1:2379"]),
    user=dict(type="str"),
    password=dict(type="str", no_log=True),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path"),
    timeout=dict(type="float", default=10.0),
)

KUBE_AUTH_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    client_cert=dict(type="path", aliases=["cert_file"]),
    client_key=dict(type="path", aliases=["key_file"]),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
)

POSTGRES_LOGIN_SPEC = dict(
    login_host=dict(type="str", default="localhost"),
    login_port=dict(type="int", default=5432),
    login_user=dict(type="str", default="postgres"),
    login_password=dict(type="str", no_log=True),
    maintenance_db=dict(type="str", default="postgres"),
)


# One SQL check of a restored database (postgres_side.run_check): postgres_restore's ``verify`` (which adds
# ``as_role``) and the backup module's deep verify.
SQL_CHECK_OPTIONS = dict(
    name=dict(type="str"),
    sql=dict(type="str", required=True),
    expect=dict(type="raw"),
    min_rows=dict(type="int"),
)
