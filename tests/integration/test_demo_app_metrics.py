"""The demo app's Prometheus metrics, in both forms (Python app, busybox image): the same families, accepted by
Prometheus' own parser (promtool check metrics), counters that only grow, and the bad release's errors."""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import docker
import pytest
from support.demo_images import demo_image
from support.http_servers import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_up(url):
    for _attempt in range(100):
        try:
            return get(url)
        except urllib.error.URLError:
            time.sleep(0.1)
    pytest.fail("%s never answered" % url)


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition, checked by promtool first."""
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(tuple(pair.split("=", 1)) for pair in match.group(2).split(","))
            found[(match.group(1), labels)] = float(match.group(3))
    return found


def value(found, name, **labels):
    wanted = set((key, '"%s"' % val) for key, val in labels.items())
    return sum(v for (metric, have), v in found.items() if metric == name and wanted <= have)


@pytest.fixture(params=["python", "busybox"])
def app(request, lab):
    """The release 1.0.1 of the demo app in one of its forms; yields its base URL."""
    port = free_port()
    if request.param == "python":
        process = subprocess.Popen([sys.executable, os.path.join(REPO, "lab", "demo_app", "app.py"), "--port",
                                    str(port), "--release",
                                    os.path.join(REPO, "lab", "demo_app", "releases", "1.0.1.json")])
        wait_up("http://127.0.0.1:%d/version" % port)
        yield request.param, "http://127.0.0.1:%d" % port
        process.terminate()
        process.wait()
    else:
        client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
        container = client.containers.run(demo_image("1.0.1"), detach=True, network_mode="host",
                                          environment={"PORT": str(port)})
        try:
            wait_up("http://127.0.0.1:%d/version" % port)
            yield request.param, "http://127.0.0.1:%d" % port
        finally:
            container.remove(force=True)


def test_the_bad_release_counts_its_errors_and_latency(app):
    form, url = app
    codes = [get(url + "/api/items")[0] for _request in range(20)]
    assert get(url + "/health")[0] == 503
    first = samples(get(url + "/metrics")[1])
    errors = value(first, "http_requests_total", handler="/api/items", code="500", version="1.0.1")
    assert errors == codes.count(500) and value(first, "http_requests_total", handler="/api/items") == 20
    if form == "python":
        assert errors == 10, "every other /api/ request fails (error_percent 50)"
    else:
        assert 0 < errors < 20, "about half fail ($RANDOM)"
    assert value(first, "http_requests_total", handler="/health", code="503") == 1
    count = value(first, "http_request_duration_seconds_count", handler="/api/items", version="1.0.1")
    assert count == 20 == value(first, "http_request_duration_seconds_bucket", handler="/api/items", le="+Inf")
    assert value(first, "demo_release_info", version="1.0.1") == 1
    # Counters only grow, across the busybox handler's folding of its request log into its totals.
    for _request in range(5):
        get(url + "/api/items")
    second = samples(get(url + "/metrics")[1])
    assert value(second, "http_requests_total", handler="/api/items") == 25
    assert value(second, "http_requests_total", handler="/metrics", code="200") == 1


def test_both_forms_export_the_same_families_and_labels(lab):
    """The rules (extensions/prometheus) select on these names and labels, whatever the target."""
    port = free_port()
    release = os.path.join(REPO, "lab", "demo_app", "releases", "1.0.0.json")
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "lab", "demo_app", "app.py"), "--port", str(port),
                                "--release", release])
    try:
        wait_up("http://127.0.0.1:%d/version" % port)
        get("http://127.0.0.1:%d/api/items" % port)
        python = samples(get("http://127.0.0.1:%d/metrics" % port)[1])
    finally:
        process.terminate()
        process.wait()
    busybox_url = "http://127.0.0.1:%s" % lab["LAB_COMPOSE_PORT"]
    get(busybox_url + "/api/items")
    busybox = samples(get(busybox_url + "/metrics")[1])

    def shape(found):
        return set((name, frozenset(key for key, _value in labels)) for name, labels in found)

    assert shape(python) <= shape(busybox)
    assert {("http_requests_total", frozenset({"handler", "code", "version"})),
            ("http_request_duration_seconds_bucket", frozenset({"handler", "version", "le"}))} <= shape(python)
