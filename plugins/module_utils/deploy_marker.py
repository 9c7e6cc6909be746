# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy markers: what a deploy step leaves so an automatic rollback knows whether an alert follows a deploy.

One JSON file per inventory host, ``<marker_dir>/<service>.json``, replaced atomically by the deploy step:

    {"service": "demo-compose", "deploy_id": "release-42", "version": "1.0.1", "previous_version": "1.0.0",
     "status": "in_progress" | "done" | "failed", "started_at": "2026-01-01T12:00:00Z", "finished_at": null,
     "deployed_by": "pipeline", "services": ["demo-compose", "demo-server"],
     "config_changed": false, "migration_ran": false, "migration_failed": false}

``service``, ``deploy_id``, ``status`` and ``started_at`` (RFC 3339) are required. ``services`` lists every
service the same deploy changes (an automatic rollback with scope ``deploy`` takes them all). The three flags,
when true, feed rollback_decision's level recommendation (runbook 001: config -> level 2, a failed migration ->
level 3), so such a deploy is never rolled back without approval.

``rollback.core.backup`` (kind ``marker`` with ``marker_dir``) writes this same file when a pipeline takes its
pre-deploy restore point (``write_marker``), so one marker serves the automatic rollback and the rollback's
preflight (which warns when the restore point it will use is older than the last deploy).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.rollback.core.plugins.module_utils.alertmanager import parse_time
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write

STATUSES = ("in_progress", "done", "failed")
FLAGS = ("config_changed", "migration_ran", "migration_failed")


class MarkerError(Exception):
    """A marker that exists but cannot be trusted; the message says why."""


class Marker:
    def __init__(self, document, path):
        if not isinstance(document, dict):
            raise MarkerError("%s is not a JSON object" % path)
        missing = [key for key in ("service", "deploy_id", "status", "started_at") if not document.get(key)]
        if missing:
            raise MarkerError("%s lacks %s" % (path, ", ".join(missing)))
        if document["status"] not in STATUSES:
            raise MarkerError("%s has status %r, expected one of %s" % (path, document["status"], ", ".join(STATUSES)))
        try:
            self.started = parse_time(document["started_at"])
            self.finished = parse_time(document["finished_at"]) if document.get("finished_at") else None
        except ValueError as error:
            raise MarkerError("%s: %s" % (path, error))
        self.document = document
        self.path = path
        self.service = str(document["service"])
        self.deploy_id = str(document["deploy_id"])
        self.status = document["status"]
        self.services = [str(name) for name in document.get("services") or [self.service]]
        self.flags = dict((flag, True) for flag in FLAGS if document.get(flag) is True)

    def as_dict(self):
        return dict((key, self.document.get(key)) for key in (
            "service", "deploy_id", "version", "previous_version", "status", "started_at", "finished_at",
            "deployed_by", "services") + FLAGS)


def marker_path(marker_dir, service):
    return os.path.join(marker_dir, service + ".json")


def read_marker(marker_dir, service):
    """The service's Marker, or None when it has none; MarkerError when it is unreadable or malformed."""
    path = marker_path(marker_dir, service)
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise MarkerError("%s: %s" % (path, error.strerror))
    try:
        document = json.loads(text)
    except ValueError as error:
        raise MarkerError("%s is not JSON: %s" % (path, error))
    marker = Marker(document, path)
    if marker.service != service:
        raise MarkerError("%s names service %r, not %r" % (path, marker.service, service))
    return marker


def write_marker(marker_dir, document):
    """Replace the marker of ``document["service"]`` atomically (checked as read_marker checks it); its path."""
    if not os.path.isdir(marker_dir):
        try:
            os.makedirs(marker_dir, 0o755)
        except OSError as error:
            raise MarkerError("cannot create the deploy marker directory %s: %s" % (marker_dir, error.strerror))
    path = marker_path(marker_dir, str(document.get("service")))
    Marker(document, path)
    return atomic_write(path, json.dumps(document, indent=2, sort_keys=True) + "\n", mode=0o644, what="deploy marker")


def _markers(marker_dir, services, problems):
    found = []
    for service in services:
        try:
            marker = read_marker(marker_dir, service)
        except MarkerError as error:
            problems.append(str(error))
            continue
        if marker is not None:
            found.append(marker)
    return found


def newest_marker(marker_dir, services, problems):
    """The marker of the latest-started deploy among ``services``; unreadable ones are added to ``problems``."""
    found = _markers(marker_dir, services, problems)
    return max(found, key=lambda m: m.started) if found else None


def newest_deploy_start(marker_dir, services, problems):
    """The earliest-started marker of the newest deploy among ``services``: a deploy of several services writes one
    marker per service as it reaches it, and what the deploy changed began with the first (a migration run while
    a later service was being deployed comes after that one's start, not after the newest)."""
    found = _markers(marker_dir, services, problems)
    if not found:
        return None
    newest = max(found, key=lambda m: m.started)
    return min((m for m in found if m.deploy_id == newest.deploy_id), key=lambda m: m.started)
