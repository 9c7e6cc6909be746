"""Real monitoring from Debian: Prometheus 2.42, Alertmanager 0.25 and the blackbox exporter 0.23.

- Prometheus scrapes the demo app's /metrics on every lab target that serves HTTP (server, compose, swarm), the
  blackbox exporter's probes of each target's /health (nginx blue/green front included), itself and Alertmanager;
  it evaluates the collection's trigger rules (extensions/prometheus/rollback_triggers.rules.yml.j2) rendered with
  the lab's short windows (LAB_WINDOWS: one production minute is one lab second) and sends alerts to Alertmanager.
- Alertmanager groups them per environment and posts them to the rulebook's webhook (extensions/eda/rulebooks,
  started on demand by ``labctl.py rulebook start``), with the lab's bearer token.
- Every series carries the label ``service`` = the inventory host (inventories/lab), as the rules require.

Configs are rewritten on every start (a running server reloads them); data lives under .lab/monitoring/.
The Kubernetes target is the API simulator (no pods, nothing to scrape).
"""

import json
import os
import shutil
import urllib.request

from labkit.common import REPO, LabError, ensure_port_free, http_json, http_ok, read_pid, spawn, stop_pid, wait_for

NAME = "monitoring"
PROMETHEUS_PORT = 59090
ALERTMANAGER_PORT = 59093
BLACKBOX_PORT = 59115
WEBHOOK_PORT = 59500
PROMETHEUS_URL = "http://127.0.0.1:%d" % PROMETHEUS_PORT
ALERTMANAGER_URL = "http://127.0.0.1:%d" % ALERTMANAGER_PORT
BLACKBOX_URL = "http://127.0.0.1:%d" % BLACKBOX_PORT
WEBHOOK_URL = "http://127.0.0.1:%d/alertmanager" % WEBHOOK_PORT
# The bearer token Alertmanager sends and the rulebook's webhook source requires (a lab secret).
WEBHOOK_TOKEN = "lab-eda-webhook-secret"
ENVIRONMENT = "lab"

# Inventory host -> base URL of the demo app serving /metrics and /health.
APP_TARGETS = {"demo-server": "127.0.0.1:58080", "demo-compose": "127.0.0.1:58081", "demo-swarm": "127.0.0.1:58090"}
# Inventory host -> health URL probed by the blackbox exporter.
PROBES = dict([(service, "http://%s/health" % address) for service, address in APP_TARGETS.items()]
              + [("demo-bluegreen", "http://127.0.0.1:58180/health")])

# The lab's timings: production minutes become seconds (docs/auto-rollback.md). Production values are the
# template's defaults (scrape and evaluation 15s, rate window 1m, for: 5m/2m/10m, health: the last 3 probes of 15s).
INTERVAL = "1s"
PROBE_INTERVAL = "2s"
LAB_WINDOWS = {
    "evaluation_interval": INTERVAL,
    "rate_window": "5s",
    "for_error_rate": "5s",
    "for_error_rate_gate": "2s",
    "for_error_rate_escalation": "10s",
    "for_rate_limited": "5s",
    "for_latency": "10s",
    "for_latency_critical": "5s",
    "health_window": "5s",  # the last 3 probes of 2 s
    "oom_window": "5s",
}
ALERTMANAGER_TIMING = {"group_wait": "1s", "group_interval": "5s", "repeat_interval": "30s"}
RULES_TEMPLATE = os.path.join(REPO, "extensions", "prometheus", "rollback_triggers.rules.yml.j2")

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
PACKAGES = {PROMETHEUS: "prometheus", ALERTMANAGER: "prometheus-alertmanager",
            BLACKBOX: "prometheus-blackbox-exporter"}


