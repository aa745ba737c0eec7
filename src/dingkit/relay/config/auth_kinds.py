"""A route's inbound authentication, one model per kind (``auth = { kind = "...", ... }``);
:mod:`dingkit.relay.auth` checks requests against them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    StrictInt,
)

from .fields import HeaderName, Secret, StrictModel

# Inbound authentication, one model per kind (``auth = { kind = "...", ... }``).


class BearerAuth(StrictModel):
    """``Authorization: Bearer <token>`` (Alertmanager ``http_config.authorization``,
    Grafana's "Authorization header", CI jobs)."""

    kind: Literal["bearer"]
    token: Secret


class BasicAuth(StrictModel):
    """``Authorization: Basic ...`` (Alertmanager ``basic_auth``, Grafana, Jenkins)."""

    kind: Literal["basic"]
    username: str = Field(min_length=1, max_length=256, pattern=r"^[^:]+$")
    password: Secret


class HmacAuth(StrictModel):
    """An HMAC of the raw body in ``header``: ``prefix`` + hex or base64 digest."""

    kind: Literal["hmac"]
    secret: Secret
    header: HeaderName
    algorithm: Literal["sha256", "sha512", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field(default="", max_length=32)


class GitHubAuth(StrictModel):
    """GitHub's webhook secret: ``X-Hub-Signature-256: sha256=<hex HMAC of the body>``."""

    kind: Literal["github"]
    secret: Secret


class GitLabAuth(StrictModel):
    """GitLab's secret token, sent as is in ``X-Gitlab-Token``."""

    kind: Literal["gitlab"]
    token: Secret


class GrafanaAuth(StrictModel):
    """Grafana's webhook "HMAC Signature" (Grafana 12): hex HMAC-SHA256 in ``header`` (by
    default Grafana's own, see :mod:`dingkit.relay.auth`), over
    ``timestamp + ":" + body`` when a ``timestamp_header`` is set (then at most ``max_age``
    seconds old), else over the body. See :mod:`dingkit.relay.auth` for the sources."""

    kind: Literal["grafana"]
    secret: Secret
    header: HeaderName | None = None
    timestamp_header: HeaderName | None = None
    max_age: StrictInt = Field(default=300, ge=1, le=86_400)


AuthConfig = Annotated[
    BearerAuth | BasicAuth | HmacAuth | GitHubAuth | GitLabAuth | GrafanaAuth,
    Field(discriminator="kind"),
]
AUTH_KINDS: Mapping[str, type[BaseModel]] = {
    "bearer": BearerAuth,
    "basic": BasicAuth,
    "hmac": HmacAuth,
    "github": GitHubAuth,
    "gitlab": GitLabAuth,
    "grafana": GrafanaAuth,
}
# Kinds only one sender produces.
AUTH_SOURCE = {"github": "github", "gitlab": "gitlab", "grafana": "grafana"}
