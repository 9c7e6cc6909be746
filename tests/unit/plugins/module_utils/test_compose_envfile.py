"""The variable an image name interpolates, and the env file line that sets it (compose_envfile)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.compose_envfile import (
    assign,
    assignments,
    changed_lines,
    references,
    single_variable,
    value_for,
)

REGISTRY = "registry.example.com:5000/app"


@pytest.mark.parametrize("raw,expected", [
    (REGISTRY + ":${APP_TAG}", (REGISTRY + ":", "APP_TAG", "")),
    (REGISTRY + ":$APP_TAG", (REGISTRY + ":", "APP_TAG", "")),
    (REGISTRY + ":${APP_TAG:-1.0.0}", (REGISTRY + ":", "APP_TAG", "")),
    (REGISTRY + ":${APP_TAG-1.0.0}", (REGISTRY + ":", "APP_TAG", "")),
    (REGISTRY + ":${APP_TAG:?set APP_TAG}", (REGISTRY + ":", "APP_TAG", "")),
    (REGISTRY + ":v${APP_TAG}-slim", (REGISTRY + ":v", "APP_TAG", "-slim")),
    ("${APP_IMAGE}", ("", "APP_IMAGE", "")),
    # Not one plain variable: the tag cannot be set through it.
    (REGISTRY + ":1.0.0", None),
    ("${REGISTRY}/app:${APP_TAG}", None),
    (REGISTRY + ":${APP_TAG:+override}", None),
    (REGISTRY + ":${APP_TAG:-${DEFAULT_TAG}}", None),
    (REGISTRY + ":$${APP_TAG}", None),
])
def test_single_variable(raw, expected):
    assert single_variable(raw) == expected


@pytest.mark.parametrize("raw,wanted,expected", [
    (REGISTRY + ":${APP_TAG:-1.0.0}", REGISTRY + ":1.0.0", ("APP_TAG", "1.0.0")),
    (REGISTRY + ":v${APP_TAG}-slim", REGISTRY + ":v2.3-slim", ("APP_TAG", "2.3")),
    ("${APP_IMAGE}", REGISTRY + "@sha256:ab12", ("APP_IMAGE", REGISTRY + "@sha256:ab12")),
    (REGISTRY + ":${APP_TAG}", "other.example.com/app:1.0.0", None),  # another repository: not this variable
    (REGISTRY + ":v${APP_TAG}-slim", REGISTRY + ":v-slim", None),  # an empty value would not be used
    ("${APP_IMAGE}", "app:1.0 # with a comment", None),  # would need quoting in a dotenv file
])
def test_value_for(raw, wanted, expected):
    assert value_for(raw, wanted) == expected


def test_references_skips_escaped_dollars():
    assert references('{"image": "app:${TAG}", "command": "echo $$HOME $USER ${X:-y}"}') == {"TAG", "USER", "X"}


def test_assignments_read_like_compose_dotenv():
    text = "# comment\nexport A=1\nB = 'two words'\nC=\"x\"\nD=plain # note\nA=3\n\nnot a line\n"
    assert assignments(text) == {"A": "3", "B": "two words", "C": "x", "D": "plain"}


def test_assign_rewrites_the_last_assignment_in_place_and_keeps_every_other_byte():
    text = "# the release\r\nexport APP_TAG=1.0.1\r\nDB_PASSWORD=secret\r\nAPP_TAG=1.0.1 # again\r\n"
    assert assign(text, "APP_TAG", "1.0.0") == ("# the release\r\nexport APP_TAG=1.0.1\r\nDB_PASSWORD=secret\r\n"
                                                "APP_TAG=1.0.0\r\n")
    assert assign("A=1", "APP_TAG", "1.0.0") == "A=1\nAPP_TAG=1.0.0\n"
    assert assign("", "APP_TAG", "1.0.0") == "APP_TAG=1.0.0\n"


def test_changed_lines_hide_the_other_values():
    before, after = changed_lines("APP_TAG=1.0.1\nDB_PASSWORD=secret\n", "APP_TAG=1.0.0\nDB_PASSWORD=secret\n")
    assert (before, after) == ("APP_TAG=1.0.1\n", "APP_TAG=1.0.0\n")
