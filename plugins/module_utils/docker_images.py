# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make sure an image is on the Docker host before anything changes: local, or pulled from its registry.

Credentials are ``registry_username``/``registry_password`` when given, else what the engine's clients use:
the Docker SDK reads the client config (``$DOCKER_CONFIG/config.json``, credential helpers included) as
``docker pull`` does. In check mode nothing is pulled: the registry is asked for the image's manifest
(``GET /distribution/{name}/json``, what ``docker manifest inspect`` asks through the engine), so a wrong
password or a missing tag fails the plan already.

The engine answers a missing manifest with 404 (``manifest unknown``) and refused credentials with 401 on
``/distribution`` and 500 on ``/images/create`` (``unauthorized: authentication required`` or ``no basic auth
credentials``): each becomes one line saying which registry, which image and that nothing was changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose import split_image

REGISTRY_AUTH_SPEC = dict(
    registry_username=dict(type="str"),
    registry_password=dict(type="str", no_log=True),
)

DENIED = ("unauthorized", "authentication required", "no basic auth credentials", "denied", "403 forbidden")
MISSING = ("manifest unknown", "not found", "name unknown")


class ImageSource:
    """Local images of one engine, and the registries behind them."""

    def __init__(self, project, username=None, password=None):
        self.project = project
        self.auth = dict(username=username, password=password) if username else None
        from docker import auth  # the SDK is loaded by the project already
        self._resolve = auth.resolve_repository_name
        self._local = {}

    def registry(self, reference):
        return self._resolve(split_image(reference)[0])[0] or "docker.io"

    def local(self, reference):
        if reference not in self._local:
            try:
                self._local[reference] = self.project.engine("reading image " + reference,
                                                             self.project.docker.images.get, reference)
            except self.project.errors.ImageNotFound:
                return None
        return self._local[reference]

    def ensure(self, reference, check_mode):
        """``"local"``, ``"pulled"``, or in check mode ``"in registry"``; else one RollbackError line."""
        if self.local(reference) is not None:
            return "local"
        # Asked first even when pulling: a pull from a registry the engine treats as insecure falls back to plain
        # HTTP after a refusal and reports that fallback's error ("connection reset by peer") instead.
        self._ask(reference, self.project.docker.api.inspect_distribution, reference, auth_config=self.auth)
        if check_mode:
            return "in registry"
        repository, tag = split_image(reference)
        self._ask(reference, self.project.docker.images.pull, repository, tag=tag, auth_config=self.auth)
        if self.local(reference) is None:
            raise self._error(reference, "the engine reported a pull, but the image is not there")
        return "pulled"

    def _ask(self, reference, func, *args, **kwargs):
        def call():
            try:
                return func(*args, **kwargs)
            except self.project.errors.APIError as error:  # the registry's answer, relayed by the engine
                raise self._error(reference, error.explanation or str(error))

        return self.project.engine("pulling " + reference, call)

    def _error(self, reference, explanation):
        registry = self.registry(reference)
        text = " ".join(str(explanation).split())
        lowered = text.lower()
        credentials = "registry_username/registry_password" if self.auth else "the Docker client config " \
            "(DOCKER_CONFIG or ~/.docker/config.json)"
        if any(word in lowered for word in DENIED):
            return RollbackError("registry %s refused the credentials from %s for %s (%s): nothing was changed"
                                 % (registry, credentials, reference, text), image=reference, registry=registry)
        if any(word in lowered for word in MISSING):
            return RollbackError("registry %s has no image %s (%s): nothing was changed"
                                 % (registry, reference, text), image=reference, registry=registry)
        return RollbackError("image %s is not on this Docker host and could not be pulled from %s (%s): nothing was "
                             "changed" % (reference, registry, text), image=reference, registry=registry)
