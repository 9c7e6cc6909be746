"""Detection to recovery of the automatic rollback on the lab, part by part.

The bad release 1.0.1 is deployed (no backups: level 1 needs none) with the rulebook running and nothing done by
hand. Each part is read from the systems themselves: the first 5xx scraped and the ALERTS series from Prometheus,
the webhook deliveries from the rulebook's log, the decision from the automatic rollback's history, the rollback
from its report, the resolution from Prometheus again.

  deploy -> first error scraped       scrape interval (lab 1 s)
  error -> alert pending              rule evaluation (lab 1 s) and the rate window filling (lab 5 s)
  pending -> firing                   the rule's for: (lab 2 s for runbook 000's gate, 5 s for 001's 5 %)
  firing -> webhook received          Alertmanager's group_wait (lab 1 s) or group_interval (lab 5 s)
  webhook -> decision                 the rulebook's first playbook (auto_rollback: table, gates, guards)
  decision -> rollback finished       the rollback playbook at level 1 (plan, undo, verify, report)
Detection to recovery = first error scraped -> rollback finished (target < 90 s with the lab's windows).
Baseline: runbook 000's manual timeline, "T+0:00 problem detected ... T+3:00 rollback complete" (180 s, detection
not counted), and runbook 001's level 1 budget (300 s). The production figure replaces the lab's windows with the
rules' production ones (scrape and evaluation 15 s, for: 2 min, group_wait 30 s) and keeps the measured rest.
Run with the lab up, in its network namespace:  .venv/bin/python bench/bench_auto_rollback.py
"""

import argparse
import calendar
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

from common import REPO, lab_facts, ratio_line

VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
SERVICES = ("demo-bluegreen", "demo-compose", "demo-kubernetes", "demo-server", "demo-swarm")
OPERATOR = "ansible-rulebook (rollback.core.auto_rollback)"
# Production windows of the trigger rules (extensions/prometheus/rollback_triggers.rules.yml.j2 defaults) and of a
# usual Alertmanager route: what the lab's seconds stand for.
PRODUCTION = dict(scrape=15.0, evaluation=15.0, gate_for=120.0, group_wait=30.0)


def labctl(*args):
    completed = subprocess.run([VENV_PYTHON, os.path.join(REPO, "lab", "labctl.py")] + list(args), capture_output=True,
                               text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit("bench: labctl %s failed: %s" % (" ".join(args), completed.stdout + completed.stderr))
    return completed.stdout


def prometheus(lab, path, **params):
    url = lab["LAB_PROMETHEUS_URL"] + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)["data"]


def first_sample(lab, query, start, end):
    """Epoch of the first sample of ``query`` between start and end (step 1 s), or None."""
    data = prometheus(lab, "/api/v1/query_range", query=query, start=start, end=end, step="1s")
    times = [float(series["values"][0][0]) for series in data["result"] if series["values"]]
    return min(times) if times else None


def epoch(text):
    match = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z", text)
    parts = [int(x) for x in match.groups()[:6]]
    return calendar.timegm(parts + [0, 0, 0]) + float(match.group(7) or 0)


def webhook_times(lab):
    """Times the rulebook's webhook took a POST (its aiohttp access log, second resolution)."""
    times = []
    with open(os.path.join(lab["LAB_DIR"], "eda", "rulebook.log"), errors="replace") as handle:
        for line in handle:
            match = re.search(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) \+0000\] \"POST /alertmanager", line)
            if match:
                day, month, year, hour, minute, second = match.groups()
                month = time.strptime(month, "%b").tm_mon
                times.append(calendar.timegm((int(year), month, int(day), int(hour), int(minute), int(second), 0,
                                              0, 0)))
    return times


