# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep the collection's module payloads from one run to the next (issue 22).

A module run by another Python (a remote host, another interpreter, become) travels as an AnsiballZ payload: the
module and every module_utils file it imports, found by parsing each of them (``recursive_finder`` in
ansible.executor.module_common). That costs the controller 0.3-0.5 s of CPU per module and run (rollout_undo 0.51 s,
postgres_restore 0.43 s, rollback_decision 0.33 s), on the path of each remote host's first call of the module.
ansible-core keeps a payload for one run only, in ``C.DEFAULT_LOCAL_TMP/ansiballz_cache``, which it deletes at exit.

This keeps this collection's payloads in a private directory named by everything they are built from: ansible-core's
version and location, and the bytes of the collection's modules, its module_utils and any module_utils directory
configured beside ansible-core's (which could shadow ``ansible.module_utils`` files). Other code gets another
directory: a payload is never used for code it was not built from. At start, in the controller before the workers
fork, the kept payloads are copied into the run's cache, each checked against the SHA-256 in its name; at exit the
run's new payloads of this collection's modules are kept, each written whole under a temporary name, then renamed.
Payloads of other collections and of playbook-adjacent modules are never kept: their code is not in the key.
A module's payload holds no argument (ansible-core adds them to each call's wrapper after the cache).

Nothing here fails a run: on any error ansible-core builds the payloads as it does without this.
``ROLLBACK_CORE_PAYLOAD_CACHE=false`` turns it off.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import hashlib
import os
import shutil
import stat
import tempfile

import ansible
from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.loader import module_utils_loader
from ansible.release import __version__ as ansible_version

SWITCH = "ROLLBACK_CORE_PAYLOAD_CACHE"
STORE = "rollback-core-ansiballz"  # beside the runs' own temporary directories (local_tmp, ~/.ansible/tmp)
RUN_CACHE = "ansiballz_cache"  # ansible-core's name, in C.DEFAULT_LOCAL_TMP (the same in 2.16-2.19)
OURS = "ansible_collections.rollback.core.plugins.modules."
SEPARATOR = "~"  # <ansible-core's file name>~<SHA-256 of its bytes>
SHARED = set()  # the local_tmp directories this process shares the store with (preload runs once; its tests more)
KEEP = 4  # key directories kept, the most recently used: a checkout switched back and forth stays warm
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCES = (os.path.join(COLLECTION, "plugins", "modules"), os.path.join(COLLECTION, "plugins", "module_utils"))
ANSIBLE = os.path.dirname(ansible.__file__)


def enabled(environ=None):
    return boolean((os.environ if environ is None else environ).get(SWITCH, "true"), strict=False)


def extra_module_utils():
    """The module_utils directories a payload's ``ansible.module_utils`` imports are looked up in before
    ansible-core's own, as ``recursive_finder`` lists them."""
    return sorted(path for path in module_utils_loader._get_paths(subdirs=False) if os.path.isdir(path))


def key(sources=SOURCES, version=ansible_version, location=ANSIBLE):
    """What a payload of this collection is built from, as a name."""
    digest = hashlib.sha256(("%s\0%s\0" % (version, location)).encode("utf-8"))
    for root in sources:
        digest.update(("%s\0" % root).encode("utf-8"))
        for directory, subdirectories, files in os.walk(root):
            subdirectories[:] = sorted(name for name in subdirectories if name != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    with open(path, "rb") as source:
                        content = hashlib.sha256(source.read()).hexdigest()
                    digest.update(("%s\0%s\0" % (os.path.relpath(path, root), content)).encode("utf-8"))
    return digest.hexdigest()[:32]


def private(path):
    """``path``, a directory made if need be, after checking that only this user can write to it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise OSError("%s is not a directory only this user can write to" % path)
    return path


def write_whole(path, data):
    """``data`` at ``path``, never seen half-written: a temporary file in the same directory, then a rename."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as target:
            target.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def kept(store):
    """{ansible-core's file name: kept file name} of the store's payloads."""
    entries = {}
    for entry in os.listdir(store):
        name, separator, digest = entry.rpartition(SEPARATOR)
        if separator and name.startswith(OURS):
            entries[name] = entry
    return entries


def copy_in(store, run_cache):
    """Copy the kept payloads into the run's cache; one whose bytes do not match its name is removed. Returns the
    names copied."""
    os.makedirs(run_cache, exist_ok=True)
    copied = []
    for name, entry in sorted(kept(store).items()):
        target = os.path.join(run_cache, name)
        if os.path.exists(target):
            continue
        path = os.path.join(store, entry)
        with open(path, "rb") as source:
            data = source.read()
        if hashlib.sha256(data).hexdigest() != entry.rpartition(SEPARATOR)[2]:
            os.unlink(path)
            continue
        write_whole(target, data)
        copied.append(name)
    return copied


def keep(run_cache, store):
    """Keep the run's complete payloads of this collection's modules that the store lacks. Returns their names."""
    if not os.path.isdir(run_cache):
        return []
    present = kept(store) if os.path.isdir(store) else {}
    new = [name for name in sorted(os.listdir(run_cache))
           if name.startswith(OURS) and name not in present and not name.endswith((".lock", "-part"))]
    if new:
        private(store)  # made here, not at start: a run with nothing to keep leaves no directory to prune by
    added = []
    for name in new:
        with open(os.path.join(run_cache, name), "rb") as source:
            data = source.read()
        write_whole(os.path.join(store, "%s%s%s" % (name, SEPARATOR, hashlib.sha256(data).hexdigest())), data)
        added.append(name)
    return added


def prune(root, current, most=KEEP):
    """Remove all but the ``most`` most recently used key directories (``current`` is always kept)."""
    others = [os.path.join(root, name) for name in os.listdir(root) if name != current]
    others = sorted((path for path in others if os.path.isdir(path) and not os.path.islink(path)),
                    key=os.path.getmtime, reverse=True)
    for path in others[most - 1:]:
        shutil.rmtree(path, ignore_errors=True)


def at_exit(run_cache, store, root, current):
    try:
        keep(run_cache, store)
        prune(root, current)
    except Exception:  # noqa: BLE001 - see the module's docstring: never the run's failure
        pass


def share(local_tmp=None, environ=None, register=atexit.register):
    """Use and fill the store for this run (the controller, once, before the workers fork). Returns the store's
    path, or None when it is off or cannot be used."""
    local_tmp = local_tmp or C.DEFAULT_LOCAL_TMP
    if not enabled(environ) or local_tmp in SHARED:
        return None
    SHARED.add(local_tmp)
    try:
        root = private(os.path.join(os.path.dirname(local_tmp), STORE))
        current = key(SOURCES + tuple(extra_module_utils()))
        store = os.path.join(root, current)
        run_cache = os.path.join(local_tmp, RUN_CACHE)
        if os.path.lexists(store):
            os.utime(private(store))
            copy_in(store, run_cache)
    except Exception:  # noqa: BLE001 - see the module's docstring: never the run's failure
        return None
    # After ansible-core's own exit handler is registered (it removes local_tmp), so run before it.
    register(at_exit, run_cache, store, root, current)
    return store
