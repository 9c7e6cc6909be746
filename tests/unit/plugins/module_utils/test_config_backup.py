from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.config_backup import (
    MASK,
    Masker,
    check_save_dir,
    dump_backup,
    load_backup_file,
    parse_backup,
    plan_restore,
    restore_diff,
)

DATA = {"/app/a": "1", "/app/b": "two words", "/app/db/password": "s3cret"}


def b64(text):
    return base64.b64encode(text.encode()).decode()


ETCDCTL = json.dumps({"header": {"cluster_id": 1, "revision": 9},
                      "kvs": [{"key": b64(k), "value": b64(v), "mod_revision": 3} for k, v in DATA.items()],
                      "count": 3})


@pytest.mark.parametrize("text,fmt", [
    (json.dumps(DATA), "object"),
    (json.dumps([{"key": k, "value": v} for k, v in DATA.items()]), "list"),
    (ETCDCTL, "etcdctl"),
])
def test_each_format_reads_to_the_same_mapping(text, fmt):
    assert parse_backup(text, "b.json") == (fmt, DATA)


@pytest.mark.parametrize("fmt", ["object", "list", "etcdctl"])
def test_dump_round_trips_in_kind(fmt):
    assert parse_backup(dump_backup(DATA, fmt), "saved") == (fmt, DATA)


def test_numbers_become_their_json_text():
    assert parse_backup('{"/a": 5, "/b": 1.5}', "b")[1] == {"/a": "5", "/b": "1.5"}


@pytest.mark.parametrize("text,message", [
    ("{not json", "backup b.json is not valid JSON"),
    ("{}", "backup b.json holds no keys; refusing to restore an empty backup"),
    ("[]", "backup b.json holds no keys"),
    ('{"header": {}, "count": 0}', "backup b.json holds no keys"),
    ('"text"', "the backup must be a JSON object or list, found str"),
    ('{"/a": {"nested": 1}}', "values must be strings or numbers"),
    ('{"/a": null}', "values must be strings or numbers"),
    ('[{"key": "/a"}]', "item 0 must be an object with 'key' and 'value'"),
    ('{"header": {}, "kvs": [{"key": "!!notbase64", "value": ""}]}', "is not base64-encoded UTF-8 text"),
])
def test_bad_backups_are_refused_with_the_reason(text, message):
    with pytest.raises(RollbackError) as raised:
        parse_backup(text, "b.json")
    assert message in raised.value.msg


def test_plan_writes_only_differences_and_prunes_only_when_asked():
    current = {"/a": "1", "/b": "old", "/stale": "x"}
    desired = {"/a": "1", "/b": "new", "/c": "3"}
    assert plan_restore(current, desired, prune=False) == (["/c"], ["/b"], [])
    assert plan_restore(current, desired, prune=True) == (["/c"], ["/b"], ["/stale"])
    assert plan_restore(desired, desired, prune=True) == ([], [], [])


def test_masked_values_never_reach_the_diff():
    masker = Masker(["*/password"])
    current = {"/app/db/password": "old-secret", "/app/a": "1"}
    desired = {"/app/db/password": "new-secret", "/app/a": "2", "/app/new": "n"}
    added, updated, removed = plan_restore(current, desired, prune=False)
    diff = restore_diff(current, desired, added, updated, removed, masker)
    assert diff == {"before": {"/app/a": "1", "/app/db/password": MASK},
                    "after": {"/app/a": "2", "/app/db/password": MASK, "/app/new": "n"}}
    assert "secret" not in json.dumps(diff)


def test_the_saved_state_is_private_and_reads_back_in_kind(tmp_path):
    import os
    import stat

    from ansible_collections.rollback.core.plugins.module_utils.config_backup import (
        load_backup_file,
        save_backup_file,
    )

    path = save_backup_file({"/app/b": "2", "/app/a": "secret"}, "etcdctl", str(tmp_path / "saved.json"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "it may hold secrets"
    assert load_backup_file(path) == ("etcdctl", {"/app/a": "secret", "/app/b": "2"})
    assert os.listdir(tmp_path) == ["saved.json"], "no temporary file left"


def test_a_value_that_is_not_strict_base64_is_refused_not_guessed():
    text = json.dumps({"header": {}, "kvs": [{"key": b64("/app/a"), "value": "YWJj$ZGVm"}]})
    with pytest.raises(RollbackError, match="is not base64-encoded UTF-8 text"):
        parse_backup(text, "b.json")


def test_a_list_item_that_is_not_an_object_is_refused_by_name():
    with pytest.raises(RollbackError, match="item 0 must be an object with 'key' and 'value'"):
        parse_backup(json.dumps([["key", "value"]]), "b.json")


def test_a_flat_object_with_a_key_named_kvs_is_a_flat_object():
    assert parse_backup(json.dumps({"kvs": "1", "/app/a": "2"}), "b.json") == ("object", {"kvs": "1", "/app/a": "2"})


def test_equal_values_are_not_rewritten_even_as_distinct_strings():
    current = {"/app/a": "".join(["val", "ue"])}
    desired = {"/app/a": "value"}
    assert plan_restore(current, desired, prune=True) == ([], [], [])


def test_an_etcdctl_item_without_a_key_is_refused_by_its_place():
    text = json.dumps({"header": {}, "kvs": [{"value": base64.b64encode(b"1").decode()}], "count": 1})
    with pytest.raises(RollbackError, match=r"^backup b\.json kvs\[0\] has no 'key'$"):
        parse_backup(text, "b.json")


def test_a_backup_that_cannot_be_read_is_one_error_naming_the_file_and_why(tmp_path):
    missing = tmp_path / "gone.json"
    with pytest.raises(RollbackError, match=r"^cannot read backup .*gone\.json: No such file or directory$"):
        load_backup_file(str(missing))


def test_a_backup_that_is_not_utf8_is_refused_not_decoded_wrongly(tmp_path):
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"/app/name": "caf\u00e9"}'.encode("latin-1"))
    with pytest.raises(RollbackError, match=r"^backup .*latin1\.json is not UTF-8 text$"):
        load_backup_file(str(latin1))


@pytest.mark.parametrize("where, message", [
    ("missing/saved.json", r"save_current_to: directory .*/missing does not exist"),
    ("taken", r"save_current_to: .*/taken is a directory; give a file name"),
    ("locked/saved.json", r"save_current_to: directory .*/locked is not writable"),
])
def test_a_save_path_the_save_would_fail_on_is_refused(tmp_path, where, message, monkeypatch):
    (tmp_path / "taken").mkdir()
    (tmp_path / "locked").mkdir()
    # root may write anywhere: the access check is what is tested, as the kernel would answer for a user
    real_access = __import__("os").access

    def access(path, mode):
        return False if str(path).endswith("locked") else real_access(path, mode)

    monkeypatch.setattr("os.access", access)
    with pytest.raises(RollbackError, match=message):
        check_save_dir(str(tmp_path / where))
    check_save_dir(str(tmp_path / "saved.json"))
    check_save_dir(None)
