# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Undo a release on a plain server: a Capistrano-style ``current`` symlink or a git tag, then the units.

The symlink is switched atomically (a new link renamed over ``current``), after
the optional ``before_start`` command succeeded in the target release, so a
failure leaves the old release live. Releases are never deleted. Units are
restarted with ``systemctl`` found on PATH and waited for until active.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shlex

from ansible_collections.rollback.core.plugins.module_utils import undo_record
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write, utc_iso

SERVER_SPEC = dict(
    releases_dir=dict(type="path"),
    repo_dir=dict(type="path"),
    units=dict(type="list", elements="str", default=[]),
    before_start=dict(type="str"),
)


def version_key(name):
    """Natural order: v1.0.10 after v1.0.9, 20251112-101500 after 20251111-..."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def previous_of(versions, current):
    ordered = sorted(versions, key=version_key)
    if current not in ordered:
        raise RollbackError("the current release %s is not among %s" % (current, ", ".join(ordered)))
    index = ordered.index(current)
    if index == 0:
        raise RollbackError("%s is the oldest release: there is nothing to roll back to" % current)
    return ordered[index - 1]


class Releases:
    """``<releases_dir>/releases/<version>/`` and ``<releases_dir>/current`` -> one of them."""

    def __init__(self, root):
        self.root = root
        self.releases = os.path.join(root, "releases")
        self.current_link = os.path.join(root, "current")
        if not os.path.isdir(self.releases):
            raise RollbackError("releases_dir %s has no releases/ directory" % root)
        if not os.path.islink(self.current_link):
            raise RollbackError("%s is not a symlink to a release" % self.current_link)
        self.record_path = undo_record.file_beside(root)

    def state(self, version):
        """What the undo record keeps of a release."""
        return dict(version=version)

    def versions(self):
        return [name for name in os.listdir(self.releases) if os.path.isdir(os.path.join(self.releases, name))]

    def current(self):
        return os.path.basename(os.path.realpath(self.current_link))

    def path(self, version):
        path = os.path.join(self.releases, version)
        if not os.path.isdir(path):
            raise RollbackError("release %s not found in %s (available: %s)" % (
                version, self.releases, ", ".join(sorted(self.versions(), key=version_key))))
        return path

    def switch(self, version):
        temporary = "%s.rollback-%d" % (self.current_link, os.getpid())
        if os.path.lexists(temporary):
            os.remove(temporary)
        os.symlink(self.path(version), temporary)
        os.rename(temporary, self.current_link)


class GitTags:
    """A work tree checked out at a release tag (runbook 000 option C)."""

    def __init__(self, module, root):
        self.module = module
        self.root = root
        self.git = module.get_bin_path("git", required=True)
        if not os.path.isdir(os.path.join(root, ".git")):
            raise RollbackError("repo_dir %s is not a git work tree" % root)
        self.record_path = undo_record.file_beside(root, git=True)

    def state(self, version):
        """What the undo record keeps of a release: the tag and its commit (a moved tag is a new release)."""
        return dict(version=version, commit=self._run("rev-parse", "--verify", "--quiet", version + "^{commit}"))

    def _run(self, *args):
        rc, out, err = self.module.run_command([self.git, "-C", self.root] + list(args))
        if rc != 0:
            raise RollbackError("git %s failed in %s: %s" % (args[0], self.root, err.strip() or out.strip()))
        return out.strip()

    def versions(self):
        return self._run("tag", "--list").split()

    def current(self):
        tags = self._run("tag", "--points-at", "HEAD").split()
        if not tags:
            raise RollbackError("HEAD of %s is not at a release tag: give to_version" % self.root)
        return sorted(tags, key=version_key)[-1]

    def path(self, version):
        if version not in self.versions():
            raise RollbackError("tag %s not found in %s (available: %s)" % (
                version, self.root, ", ".join(sorted(self.versions(), key=version_key))))
        return self.root

    def switch(self, version):
        if self._run("status", "--porcelain", "--untracked-files=no"):
            raise RollbackError("%s has local changes: refusing to check out %s over them" % (self.root, version))
        self._run("checkout", "--quiet", version)


def systemctl(module, *args):
    """``(rc, stdout, stderr)`` of ``systemctl <args>``, systemctl found on PATH."""
    return module.run_command([module.get_bin_path("systemctl", required=True)] + list(args))


def unit_action(module, action, unit):
    """``systemctl <action> <unit>``; a failure is one RollbackError line."""
    rc, _out, err = systemctl(module, action, unit)
    if rc != 0:
        raise RollbackError("systemctl %s %s failed: %s" % (action, unit, err.strip() or "exit %d" % rc))


def unit_active(module, unit):
    _rc, out, _err = systemctl(module, "is-active", unit)
    return out.strip() == "active", "%s is %s" % (unit, out.strip() or "unknown")


def check_units(module, units):
    """Fail before any change when a unit does not exist."""
    for unit in units:
        rc, _out, err = systemctl(module, "cat", unit)
        if rc != 0:
            raise RollbackError("unit %s not found: %s" % (unit, err.strip()))


def restart_units(module, waiter, units):
    """Restart each unit, then wait until each is active; return the units restarted."""
    for unit in units:
        unit_action(module, "restart", unit)
    for unit in units:
        waiter.wait(lambda unit=unit: unit_active(module, unit), "unit %s to be active" % unit)
    return list(units)


def traffic(module, waiter):
    """Stop or resume a server's traffic: a maintenance flag file (JSON: reason, since) and its units."""
    params = module.params
    flag = params["maintenance_file"]
    if not flag and not params["units"]:
        raise RollbackError("platform server needs maintenance_file or units (or both) to stop traffic")
    if flag and not os.path.isdir(os.path.dirname(os.path.abspath(flag))):
        raise RollbackError("directory of maintenance_file %s does not exist" % flag)
    check_units(module, params["units"])
    before = dict(maintenance=bool(flag and os.path.exists(flag)),
                  units=dict((u, unit_active(module, u)[0]) for u in params["units"]))
    stopping = params["state"] == "stopped"
    after = dict(maintenance=bool(flag and stopping), units=dict((u, not stopping) for u in params["units"]))
    result = module.changed_result(before, after, maintenance_file=flag, units=params["units"])
    if not result["changed"] or module.check_mode:
        return result
    if stopping:
        if flag and not before["maintenance"]:
            atomic_write(flag, json.dumps({"reason": params["reason"], "since": utc_iso()}), what="maintenance_file")
        for unit in params["units"]:
            if before["units"][unit]:
                unit_action(module, "stop", unit)
    else:
        starting = [u for u in params["units"] if not before["units"][u]]
        for unit in starting:
            unit_action(module, "start", unit)
        for unit in starting:
            waiter.wait(lambda unit=unit: unit_active(module, unit), "unit %s to be active" % unit)
        if flag and before["maintenance"]:
            os.remove(flag)
    return result


