# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the backup module: its own, and the connections of the systems it backs up.

One call takes one kind, so the connection options of several systems share one flat spec (as the restore
modules' inventory dicts give them): etcd and the Kubernetes API both take ``ca_cert``/``client_cert``/
``client_key``, AWS and the Kubernetes API both take ``validate_certs``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import DECRYPT_SPEC, ENCRYPT_OPTIONS
from ansible_collections.rollback.core.plugins.module_utils.connection_specs import (
    AWS_CONNECTION_SPEC,
    ETCD_CONNECTION_SPEC,
    KUBE_AUTH_SPEC,
    POSTGRES_LOGIN_SPEC,
    SQL_CHECK_OPTIONS,
)
from ansible_collections.rollback.core.plugins.module_utils.restore_points import KINDS
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC

OWN_SPEC = dict(
    action=dict(type="str", choices=["take", "list", "verify", "retain", "locate"], default="take"),
    manifest_dir=dict(type="path", required=True),
    owner=dict(type="str"),
    restore_point=dict(type="str"),
    deploy_id=dict(type="str"),
    kind=dict(type="str", choices=list(KINDS)),
    backup_dir=dict(type="path"),
    backup_pattern=dict(type="str"),
    prefix=dict(type="str"),
    namespace=dict(type="str", default="default"),
    configmaps=dict(type="list", elements="str", default=[]),
    secrets=dict(type="list", elements="str", default=[], no_log=False),
    path=dict(type="path"),
    db=dict(type="str"),
    dump_dir=dict(type="path"),
    dump_pattern=dict(type="str"),
    dump_format=dict(type="str", choices=["custom", "directory"], default="custom"),
    jobs=dict(type="int", default=1),
    pg_bin_dir=dict(type="path"),
    db_instance_identifier=dict(type="str"),
    revision=dict(type="str"),
    image=dict(type="str"),
    release=dict(type="str"),
    version=dict(type="str"),
    marker_dir=dict(type="path"),
    services=dict(type="list", elements="str", default=[]),
    backups=dict(type="list", elements="str", default=[]),
    deep=dict(type="bool", default=False),
    verify=dict(type="list", elements="dict", default=[], options=SQL_CHECK_OPTIONS),
    storage=dict(type="str"),
    sse=dict(type="str", choices=["AES256", "aws:kms"], default="AES256"),
    sse_kms_key_id=dict(type="str", no_log=False),
    encrypt=dict(type="dict", options=ENCRYPT_OPTIONS),
    keep=dict(type="int"),
    keep_days=dict(type="int"),
)

BACKUP_SPEC = {}
for _spec in (ETCD_CONNECTION_SPEC, KUBE_AUTH_SPEC, AWS_CONNECTION_SPEC, WAIT_SPEC, DECRYPT_SPEC, OWN_SPEC):
    BACKUP_SPEC.update(_spec)
BACKUP_SPEC.update((k, v) for k, v in POSTGRES_LOGIN_SPEC.items() if k != "maintenance_db")
BACKUP_SPEC["validate_certs"] = dict(type="bool", default=True, aliases=["verify_ssl"])
