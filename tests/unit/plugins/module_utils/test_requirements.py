"""The table of each module's Python libraries (checked by preflight on every host) against the modules' code."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

import pytest

from ansible_collections.rollback.core.plugins.module_utils import requirements

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py")))


def libraries_of(module):
    return set(library for key, entries in requirements.LIBRARIES.items() if key.split(":", maxsplit=1)[0] == module
               for library, _pip in entries)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_in_the_table_with_every_library_it_requires(module):
    with open(os.path.join(REPO, "plugins", "modules", module + ".py")) as handle:
        required = set(re.findall(r'require_library\("([A-Za-z0-9_]+)"', handle.read()))
    assert any(key.split(":")[0] == module for key in requirements.LIBRARIES), "%s missing from the table" % module
    assert required <= libraries_of(module), "%s requires %s" % (module, sorted(required - libraries_of(module)))


def test_missing_names_library_pip_package_and_module():
    present = {"boto3", "docker"}
    found = requirements.missing(["postgres_restore", "rds_snapshot_restore", "traffic:swarm", "traffic:server"],
                                 find_spec=lambda name: name if name in present else None)
    assert found == [dict(module="postgres_restore", library="psycopg2", pip="psycopg2-binary")]


def test_unknown_modules_are_refused():
    with pytest.raises(ValueError, match="unknown module.s. rollout_undo:lambda"):
        requirements.missing(["rollout_undo:lambda"])


def test_this_python_has_every_library():
    assert requirements.missing(sorted(requirements.LIBRARIES)) == []
    assert requirements.python()["version"].count(".") == 2
