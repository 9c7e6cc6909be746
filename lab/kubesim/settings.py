"""The lab's knobs: how fast simulated containers start and stop, which images never work.

Images are matched with shell patterns on the whole reference, so ``*:broken`` matches both
``rollback-demo:broken`` and ``127.0.0.1:5000/rollback-demo:broken``.
"""

import fnmatch
import json


class Settings:
    def __init__(self, ready_delay=0.2, stop_delay=0.1, broken=("*:broken",), never_ready=("*:never-ready",),
                 image_delays=None, nodes=2, hpa_interval=1.0, rbac=False, admin_token="kubesim-token",
                 event_ttl=3600):
        self.ready_delay = ready_delay          # pull + start + readiness probe, per container
        self.stop_delay = stop_delay            # a running container's exit after SIGTERM (capped by the grace period)
        self.broken = list(broken)              # images that cannot be pulled: ErrImagePull, then ImagePullBackOff
        self.never_ready = list(never_ready)    # images that start but whose readiness probe never passes
        self.image_delays = dict(image_delays or {})  # pattern -> seconds until Ready
        self.nodes = nodes
        self.hpa_interval = hpa_interval
        self.rbac = rbac
        self.admin_token = admin_token
        self.event_ttl = event_ttl

    @classmethod
    def load(cls, path):
        with open(path) as handle:
            return cls(**json.load(handle))

    @staticmethod
    def _match(image, patterns):
        return any(fnmatch.fnmatchcase(image or "", pattern) for pattern in patterns)

    def is_broken(self, image):
        return self._match(image, self.broken)

    def is_never_ready(self, image):
        return self._match(image, self.never_ready)

    def delay(self, image):
        for pattern, seconds in self.image_delays.items():
            if fnmatch.fnmatchcase(image or "", pattern):
                return float(seconds)
        return self.ready_delay
