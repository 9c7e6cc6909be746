"""Throwaway Compose projects on the lab's Docker engine: the demo image on the host network, as a team runs it.

A project is a directory with compose files; ``deploy`` does what a team's pipeline does (the tag written
where the project takes it, ``docker compose up -d``, one deploy-history line per service, docs/compose-history.md).
"""

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import docker

HEALTHCHECK = """\
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:{port}/health"]
      interval: 1s
      timeout: 3s
      retries: 3
"""


def service(name, image, port, extra=""):
    """One service block of a compose file: the demo app answering on ``port``."""
    return ("  {name}:\n    image: {image}\n    network_mode: host\n    environment:\n      PORT: \"{port}\"\n"
            .format(name=name, image=image, port=port) + HEALTHCHECK.format(port=port) + extra)


class Project:
    def __init__(self, directory, lab, lab_env, name):
        self.dir = str(directory)
        self.lab = lab
        self.env = dict(lab_env)
        self.name = name
        self.client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
        os.makedirs(self.dir, exist_ok=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as handle:
            handle.write(text)

    def read(self, name):
        with open(self.path(name)) as handle:
            return handle.read()

    def compose(self, *args, files=(), check=True):
        argv = ["docker", "compose", "--project-directory", self.dir, "-p", self.name]
        for name in files:
            argv += ["-f", self.path(name)]
        completed = subprocess.run(argv + list(args), cwd=self.dir, env=self.env, capture_output=True, text=True,
                                   check=False)
        if check:
            assert completed.returncode == 0, completed.stderr
        return completed

    def dry_run(self, files=()):
        """What a plain ``docker compose up -d`` would do, as its dry-run lines ("Recreate", "Create", ...)."""
        output = self.compose("up", "-d", "--dry-run", files=files)
        return sorted(set(re.findall(r"Container \S+\s+(Recreate|Create|Starting|Pulling|Restart)\b",
                                     output.stdout + output.stderr)))

    def containers(self, service=None):
        labels = ["com.docker.compose.project=%s" % self.name]
        if service:
            labels.append("com.docker.compose.service=%s" % service)
        return self.client.containers.list(all=True, filters={"label": labels})

    def images(self):
        """``{service: image}`` of the project's containers."""
        return dict((c.labels["com.docker.compose.service"], c.attrs["Config"]["Image"]) for c in self.containers())

    def record(self, service, image, event="deploy"):
        """A deploy-history line, as a pipeline writes it."""
        entry = {"project": self.name, "service": service, "image": image, "event": event,
                 "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": "test pipeline"}
        with open(self.path(".deploy-history.jsonl"), "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    def history(self):
        if not os.path.exists(self.path(".deploy-history.jsonl")):
            return []
        with open(self.path(".deploy-history.jsonl")) as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def down(self, files=()):
        self.compose("down", "-t", "1", "--remove-orphans", files=files, check=False)


def health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/health" % port, timeout=5) as response:
            return response.status, json.loads(response.read())["version"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["version"]