def undo(module, waiter):
    params = module.params
    if bool(params["releases_dir"]) == bool(params["repo_dir"]):
        raise RollbackError("platform server needs exactly one of releases_dir and repo_dir")
    target = Releases(params["releases_dir"]) if params["releases_dir"] else GitTags(module, params["repo_dir"])
    current = target.current()
    record = undo_record.read_file(target.record_path)
    if not params["to_version"] and undo_record.settled(record, target.state(current)):
        # Nothing deployed since this module's last undo: "the release before the current one" would go further.
        return dict(changed=False, already_rolled_back=True, undo_record=record, from_version=current,
                    to_version=current, release_path=target.path(current), units=params["units"])
    version = params["to_version"] or previous_of(target.versions(), current)
    release_path = target.path(version)
    check_units(module, params["units"])
    result = module.changed_result({"release": current}, {"release": version}, from_version=current,
                                   to_version=version, release_path=release_path, units=params["units"],
                                   already_rolled_back=False, undo_record=record)
    if not result["changed"] or module.check_mode:
        return result
    if params["before_start"]:
        rc, out, err = module.run_command(shlex.split(params["before_start"]), cwd=release_path)
        if rc != 0:
            raise RollbackError("before_start failed in %s (rc %d), nothing switched: %s"
                                % (release_path, rc, (err or out).strip()[-500:]))
    # Written before the switch: a switch that fails leaves a record whose "to" is not what runs, which a re-run
    # ignores; a switch done is never without its record.
    result["undo_record"] = undo_record.make(target.state(current), target.state(version), params["run_id"])
    undo_record.write_file(target.record_path, result["undo_record"])
    target.switch(version)
    try:
        restart_units(module, waiter, params["units"])
    except RollbackError as error:
        raise RollbackError("%s (after switching to %s)" % (error.msg, version), from_version=current,
                            to_version=version, switched=True)
    return result
