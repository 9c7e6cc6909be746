# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches REDIS_CONNECTION_SPEC in plugins/module_utils/redis_cache.py.
    DOCUMENTATION = r"""
options:
  host:
    description:
      - Host of the Redis server.
    type: str
    default: localhost
  port:
    description:
      - Port of the Redis server (its TLS port with O(tls=true)).
    type: int
    default: 6379
  username:
    description:
      - ACL user (Redis 6 and later). Omit to log in as the C(default) user with O(password) (C(requirepass)).
    type: str
  password:
    description:
      - Password of O(username), or the server's C(requirepass). Omit when the server has no authentication.
    type: str
  tls:
    description:
      - Connect with TLS.
    type: bool
    default: false
  validate_certs:
    description:
      - With O(tls=true), verify the server's certificate and host name.
    type: bool
    default: true
  ca_cert:
    description:
      - With O(tls=true), CA bundle to verify the server's certificate. Default, the system's.
    type: path
  client_cert:
    description:
      - With O(tls=true), client certificate for servers with C(tls-auth-clients yes); needs O(client_key).
    type: path
  client_key:
    description:
      - Key of O(client_cert).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection.
    type: float
    default: 5.0
  timeout:
    description:
      - Seconds to wait for each command's answer. A synchronous flush of a large database can take long.
    type: float
    default: 60.0
requirements:
  - redis >= 5.0 (Python)
"""
