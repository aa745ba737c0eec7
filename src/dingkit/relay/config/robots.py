"""``[[robot]]``: a robot the relay sends to, by webhook or token, with its secret and keyword."""

from __future__ import annotations

from pydantic import (
    Field,
    model_validator,
)

from ..._exceptions import ConfigurationError
from ...robot.target import RobotTarget
from .fields import Name, Secret, StrictModel


class RobotConfig(StrictModel):
    """A custom robot: where it is (``webhook`` or ``token``), its ``secret`` and
    ``keyword``, and the ``pool`` of robots in the same group it shares the load with."""

    name: Name
    webhook: Secret | None = None
    token: Secret | None = None
    secret: Secret | None = None
    keyword: str | None = Field(default=None, min_length=1, max_length=64)
    pool: Name | None = None

    @model_validator(mode="after")
    def _one_address(self) -> RobotConfig:
        if (self.webhook is None) == (self.token is None):
            raise ValueError(
                "give webhook (the URL from the group's robot settings) or token (what "
                "follows access_token= in it), exactly one of them"
            )
        try:
            self.target()
        except ConfigurationError:
            # RobotTarget's own message may quote the URL: say it without the secret.
            field = "webhook" if self.webhook is not None else "token"
            raise ValueError(
                f"{field}: not a robot {field}; copy the webhook from the group's robot "
                "settings: https://oapi.dingtalk.com/robot/send?access_token=..."
                if field == "webhook"
                else "token: give only the value after access_token=, not a URL"
            ) from None
        return self

    def target(self, *, base_url: str | None = None) -> RobotTarget:
        """The :class:`RobotTarget` to send with (``base_url`` redirects a webhook on
        DingTalk's host, e.g. to the sandbox)."""
        secret = self.secret.get_secret_value() if self.secret else None
        if self.webhook is not None:
            return RobotTarget.from_webhook(
                self.webhook.get_secret_value(),
                secret=secret,
                keyword=self.keyword,
                name=self.name,
                base_url=base_url,
            )
        assert self.token is not None
        token = self.token.get_secret_value()
        if base_url:
            return RobotTarget(
                token,
                secret=secret,
                keyword=self.keyword,
                name=self.name,
                send_url=base_url.rstrip("/") + "/robot/send",
            )
        return RobotTarget(token, secret=secret, keyword=self.keyword, name=self.name)
