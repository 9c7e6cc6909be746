"""The module payloads kept from one run to the next (plugins/plugin_utils/payload_cache.py).

The reference is ansible-core's own builder, ``module_common.modify_module``: it keeps a payload in
``C.DEFAULT_LOCAL_TMP/ansiballz_cache`` for one run and reads it there instead of building it again
(``_find_module_utils``, the same directory in 2.16-2.19). The last test runs it: a second "run" with the store
builds nothing and sends the same module code.
"""

import base64
import hashlib
import io
import os
import pickle
import zipfile

import pytest
from ansible import constants as C
from ansible.executor import module_common
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import module_loader
from ansible.template import Templar

from ansible_collections.rollback.core.plugins.plugin_utils import payload_cache

OURS = payload_cache.OURS + "rollout_undo-ZIP_DEFLATED-none"


def kept_name(name, data):
    return "%s~%s" % (name, hashlib.sha256(data).hexdigest())


def write(path, data=b"payload"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as target:
        target.write(data)
    return path


def tree(tmp_path, files):
    for name, data in files.items():
        write(str(tmp_path / name), data)
    return str(tmp_path)


def test_the_key_names_the_code_a_payload_is_built_from(tmp_path):
    sources = tree(tmp_path / "utils", {"a.py": b"A = 1\n", "sub/b.py": b"B = 2\n", "notes.txt": b"x"})
    first = payload_cache.key((sources,), "2.19.14", "/ansible")
    assert payload_cache.key((sources,), "2.19.14", "/ansible") == first
    write(os.path.join(sources, "notes.txt"), b"not code")
    write(os.path.join(sources, "__pycache__", "a.cpython-311.pyc"), b"bytecode")
    assert payload_cache.key((sources,), "2.19.14", "/ansible") == first
    assert payload_cache.key((sources,), "2.18.1", "/ansible") != first
    assert payload_cache.key((sources,), "2.19.14", "/elsewhere/ansible") != first
    write(os.path.join(sources, "sub", "b.py"), b"B = 3\n")
    changed = payload_cache.key((sources,), "2.19.14", "/ansible")
    assert changed != first
    write(os.path.join(sources, "sub", "c.py"), b"")
    assert payload_cache.key((sources,), "2.19.14", "/ansible") not in (first, changed)
    shadow = tree(tmp_path / "shadow", {"basic.py": b""})
    assert payload_cache.key((sources, shadow), "2.19.14", "/ansible") != payload_cache.key((sources,), "2.19.14",
                                                                                            "/ansible")


def test_only_this_collections_complete_payloads_are_kept_once(tmp_path):
    run_cache = tree(tmp_path / "run", {
        OURS: b"ours", OURS + ".lock": b"", OURS.replace("rollout_undo", "traffic") + "-part": b"half",
        "ansible.modules.command-ZIP_DEFLATED-none": b"a library/ module could be this name",
        "ansible_collections.other.thing.plugins.modules.x-ZIP_DEFLATED-none": b"not ours"})
    store = str(tmp_path / "store")
    os.makedirs(store)
    assert payload_cache.keep(run_cache, store) == [OURS]
    assert os.listdir(store) == [kept_name(OURS, b"ours")]
    write(os.path.join(run_cache, OURS), b"built again by another run")
    assert payload_cache.keep(run_cache, store) == []
    assert os.listdir(store) == [kept_name(OURS, b"ours")]
    assert payload_cache.keep(str(tmp_path / "no run cache"), store) == []


def test_a_kept_payload_whose_bytes_do_not_match_its_name_is_removed_not_used(tmp_path):
    other = OURS.replace("rollout_undo", "traffic")
    store = tree(tmp_path / "store", {kept_name(OURS, b"ours"): b"ours", kept_name(other, b"good"): b"corrupted",
                                      "stray-file": b"x"})
    run_cache = str(tmp_path / "run")
    assert payload_cache.copy_in(store, run_cache) == [OURS]
    assert os.listdir(run_cache) == [OURS]
    with open(os.path.join(run_cache, OURS), "rb") as copied:
        assert copied.read() == b"ours"
    assert sorted(os.listdir(store)) == sorted([kept_name(OURS, b"ours"), "stray-file"])
    write(os.path.join(run_cache, OURS), b"built by this run already")
    assert payload_cache.copy_in(store, run_cache) == []


def test_only_the_most_recently_used_key_directories_stay(tmp_path):
    root = str(tmp_path)
    for age, name in enumerate(["k0", "k1", "k2", "k3", "k4", "current"]):
        os.makedirs(os.path.join(root, name))
        os.utime(os.path.join(root, name), (1000 - age, 1000 - age))  # current is the oldest
    payload_cache.prune(root, "current", most=3)
    assert sorted(os.listdir(root)) == ["current", "k0", "k1"]


@pytest.fixture
def local_tmp(tmp_path):
    path = tmp_path / "tmp" / "ansible-local-1"
    path.mkdir(parents=True)
    return str(path)


def share(local_tmp, environ=None):
    registered = []
    store = payload_cache.share(local_tmp, environ or {}, lambda *args: registered.append(args))
    return store, registered


def test_a_store_another_user_can_write_to_is_not_used(local_tmp):
    root = os.path.join(os.path.dirname(local_tmp), payload_cache.STORE)
    os.makedirs(root)
    os.chmod(root, 0o777)
    assert share(local_tmp) == (None, [])
    os.chmod(root, 0o700)
    assert share(local_tmp + "-next")[0].startswith(root)


def test_a_run_with_nothing_to_keep_leaves_no_key_directory(local_tmp):
    # Runs that build none of the collection's payloads (every host on the controller) would otherwise leave empty
    # directories that push the warm ones out of the KEEP most recently used.
    store, (handler,) = share(local_tmp)
    write(os.path.join(local_tmp, payload_cache.RUN_CACHE, "ansible.modules.ping-ZIP_DEFLATED-none"))
    handler[0](*handler[1:])
    assert not os.path.exists(store) and os.listdir(os.path.dirname(store)) == []


def test_turned_off_nothing_is_made(local_tmp):
    assert share(local_tmp, {payload_cache.SWITCH: "false"}) == (None, [])
    assert os.listdir(os.path.dirname(local_tmp)) == ["ansible-local-1"]


def build(local_tmp, monkeypatch, name="rollback.core.module_requirements"):
    """ansible-core's payload for ``name`` in a run whose local_tmp is ``local_tmp``: the module's zip."""
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", local_tmp)
    context = module_loader.find_plugin_with_context(name)
    built = module_common.modify_module(module_name=name, module_path=context.plugin_resolved_path, module_args={},
                                        templar=Templar(loader=DataLoader()), module_compression="ZIP_DEFLATED",
                                        task_vars=dict(ansible_python_interpreter="/usr/bin/python3"))
    code = built.b_module_data if hasattr(built, "b_module_data") else built[0]
    return code


def module_files(local_tmp):
    """{file name: bytes} of the zip ansible-core cached in this run: what the payload carries."""
    cache = os.path.join(local_tmp, payload_cache.RUN_CACHE)
    (name,) = [n for n in os.listdir(cache) if n.startswith(payload_cache.OURS) and not n.endswith(".lock")]
    with open(os.path.join(cache, name), "rb") as cached:
        data = cached.read()
    try:
        data = pickle.loads(data).zip_data  # ansible-core 2.19: a _CachedModule
    except pickle.UnpicklingError:
        pass
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(data))) as payload:
        return dict((info.filename, payload.read(info)) for info in payload.infolist())


def test_the_next_run_sends_the_kept_payload_without_building_it(tmp_path, monkeypatch):
    first = str(tmp_path / "ansible-local-1")
    os.makedirs(first)
    store, (handler,) = share(first)
    build(first, monkeypatch)
    handler[0](*handler[1:])  # the first run's exit
    (entry,) = os.listdir(store)
    assert entry.startswith(payload_cache.OURS + "module_requirements-ZIP_DEFLATED")

    second = str(tmp_path / "ansible-local-2")
    os.makedirs(second)
    assert share(second)[0] == store

    def refuse(*args, **kwargs):
        raise AssertionError("the payload was built again")

    monkeypatch.setattr(module_common, "recursive_finder", refuse)
    assert b"module_requirements" in build(second, monkeypatch)
    assert module_files(second) == module_files(first)
    assert any(name.endswith("module_utils/basic.py") for name in module_files(second))
