"""The demo app's images as the lab names them (after its registry), for tests that need them at import time."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "lab"))

from labkit.registry import DEMO_IMAGE  # noqa: E402

__all__ = ("DEMO_IMAGE", "demo_image")


def demo_image(tag):
    return "%s:%s" % (DEMO_IMAGE, tag)
