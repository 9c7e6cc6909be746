# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback.core.migration_status's action (plugins/plugin_utils/in_worker.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.plugin_utils import in_worker


class ActionModule(in_worker.ActionModule):
    """Its own class: the plugin loader sets the load name and path on the class it loads."""
