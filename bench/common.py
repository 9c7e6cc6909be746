"""Shared helpers for benchmarks: the lab's facts, timing, and the ratio line."""

import json
import os
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
COLLECTIONS = os.path.join(REPO, ".collections")


def lab_facts():
    path = os.path.join(os.environ.get("LAB_DIR", os.path.join(REPO, ".lab")), "lab.json")
    if not os.path.exists(path):
        sys.exit("bench: the lab is not running (%s missing): ./dev lab start" % path)
    with open(path) as handle:
        return json.load(handle)


def free_port():
    """A port no socket holds now: a fixed one in the ephemeral range may be a client connection's."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(func, repeat=3, setup=None):
    """Median wall time of ``func()`` over ``repeat`` runs, ``setup()`` untimed before each."""
    times = []
    for _run in range(repeat):
        if setup:
            setup()
        began = time.perf_counter()
        func()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def run_module(name, args):
    """Run a module's file as Ansible runs it on the target: one process, args in a JSON file."""
    args_path = os.path.join(REPO, ".lab", "bench-args-%s.json" % name)
    with open(args_path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    path = os.path.join(REPO, "plugins", "modules", name + ".py")
    completed = subprocess.run([VENV_PYTHON, path, args_path], env=env, capture_output=True, text=True, check=False)
    result = json.loads(completed.stdout)
    if result.get("failed"):
        sys.exit("bench: %s failed: %s" % (name, result.get("msg")))
    return result


def ratio_line(label, ours, baseline_label, baseline, target=None):
    ratio = ours / baseline if baseline else float("inf")
    line = "%s: %.3fs vs %s %.3fs -> ratio %.2f" % (label, ours, baseline_label, baseline, ratio)
    if target:
        line += " (target %s)" % target
    print(line, flush=True)
    return ratio
