# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches ETCD_CONNECTION_SPEC in plugins/module_utils/etcd.py.
    DOCUMENTATION = r"""
options:
  endpoints:
    description:
      - etcd v3 client URLs, tried in order; the first that answers is used.
      - The module talks to etcd's gRPC gateway (C(/v3/)), which etcd 3.4 and later serve on the client port.
    type: list
    elements: str
    default: [http://127.0.0.1:2379]
  user:
    description:
      - etcd user for role-based access control. Omit when auth is off.
    type: str
  password:
    description:
      - Password of O(user).
    type: str
  ca_cert:
    description:
      - CA bundle to verify the server's certificate (https endpoints).
    type: path
  client_cert:
    description:
      - Client certificate for mutual TLS; needs O(client_key).
    type: path
  client_key:
    description:
      - Key of O(client_cert).
    type: path
  timeout:
    description:
      - Seconds for each request to etcd.
    type: float
    default: 10.0
requirements:
  - etcd3gw >= 2.4 (Python)
"""
