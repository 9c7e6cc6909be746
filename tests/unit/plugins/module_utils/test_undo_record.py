from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils import undo_record
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


def test_make_encode_decode_round_trip():
    record = undo_record.make(dict(version="v1.0.1"), dict(version="v1.0.0"), "run-7", moment=0)
    assert record == {"from": {"version": "v1.0.1"}, "to": {"version": "v1.0.0"}, "time": "1970-01-01T00:00:00Z",
                      "run_id": "run-7"}
    text = undo_record.encode(record)
    assert "\n" not in text and json.loads(text) == record
    assert undo_record.decode(text, "x") == record
    assert undo_record.make({}, {}, "")["run_id"] is None


def test_settled_only_when_every_current_key_is_the_records_to():
    record = undo_record.make(dict(version="a:1.0.1", template="f1"), dict(version="a:1.0.0", template="f0"))
    assert undo_record.settled(record, dict(version="a:1.0.0", template="f0"))
    assert not undo_record.settled(record, dict(version="a:1.0.0", template="f9")), "same image, other template"
    assert not undo_record.settled(record, dict(version="a:1.0.2", template="f2")), "deployed since"
    assert not undo_record.settled(record, dict(version="a:1.0.1", template="f1")), "its from is not its to"
    assert not undo_record.settled(None, dict(version="a:1.0.0"))


@pytest.mark.parametrize("text", [None, "", "  \n"])
def test_no_record(text):
    assert undo_record.decode(text, "x") is None


@pytest.mark.parametrize("text,problem", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not an object with from and to"),
    ('{"from": {}, "to": "v1"}', "not an object with from and to"),
])
def test_unreadable_record_is_refused_not_ignored(text, problem):
    with pytest.raises(RollbackError) as caught:
        undo_record.decode(text, "annotation rollback.core/undo of deployment default/demo")
    assert caught.value.msg.startswith(
        "the undo record annotation rollback.core/undo of deployment default/demo is unreadable: " + problem)
    assert caught.value.msg.endswith("give the release to return to explicitly, or remove the record")


def test_fingerprint_tells_any_change_and_ignores_key_order():
    one = {"spec": {"containers": [{"name": "web", "image": "a:1", "env": [{"name": "X", "value": "1"}]}]}}
    same = {"spec": {"containers": [{"env": [{"value": "1", "name": "X"}], "image": "a:1", "name": "web"}]}}
    other = {"spec": {"containers": [{"name": "web", "image": "a:1", "env": [{"name": "X", "value": "2"}]}]}}
    assert undo_record.fingerprint(one) == undo_record.fingerprint(same)
    assert undo_record.fingerprint(one) != undo_record.fingerprint(other)


def test_file_write_read_and_place(tmp_path):
    assert undo_record.file_beside(str(tmp_path)) == os.path.join(str(tmp_path), ".rollback-undo.json")
    assert undo_record.file_beside("/srv/app", git=True) == "/srv/app/.git/.rollback-undo.json"
    path = undo_record.file_beside(str(tmp_path))
    assert undo_record.read_file(path) is None
    record = undo_record.make(dict(version="v2"), dict(version="v1"), "r")
    undo_record.write_file(path, record)
    assert undo_record.read_file(path) == record
    assert os.listdir(str(tmp_path)) == [".rollback-undo.json"], "no temporary left"
    (tmp_path / ".rollback-undo.json").write_text("garbage")
    with pytest.raises(RollbackError, match="the undo record %s is unreadable" % path):
        undo_record.read_file(path)
