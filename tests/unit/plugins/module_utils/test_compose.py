from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.compose import split_image


@pytest.mark.parametrize("reference,expected", [
    ("rollback-demo:1.0.0", ("rollback-demo", "1.0.0")),
    ("registry.example.com:5000/app/api:2.1", ("registry.example.com:5000/app/api", "2.1")),
    ("registry.example.com:5000/app/api", ("registry.example.com:5000/app/api", "latest")),
    ("nginx", ("nginx", "latest")),
])
def test_split_image(reference, expected):
    assert split_image(reference) == expected
