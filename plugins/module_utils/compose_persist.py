# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Compose rollback that survives the next ``docker compose up``: the project's own configuration names it.

Per service, the first layout that applies:

- ``git``: the project directory is in a git work tree and ``to_version`` is a commit there: the project's
  compose files are checked out at it (runbook 004: ``git checkout $PREVIOUS_VERSION -- docker-compose.app.yml``);
  the images are the ones those files name.
- ``env``: the image interpolates one variable (``image: app:${APP_TAG}``) set nowhere in the task's
  environment and used by no other service: that variable is written in the env file compose reads.
- ``override``: otherwise, ``compose.rollback.yaml`` in the project directory pins the image, and is added to
  ``COMPOSE_FILE`` in the env file, so a plain ``docker compose up`` in the project loads it (compose reads
  ``COMPOSE_FILE`` from ``.env``). Commands that name their files with ``-f`` must name it too: warned.

A plan holds every file's bytes before and after and is shown in ``--diff``; applying it saves each previous
file as ``<file>.pre-rollback-<UTC time>`` (as env_file_restore does), then writes atomically.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import tempfile
import time

from ansible_collections.rollback.core.plugins.module_utils import compose_git
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, one_line
from ansible_collections.rollback.core.plugins.module_utils.compose import DEFAULT_FILES, DEFAULT_OVERRIDES
from ansible_collections.rollback.core.plugins.module_utils.compose_envfile import (
    EnvFiles,
    assign,
    assignments,
    changed_lines,
    references,
    value_for,
)

PIN_FILE = "compose.rollback.yaml"
PIN_HEADER = ("# Written by rollback.core.rollout_undo: the images a rollback went back to, pinned so that the next\n"
              "# `docker compose up` keeps them. A deploy that moves a service forward removes its entry.\n")


class FileChange:
    def __init__(self, path, before, after, secret_values=False):
        self.path = path
        self.before = before  # text, None when the file does not exist yet
        self.after = after
        self.secret_values = secret_values

    def diff(self):
        before, after = self.before or "", self.after
        header = self.path
        if self.secret_values:
            before, after = changed_lines(before, after)
            header += " (changed lines only)"
        return dict(before_header=header, after_header=header, before=before, after=after)


class Plan:
    def __init__(self):
        self.layouts = {}
        self.targets = {}
        self.changes = []
        self.checkout = None  # (GitCommit, [paths]) for the git layout
        self.up_files = None  # an explicit -f list for our own `up`, when the project has one
        self.warnings = []

    def diffs(self):
        return [change.diff() for change in self.changes]

    def changed_files(self):
        return [change.path for change in self.changes]


# The plan ------------------------------------------------------------------------------------------------------

def effective_files(project, env):
    """The compose files the project loads, and where that list comes from."""
    if project.files:
        return list(project.files), "files"
    if "COMPOSE_FILE" in os.environ:
        return _split_files(project, os.environ["COMPOSE_FILE"], os.environ), "environment"
    value = env.value("COMPOSE_FILE")
    if value:
        return _split_files(project, value, assignments(env.texts[env.holder("COMPOSE_FILE")])), "env file"
    found = [name for name in DEFAULT_FILES if os.path.exists(project.path(name))][:1]
    if not found:
        raise RollbackError("no compose file in %s (%s)" % (project.src, ", ".join(DEFAULT_FILES)))
    found += [name for name in DEFAULT_OVERRIDES if os.path.exists(project.path(name))][:1]
    return [project.path(name) for name in found], "default"


def _separator(values):
    return values.get("COMPOSE_PATH_SEPARATOR") or os.environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep


def _split_files(project, value, values):
    return [project.path(name) for name in value.split(_separator(values)) if name]


def plan(project, services, targets, commit):
    """Where each service's target is written so that compose itself runs it from now on."""
    result = Plan()
    env = EnvFiles(project)
    files, files_from = effective_files(project, env)
    pin_path = project.path(PIN_FILE)
    pins_before = _read_pins(pin_path)
    pins = dict(pins_before)
    texts = dict(env.texts)
    if commit:
        for service in services:
            result.layouts[service] = "git"
            pins.pop(service, None)
        result.targets = _git_targets(project, services, commit, files, pins, result)
    else:
        result.targets = dict(targets)
        claimed = {}
        for service in services:
            variable = _variable(project, service, targets[service], services, env, claimed, result)
            if variable:
                name, value, path = variable
                texts[path] = assign(texts[path], name, value)
                result.layouts[service] = "env"
            else:
                pins[service] = targets[service]
                result.layouts[service] = "override"
    pinned = "override" in result.layouts.values()
    if pins != pins_before and (pinned or pin_path in files):
        if pin_path not in files:
            _include(project, env, files, files_from, pin_path, texts, result)
        result.changes.append(FileChange(pin_path, _text_or_none(pin_path), _pins_text(pins)))
    for path in env.paths:
        if texts[path] != env.texts[path]:
            result.changes.insert(0, FileChange(path, env.texts[path] if os.path.exists(path) else None, texts[path],
                                                secret_values=True))
    return result