def facts(lab):
    return {
        "LAB_PROMETHEUS_URL": PROMETHEUS_URL,
        "LAB_ALERTMANAGER_URL": ALERTMANAGER_URL,
        "LAB_BLACKBOX_URL": BLACKBOX_URL,
        "LAB_EDA_WEBHOOK_URL": WEBHOOK_URL,
        "LAB_EDA_WEBHOOK_PORT": WEBHOOK_PORT,
        "LAB_EDA_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "LAB_MONITORING_DIR": lab.path("monitoring"),
        "LAB_ALERT_WINDOWS": json.dumps(dict(LAB_WINDOWS, scrape_interval=INTERVAL, probe_interval=PROBE_INTERVAL,
                                             **ALERTMANAGER_TIMING), sort_keys=True),
    }


def render_rules(windows):
    """The collection's rule template rendered with ``windows`` (its ``rollback_alerts`` variables)."""
    import jinja2  # the venv's; labctl runs there

    with open(RULES_TEMPLATE) as handle:
        template = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
            handle.read())
    return template.render(rollback_alerts=windows)


def prometheus_config(lab):
    demo = [{"targets": [address], "labels": {"service": service}} for service, address in sorted(APP_TARGETS.items())]
    probes = [{"targets": [url], "labels": {"service": service}} for service, url in sorted(PROBES.items())]
    return {
        "global": {"scrape_interval": INTERVAL, "scrape_timeout": INTERVAL, "evaluation_interval": INTERVAL,
                   "external_labels": {"environment": ENVIRONMENT}},
        "rule_files": [lab.path("monitoring", "rules", "rollback_triggers.rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % ALERTMANAGER_PORT]}]}]},
        "scrape_configs": [
            {"job_name": "demo", "static_configs": demo},
            # Probes every 2 s with a 1.9 s timeout: on a loaded machine a 1 s probe of a healthy app fails by itself.
            {"job_name": "health", "metrics_path": "/probe", "params": {"module": ["http_2xx"]},
             "scrape_interval": PROBE_INTERVAL, "scrape_timeout": "1900ms", "static_configs": probes,
             "relabel_configs": [
                 {"source_labels": ["__address__"], "target_label": "__param_target"},
                 {"source_labels": ["__param_target"], "target_label": "instance"},
                 {"target_label": "__address__", "replacement": "127.0.0.1:%d" % BLACKBOX_PORT}]},
            {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:%d" % PROMETHEUS_PORT]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": ["127.0.0.1:%d" % ALERTMANAGER_PORT]}]},
        ],
    }


def alertmanager_config():
    # One notification per environment: one rollback run covers every alerting service (one lock per environment).
    # A P2 alert of a service is silenced while a P1 alert of the same service fires.
    return {
        "route": dict({"receiver": "rollback-eda", "group_by": ["environment"]}, **ALERTMANAGER_TIMING),
        "inhibit_rules": [{"source_matchers": ['priority="P1"'], "target_matchers": ['priority="P2"'],
                           "equal": ["service"]}],
        "receivers": [{"name": "rollback-eda", "webhook_configs": [{
            "url": WEBHOOK_URL, "send_resolved": True, "max_alerts": 0,
            "http_config": {"authorization": {"type": "Bearer", "credentials": WEBHOOK_TOKEN}}}]}],
    }


# http_2xx: a 2xx answer within the timeout (blackbox_exporter's CONFIGURATION.md, module "http").
BLACKBOX_CONFIG = {"modules": {"http_2xx": {"prober": "http", "timeout": "1800ms",
                                            "http": {"preferred_ip_protocol": "ip4", "valid_status_codes": []}}}}


def _write_json(path, document, mode=0o644):
    """YAML configs written as JSON (a YAML subset every one of these servers reads)."""
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
    os.chmod(temporary, mode)
    os.rename(temporary, path)


def _write_configs(lab):
    for part in ("rules", "prometheus", "alertmanager"):
        lab.makedirs("monitoring", part)
    with open(lab.path("monitoring", "rules", "rollback_triggers.rules.yml.tmp"), "w") as handle:
        handle.write(render_rules(LAB_WINDOWS))
    os.rename(lab.path("monitoring", "rules", "rollback_triggers.rules.yml.tmp"),
              lab.path("monitoring", "rules", "rollback_triggers.rules.yml"))
    _write_json(lab.path("monitoring", "prometheus.yml"), prometheus_config(lab))
    _write_json(lab.path("monitoring", "alertmanager.yml"), alertmanager_config(), 0o600)  # holds the token
    _write_json(lab.path("monitoring", "blackbox.yml"), BLACKBOX_CONFIG)


