"""Make the checkout importable as ansible_collections.rollback.core for pytest.

The collection is linked as .collections/ansible_collections/rollback/core (scripts/bootstrap makes the link;
this file makes it when missing). ANSIBLE_COLLECTIONS_PATH names that directory before pytest-ansible configures
itself: with ``--ansible-unit-inject-only`` (pyproject.toml) pytest-ansible puts exactly that path into sys.path
and Ansible's collection finder, instead of building its own collections/ tree in the checkout, and every
ansible / ansible-playbook a test starts finds the same collection as ansible.cfg does.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "rollback", "core")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.join("..", "..", ".."), LINK)
os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
for path in (COLLECTIONS, os.path.join(REPO, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

# Ansible's collection finder serves ansible_collections.* from here on, as in a real run: filters that read the
# modules' documentation through the plugin loader (plugins/filter/options.py) work in any test order.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402

init_plugin_loader([COLLECTIONS])