def wait(what, probe, timeout, interval=1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit("bench: %s not reached within %ds" % (what, timeout))


def auto_report(lab, since):
    found = []
    reports = os.path.join(lab["LAB_DIR"], "reports")
    for name in sorted(os.listdir(reports)) if os.path.isdir(reports) else []:
        path = os.path.join(reports, name, "report.json")
        if os.path.exists(path) and os.path.getmtime(path) >= since:
            with open(path) as handle:
                report = json.load(handle)
            if report.get("operator") == OPERATOR:
                found.append(report)
    lock = os.path.join(lab["LAB_DIR"], "locks", "lab.lock")
    return found[0] if found and not os.path.exists(lock) else None


def firing_alerts(lab):
    return [a for a in prometheus(lab, "/api/v1/alerts")["alerts"] if a["labels"].get("service") in SERVICES]


def run_once(lab):
    wait("no trigger alert before the deploy", lambda: not firing_alerts(lab), 300, 2)
    state = os.path.join(lab["LAB_DIR"], "auto-rollback", "lab.json")
    if os.path.exists(state):
        os.remove(state)
    began = time.time()
    labctl("deploy", "1.0.1", "--no-backup")
    deployed = time.time()
    report = wait("the automatic rollback's report", lambda: auto_report(lab, began), 900, 2)
    resolved = wait("every trigger alert resolved", lambda: None if firing_alerts(lab) else time.time(), 300, 1)
    end = time.time()
    first_error = first_sample(lab, 'http_requests_total{code=~"5..",handler="/api/items"}', began, end)
    pending = first_sample(lab, 'ALERTS{alertstate="pending"}', began, end)
    firing = first_sample(lab, 'ALERTS{alertstate="firing"}', began, end)
    with open(state) as handle:
        decided = min(entry["epoch"] for entry in json.load(handle)["entries"] if entry["action"] == "run")
    received = [t for t in webhook_times(lab) if t >= firing - 1 and t <= decided]
    received = received[0] if received else None
    return dict(began=began, deployed=deployed, first_error=first_error, pending=pending, firing=firing,
                received=received, decided=decided, rollback_started=epoch(report["started"]),
                rollback_finished=epoch(report["finished"]), resolved=resolved, report=report)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    lab = lab_facts()
    labctl("deploy", "1.0.0", "--no-backup")
    labctl("rulebook", "stop")
    labctl("rulebook", "start")
    try:
        run = run_once(lab)
    finally:
        labctl("rulebook", "stop")
        labctl("deploy", "1.0.0", "--no-backup")
    parts = [
        ("deploy started -> first 5xx scraped", run["began"], run["first_error"]),
        ("first 5xx -> alert pending (evaluation, rate window)", run["first_error"], run["pending"]),
        ("pending -> firing (for:)", run["pending"], run["firing"]),
        ("firing -> webhook received (group_wait/interval)", run["firing"], run["received"]),
        ("webhook -> decision (rulebook, auto_rollback playbook)", run["received"], run["decided"]),
        ("decision -> rollback playbook started", run["decided"], run["rollback_started"]),
        ("rollback playbook (level 1, %d services)" % len(run["report"]["services"]), run["rollback_started"],
         run["rollback_finished"]),
        ("rollback finished -> alerts resolved", run["rollback_finished"], run["resolved"]),
    ]
    for label, start, end in parts:
        print("%-58s %s" % (label, "%6.1f s" % (end - start) if start and end else "     ?"), flush=True)
    print("(the deploy itself took %.1f s; the rulebook decided %.1f s after the deploy ended)"
          % (run["deployed"] - run["began"], run["decided"] - run["deployed"]))
    total = run["rollback_finished"] - run["first_error"]
    ratio_line("detection to recovery (first 5xx scraped -> rollback verified)", total,
               "runbook 000's manual timeline, detected -> rollback complete", 180.0, target="< 90 s in the lab")
    ratio_line("detection to recovery", total, "runbook 001's level 1 budget", 300.0)
    measured_rest = run["rollback_finished"] - (run["received"] or run["firing"])
    production = PRODUCTION["scrape"] + PRODUCTION["evaluation"] + PRODUCTION["gate_for"] + PRODUCTION["group_wait"]
    print("production windows (scrape + evaluation %g s each, for: %g s, group_wait %g s) + the measured decision and"
          " rollback %.1f s = %.1f s" % (PRODUCTION["scrape"], PRODUCTION["gate_for"], PRODUCTION["group_wait"],
                                         measured_rest, production + measured_rest))
    print("report: %s" % run["report"]["summary"][:300])


if __name__ == "__main__":
    main()
