from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from support.fake_clock import FakeClock

from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter, WaitTimeout, wait_until


def probe_ready_after(polls):
    seen = []

    def probe():
        seen.append(1)
        return len(seen) >= polls, "%d/%d ready" % (min(len(seen), polls), polls)

    return probe, seen


def test_returns_final_state_once_done():
    fake = FakeClock()
    probe, seen = probe_ready_after(3)
    assert wait_until(probe, "pods", 10, 2, fake.clock, fake.sleep) == "3/3 ready"
    assert len(seen) == 3
    assert fake.sleeps == pytest.approx([0.1, 0.2])


def test_pauses_start_short_and_double_up_to_the_sleep():
    fake = FakeClock()
    probe, seen = probe_ready_after(9)
    wait_until(probe, "db instance", 600, 1.0, fake.clock, fake.sleep)
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0])


def test_a_sleep_shorter_than_the_first_pause_is_every_pause():
    fake = FakeClock()
    probe, seen = probe_ready_after(4)
    wait_until(probe, "x", 10, 0.05, fake.clock, fake.sleep)
    assert fake.sleeps == pytest.approx([0.05, 0.05, 0.05])


def test_timeout_names_what_and_last_state_and_never_oversleeps():
    fake = FakeClock()
    probe, seen = probe_ready_after(100)
    with pytest.raises(WaitTimeout) as raised:
        wait_until(probe, "deployment web", 5, 2, fake.clock, fake.sleep)
    assert raised.value.msg == "timed out after 5s waiting for deployment web: 7/100 ready"
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 1.9])
    assert fake.now == pytest.approx(5)
    assert raised.value.details["wait_polls"] == 7


def test_zero_timeout_still_probes_once():
    fake = FakeClock()
    probe, seen = probe_ready_after(1)
    assert wait_until(probe, "x", 0, 1, fake.clock, fake.sleep) == "1/1 ready"
    assert fake.sleeps == []


class FakeModule:
    def __init__(self, wait=True, check_mode=False):
        self.params = dict(wait=wait, wait_timeout=3, wait_sleep=1.0)
        self.check_mode = check_mode


@pytest.mark.parametrize("wait,check_mode", [(False, False), (True, True)])
def test_waiter_does_nothing_when_off_or_in_check_mode(wait, check_mode):
    probe, seen = probe_ready_after(1)
    assert Waiter(FakeModule(wait, check_mode)).wait(probe, "x") is None
    assert seen == []


def test_waiter_honours_wait_timeout():
    fake = FakeClock()
    probe, seen = probe_ready_after(100)
    waiter = Waiter(FakeModule(), clock=fake.clock, sleeper=fake.sleep)
    with pytest.raises(WaitTimeout):
        waiter.wait(probe, "x")
    assert fake.now == 3