def _daemons(lab):
    """name -> (argv, port, pid file, log)."""
    path = lab.path
    return {
        "blackbox": ([BLACKBOX, "--config.file=" + path("monitoring", "blackbox.yml"),
                      "--web.listen-address=127.0.0.1:%d" % BLACKBOX_PORT],
                     BLACKBOX_PORT, path("monitoring", "blackbox.pid"), path("monitoring", "blackbox.log")),
        "alertmanager": ([ALERTMANAGER, "--config.file=" + path("monitoring", "alertmanager.yml"),
                          "--storage.path=" + path("monitoring", "alertmanager"),
                          "--web.listen-address=127.0.0.1:%d" % ALERTMANAGER_PORT,
                          "--web.external-url=" + ALERTMANAGER_URL,
                          "--cluster.listen-address=", "--data.retention=2h"],
                         ALERTMANAGER_PORT, path("monitoring", "alertmanager.pid"),
                         path("monitoring", "alertmanager.log")),
        # resend-delay 5s (default 1m): Alertmanager's copy of a firing alert, its value included, stays current.
        "prometheus": ([PROMETHEUS, "--config.file=" + path("monitoring", "prometheus.yml"),
                        "--storage.tsdb.path=" + path("monitoring", "prometheus"),
                        "--storage.tsdb.retention.time=2h", "--web.listen-address=127.0.0.1:%d" % PROMETHEUS_PORT,
                        "--web.enable-lifecycle", "--rules.alert.resend-delay=5s"],
                       PROMETHEUS_PORT, path("monitoring", "prometheus.pid"), path("monitoring", "prometheus.log")),
    }


def _url(port):
    return "http://127.0.0.1:%d" % port


def _reload(port):
    request = urllib.request.Request(_url(port) + "/-/reload", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def is_up(lab):
    return all(read_pid(pid) and http_ok(_url(port) + "/-/ready") for _argv, port, pid, _log in _daemons(lab).values())


def start(lab):
    for binary, package in PACKAGES.items():
        if not os.path.exists(binary):
            raise LabError("%s not found: apt-get install %s (or run ./dev bootstrap)" % (binary, package))
    _write_configs(lab)
    reloaded = False
    for name, (argv, port, pid, log) in _daemons(lab).items():
        if read_pid(pid) and http_ok(_url(port) + "/-/ready"):
            if name != "blackbox":  # the exporter's config never changes
                _reload(port)
                reloaded = True
            continue
        ensure_port_free(port, "%s (%s)" % (NAME, name))
        if name == "prometheus":
            # A fresh TSDB on every start: nothing to replay, and no lock left by a Prometheus that outlived its lab
            # (a clone reused by another network namespace). The lab's series are only ever read while it runs.
            shutil.rmtree(lab.path("monitoring", "prometheus"), ignore_errors=True)
        process = spawn(argv, pid, log)
        wait_for(lambda port=port: http_ok(_url(port) + "/-/ready"), "%s %s" % (NAME, name), log, timeout=60,
                 process=process)
    return "running (configs reloaded)" if reloaded else "started"


def stop(lab):
    stopped = [name for name, (_argv, _port, pid, _log) in reversed(list(_daemons(lab).items())) if stop_pid(pid)]
    return "stopped" if stopped else "not running"


def status(lab):
    up = is_up(lab)
    code, body = http_json(PROMETHEUS_URL + "/api/v1/targets?state=active")
    targets = (body or {}).get("data", {}).get("activeTargets", []) if code == 200 else []
    healthy = sum(1 for target in targets if target.get("health") == "up")
    return up, "prometheus %s (%d/%d targets up), alertmanager %s, blackbox %s" % (
        PROMETHEUS_URL, healthy, len(targets), ALERTMANAGER_URL, BLACKBOX_URL)