def _variable(project, service, target, services, env, claimed, result):
    raw = ((project.raw.get("services") or {}).get(service) or {}).get("image") or ""
    found = value_for(raw, target)
    if not found:
        return None
    name, value = found
    if name in os.environ:
        result.warnings.append("%s is set in the environment of this task and wins over the env file: the image of "
                               "%s is pinned in %s instead" % (name, service, PIN_FILE))
        return None
    others = dict(project.raw)
    others["services"] = dict((other, config) for other, config in (project.raw.get("services") or {}).items()
                              if other not in services)
    if name in references(json.dumps(others)):
        result.warnings.append("%s is also used outside the services rolled back: the image of %s is pinned in %s "
                               "instead" % (name, service, PIN_FILE))
        return None
    if claimed.get(name, value) != value:
        return None
    claimed[name] = value
    if not env.read:
        result.warnings.append("COMPOSE_DISABLE_ENV_FILE is set: the image of %s is pinned in %s" % (service, PIN_FILE))
        return None
    return name, value, env.holder(name)


def _include(project, env, files, files_from, pin_path, texts, result):
    """Make the pin file part of the project: COMPOSE_FILE in the env file, or our own -f list."""
    if files_from in ("files", "environment"):
        result.up_files = files + [pin_path]
        result.warnings.append("the project's files come from %s, so %s cannot be added to them: commands that "
                               "name the compose files must add -f %s" % (
                                   "the files option" if files_from == "files" else "COMPOSE_FILE in the environment",
                                   PIN_FILE, pin_path))
        return
    holder = env.holder("COMPOSE_FILE")
    values = assignments(texts[holder])
    texts[holder] = assign(texts[holder], "COMPOSE_FILE", _separator(values).join(
        ([values["COMPOSE_FILE"]] if files_from == "env file" else files) + [pin_path]))
    if not env.read:
        result.up_files = files + [pin_path]
        result.warnings.append("COMPOSE_DISABLE_ENV_FILE is set: compose will not read COMPOSE_FILE from %s" % holder)


def _git_targets(project, services, commit, files, pins, result):
    """The images the compose files name at the commit; their new text goes into the plan."""
    contents = dict((path, text) for path, text in ((path, commit.show(path)) for path in files)
                    if text is not None and text != _text_or_none(path))
    for path in files:
        if path in contents:
            result.changes.append(FileChange(path, _text_or_none(path), contents[path]))
    checkout = sorted(contents)
    pin_path = project.path(PIN_FILE)
    if pin_path in files and pins != _read_pins(pin_path):
        contents[pin_path] = _pins_text(pins)
    targets = compose_git.targets_at(project, services, commit, files, contents, checkout)
    if checkout:
        result.checkout = (commit, checkout)
    return targets


# Pins ----------------------------------------------------------------------------------------------------------

def _read_pins(path):
    text = _text_or_none(path)
    if text is None:
        return {}
    import yaml  # ansible-core's own dependency

    try:
        document = yaml.safe_load(text) or {}
        return dict((str(service), str(config["image"])) for service, config in (document.get("services") or {})
                    .items())
    except (yaml.YAMLError, AttributeError, KeyError, TypeError) as error:
        raise RollbackError("%s is not a pin file written by rollout_undo (services: {name: {image: ...}}): %s"
                            % (path, one_line(error)))


def _pins_text(pins):
    lines = [PIN_HEADER, "services:" + ("" if pins else " {}") + "\n"]
    for service in sorted(pins):
        lines.append("  %s:\n    image: %s\n" % (json.dumps(service), json.dumps(pins[service])))
    return "".join(lines)


def _text_or_none(path):
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8")


# Applying ------------------------------------------------------------------------------------------------------

def apply(module, plan):
    """Save each file that exists, then write the new ones; return the saved copies."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    saved = []
    for change in plan.changes:
        if change.before is not None:
            copy = "%s.pre-rollback-%s" % (change.path, stamp)
            shutil.copy2(change.path, copy)
            saved.append(copy)
    if plan.checkout:
        commit, paths = plan.checkout
        commit.checkout(paths, saved)
    checked_out = plan.checkout[1] if plan.checkout else []
    for change in plan.changes:
        if change.path not in checked_out:
            _write(module, change.path, change.after)
    return saved


def _write(module, path, text):
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".rollback-write-")
    with os.fdopen(handle, "wb") as stream:
        stream.write(text.encode("utf-8"))
    # atomic_move keeps the replaced file's mode and owner; a new file gets 0666 less the umask.
    module.atomic_move(temporary, path)
