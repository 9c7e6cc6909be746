from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.retry import backoff_delays, retry_call, retrying


class Throttled(Exception):
    pass


def flaky(failures, error=Throttled):
    calls = []

    def func():
        calls.append(1)
        if len(calls) <= failures:
            raise error("try %d" % len(calls))
        return "ok"

    return func, calls


def test_delays_grow_exponentially_under_cap_with_full_jitter():
    upper = list(backoff_delays(6, 0.5, 4.0, rand=lambda low, high: high))
    assert upper == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert list(backoff_delays(6, 0.5, 4.0, rand=lambda low, high: low)) == [0] * 5


def test_retries_retryable_errors_then_succeeds():
    func, calls = flaky(2)
    sleeps = []
    assert retry_call(func, lambda e: isinstance(e, Throttled), tries=3, sleeper=sleeps.append) == "ok"
    assert len(calls) == 3
    assert len(sleeps) == 2


def test_gives_up_after_tries_with_last_error():
    func, calls = flaky(10)
    with pytest.raises(Throttled, match="try 3"):
        retry_call(func, lambda e: True, tries=3, sleeper=lambda s: None)
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    func, calls = flaky(1, error=ValueError)
    with pytest.raises(ValueError):
        retry_call(func, lambda e: isinstance(e, Throttled), sleeper=lambda s: None)
    assert len(calls) == 1


def test_decorator_passes_arguments():
    seen = []

    @retrying(lambda e: False)
    def add(a, b=0):
        seen.append((a, b))
        return a + b

    assert add(1, b=2) == 3
    assert seen == [(1, 2)]
