"""lab/labctl.py start|stop|status|deploy|versions|rulebook: the local lab of real services for rollback.core.

All state lives under one directory (default .lab/ in the repo, or $LAB_DIR).
Start is idempotent; facts for tests and playbooks go to lab.json and lab.env.
"""

import argparse
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labkit import (deploy, docker, eda, etcd, kubernetes, monitoring, moto, nginx, postgres, redis,  # noqa: E402
                    registry, server, sshd, users)
from labkit.common import REPO, Lab, LabError, reserve_ports  # noqa: E402

SERVICES = {service.NAME: service for service in (postgres, etcd, moto, registry, docker, server, kubernetes, redis,
                                                  nginx, sshd, monitoring, users)}


def selected(only):
    if not only:
        return list(SERVICES.values())
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise LabError("unknown service(s) %s; choose from %s" % (", ".join(unknown), ", ".join(SERVICES)))
    return [SERVICES[name] for name in names]


# Every fixed port a lab service listens on (the rulebook's too, started later on demand).
PORTS = (postgres.PORT, etcd.CLIENT_PORT, etcd.PEER_PORT, moto.PORT, registry.PORT, docker.COMPOSE_PORT,
         docker.SWARM_PORT, int(docker.SWARM_LISTEN.rsplit(":", 1)[1]), server.PORT, kubernetes.PORT, redis.PORT,
         redis.TLS_PORT, nginx.PORT, sshd.PORT, monitoring.PROMETHEUS_PORT, monitoring.ALERTMANAGER_PORT,
         monitoring.BLACKBOX_PORT, monitoring.WEBHOOK_PORT) + tuple(color[0] for color in nginx.COLORS.values())


def start(lab, services):
    os.makedirs(lab.root, exist_ok=True)
    reserve_ports(PORTS)
    for service in SERVICES.values():
        lab.facts.update(service.facts(lab))
    lab.facts.update(deploy.paths(lab))
    lab.write_facts()
    deploy.make_backup_dirs(lab)
    for service in services:
        began = time.monotonic()
        state = _start_service(lab, service)
        print("lab: %-8s %-16s %5.1fs" % (service.NAME, state, time.monotonic() - began), flush=True)
    return 0


def _start_service(lab, service, tries=2):
    """One service started; a failed start is printed, the service stopped and started once more (a CI machine
    under load is where a first start fails; the second failure is the one raised)."""
    for attempt in range(1, tries + 1):
        try:
            return service.start(lab)
        except LabError as error:
            if attempt == tries:
                raise LabError("%s: %s" % (service.NAME, error)) from None
            print("lab: %-8s start failed (%s); stopping it and trying once more" % (service.NAME, error), flush=True)
            try:
                service.stop(lab)
            except LabError as stop_error:
                print("lab: %-8s stop failed: %s" % (service.NAME, stop_error), flush=True)


def stop(lab, services, purge):
    for service in reversed(services):
        try:
            state = service.stop(lab)
        except LabError as error:
            state = "stop failed: %s" % error
        print("lab: %-8s %s" % (service.NAME, state), flush=True)
    if purge and os.path.isdir(lab.root):
        shutil.rmtree(lab.root)
        print("lab: removed %s" % lab.root)
    return 0


def status(lab, services):
    all_up = True
    for service in services:
        up, detail = service.status(lab)
        all_up = all_up and up
        print("lab: %-8s %-4s %s" % (service.NAME, "up" if up else "DOWN", detail))
    return 0 if all_up else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("start", "stop", "status", "deploy", "versions", "rulebook"))
    parser.add_argument("version", nargs="?", help="with deploy: the demo app version (1.0.0, 1.0.1, 1.0.2); "
                                                   "with rulebook: start, stop or status (the automatic rollback)")
    parser.add_argument("--no-backup", action="store_true",
                        help="with deploy: skip the pre-deploy restore points (playbooks/backup.yml)")
    parser.add_argument("--only", help="comma-separated services: " + ",".join(SERVICES))
    parser.add_argument("--purge", action="store_true", help="with stop: remove the lab dir")
    # Intermixed: options anywhere, so a command with options can take the version appended (the drill's
    # `labctl.py deploy --no-backup 1.0.1`).
    args = parser.parse_intermixed_args()
    lab = Lab(os.environ.get("LAB_DIR") or os.path.join(REPO, ".lab"))
    if os.geteuid() != 0:
        raise LabError("run as root (PostgreSQL runs as the postgres user, dockerd needs root)")
    services = selected(args.only)
    if args.command == "deploy":
        if not args.version:
            raise LabError("deploy needs a version: labctl.py deploy 1.0.1")
        return deploy.deploy(lab, args.version, backups=not args.no_backup)
    if args.command == "rulebook":
        action = {"start": eda.start, "stop": eda.stop, "status": eda.status}.get(args.version)
        if action is None:
            raise LabError("rulebook needs start, stop or status: labctl.py rulebook start")
        state = action(lab)
        if args.version == "status":
            print("lab: %-8s %-4s %s" % (eda.NAME, "up" if state[0] else "DOWN", state[1]))
            return 0 if state[0] else 1
        print("lab: %-8s %s" % (eda.NAME, state), flush=True)
        return 0
    if args.command == "versions":
        print(json.dumps(deploy.versions(lab), sort_keys=True))
        return 0
    if args.command == "start":
        return start(lab, services)
    if args.command == "stop":
        if not args.only:
            print("lab: %-8s %s" % (eda.NAME, eda.stop(lab)), flush=True)
        return stop(lab, services, args.purge)
    return status(lab, services)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LabError as error:
        print("lab: %s" % error, file=sys.stderr)
        sys.exit(1)
