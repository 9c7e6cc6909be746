# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ran before: the deploy history of a Compose project, and the creation-time guess when it is silent.

The history is a JSON Lines file in the project directory (``.deploy-history.jsonl``), one event per line,
appended by the deploy pipeline and by ``rollout_undo`` (format: docs/compose-history.md). Appends are one
``write`` on a file opened ``O_APPEND`` under an exclusive ``flock``, so a pipeline appending with ``>>`` at
the same time does not interleave with us.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import split_image

HISTORY_NAME = ".deploy-history.jsonl"
EVENTS = ("deploy", "rollback")


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def event(project, service, image, kind, source, at=None, **extra):
    entry = dict(project=project, service=service, image=image, event=kind, at=at or now(), source=source)
    entry.update((key, value) for key, value in extra.items() if value is not None)
    return entry


class DeployHistory:
    """The events of one project, read once; ``warn`` receives what was skipped and why."""

    def __init__(self, path, project, warn):
        self.path = path
        self.project = project
        self.events = []
        if not os.path.exists(path):
            return
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise RollbackError("cannot read the deploy history %s: %s" % (path, error))
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            entry, problem = _parse(line)
            if problem:
                warn("deploy history %s line %d ignored: %s" % (path, number, problem))
            elif entry.get("project") in (None, project):
                self.events.append(entry)

    def of(self, service):
        return [entry for entry in self.events if entry["service"] == service]

    def previous(self, service, current):
        """``(image, reason)`` of what ran before ``current``, or ``(None, why not)`` when the history cannot say.

        ``image`` is ``current`` itself when the last event already is a rollback to it: a re-run changes nothing
        (to go further back, name the release with ``to_version``).
        """
        events = self.of(service)
        if not events:
            return None, "the deploy history %s has no event for service %s" % (self.path, service)
        last = events[-1]
        if last["image"] == current and last["event"] == "rollback":
            return current, "%s already rolled back to %s (from %s) at %s" % (
                service, current, last.get("from", "?"), last["at"])
        if last["image"] != current:
            # Deployed without a history line: the last release the history knows is what ran before it.
            return last["image"], "the deploy history does not record %s; the last release it records is %s" % (
                current, last["image"])
        for entry in reversed(events[:-1]):
            if entry["image"] != current:
                return entry["image"], "deployed before %s (%s at %s)" % (current, entry["event"], entry["at"])
        return None, "the deploy history of %s holds no release before %s" % (service, current)

    def image_id(self, service, image):
        """The image ID recorded the last time ``image`` ran for the service, if any."""
        ids = [entry.get("image_id") for entry in self.of(service) if entry["image"] == image and entry.get("image_id")]
        return ids[-1] if ids else None

    def append(self, entries):
        """Append events as one write; the history file is created when missing (mode 0644)."""
        if not entries:
            return
        data = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries).encode("utf-8")
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                if os.fstat(descriptor).st_size and not _ends_with_newline(descriptor):
                    data = b"\n" + data
                os.write(descriptor, data)
            finally:
                os.close(descriptor)
        except OSError as error:
            raise RollbackError("cannot append to the deploy history %s: %s" % (self.path, error.strerror or error))
        self.events.extend(entries)


def _parse(line):
    """``(event, None)`` or ``(None, why the line is skipped)``; ``event`` defaults to deploy."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None, "not JSON"
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    missing = [key for key in ("service", "image") if not isinstance(entry.get(key), str) or not entry[key]]
    if missing:
        return None, "no %s" % ", ".join(missing)
    entry.setdefault("event", "deploy")
    entry.setdefault("at", "an unrecorded time")
    if entry["event"] not in EVENTS:
        return None, "event %r is not one of %s" % (entry["event"], ", ".join(EVENTS))
    return entry, None


def _ends_with_newline(descriptor):
    return os.pread(descriptor, 1, os.fstat(descriptor).st_size - 1) == b"\n"


def newest_created_before(project, current):
    """The guess without a history: the newest local image of the repository created before ``current``."""
    repository = split_image(current)[0]
    try:
        running = project.engine("reading image " + current, project.docker.images.get, current)
    except project.errors.ImageNotFound:
        raise RollbackError("the running image %s is no longer present locally and the deploy history does not "
                            "say what ran before it: give to_version" % current)
    candidates = []
    for image in project.engine("listing images of " + repository, project.docker.images.list, name=repository):
        if image.id == running.id or image.attrs["Created"] >= running.attrs["Created"]:
            continue
        tags = [tag for tag in image.tags if split_image(tag)[0] == repository]
        if tags:
            candidates.append((image.attrs["Created"], sorted(tags)[-1]))
    if not candidates:
        raise RollbackError("no deploy history and no local image of %s older than %s: give to_version"
                            % (repository, current))
    return max(candidates)[1]
