from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.server import Releases, previous_of, version_key


def test_natural_version_order():
    names = ["v1.0.10", "v1.0.9", "v1.0.2", "v0.9.0"]
    assert sorted(names, key=version_key) == ["v0.9.0", "v1.0.2", "v1.0.9", "v1.0.10"]
    assert sorted(["20251112-101500", "20251111-235959"], key=version_key)[-1] == "20251112-101500"


def test_previous_release():
    assert previous_of(["v1.0.10", "v1.0.9", "v1.1.0"], "v1.1.0") == "v1.0.10"
    with pytest.raises(RollbackError, match="v1.0.0 is the oldest release"):
        previous_of(["v1.0.0", "v1.0.1"], "v1.0.0")
    with pytest.raises(RollbackError, match="the current release v9 is not among"):
        previous_of(["v1"], "v9")


def make_releases(tmp_path, current="v1.0.1"):
    for version in ("v1.0.0", "v1.0.1"):
        (tmp_path / "releases" / version).mkdir(parents=True)
    os.symlink(str(tmp_path / "releases" / current), str(tmp_path / "current"))
    return Releases(str(tmp_path))


def test_switch_replaces_the_symlink_and_keeps_every_release(tmp_path):
    releases = make_releases(tmp_path)
    assert releases.current() == "v1.0.1"
    releases.switch("v1.0.0")
    assert releases.current() == "v1.0.0"
    assert os.path.islink(str(tmp_path / "current"))
    assert sorted(os.listdir(str(tmp_path / "releases"))) == ["v1.0.0", "v1.0.1"]
    assert [name for name in os.listdir(str(tmp_path)) if "rollback" in name] == []


def test_missing_release_lists_what_exists(tmp_path):
    releases = make_releases(tmp_path)
    with pytest.raises(RollbackError, match=r"release v2 not found in .* \(available: v1.0.0, v1.0.1\)"):
        releases.path("v2")


def test_layout_errors(tmp_path):
    with pytest.raises(RollbackError, match="has no releases/ directory"):
        Releases(str(tmp_path))
    (tmp_path / "releases").mkdir()
    with pytest.raises(RollbackError, match="is not a symlink to a release"):
        Releases(str(tmp_path))
