# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retry with jittered exponential backoff ("full jitter", as AWS recommends).

Only errors that ``retryable(error)`` accepts are retried; anything else, and
the last retryable error once the tries are spent, is raised unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import random
import time


def backoff_delays(tries, base, cap, rand=random.uniform):
    """The sleeps between ``tries`` attempts: uniform in [0, min(cap, base * 2**n)]."""
    for attempt in range(tries - 1):
        yield rand(0, min(cap, base * (2 ** attempt)))


def retry_call(func, retryable, tries=5, base=0.5, cap=10.0, sleeper=time.sleep, rand=random.uniform):
    delays = backoff_delays(tries, base, cap, rand)
    while True:
        try:
            return func()
        except Exception as error:
            if not retryable(error):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            sleeper(delay)


def retrying(retryable, tries=5, base=0.5, cap=10.0):
    """Decorator form of retry_call."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return retry_call(lambda: func(*args, **kwargs), retryable, tries, base, cap)

        return wrapper

    return decorate
