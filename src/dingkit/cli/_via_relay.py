"""``dingkit send ... --via-relay URL``: hand the message to a running ``dingkit relay``
instead of posting it to DingTalk, so that many CI jobs share one relay's queue and each
robot's budget (the relay stores it durably, paces it and retries it; issue 13 §3).

The relay takes the robot message body at ``POST URL/send/ROBOT`` (ROBOT: a robot of the
relay's config), answers once it is stored, with ``DINGKIT_RELAY_SEND_TOKEN`` as a bearer
token when the relay asks for one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._exceptions import APIConnectionError, ConfigurationError, DingTalkError
from ._output import fail, print_json

if TYPE_CHECKING:
    from ..robot.messages import RobotMessage

__all__ = ["send_via_relay"]

#: The relay's send token, when it asks for one.
TOKEN_ENV = "DINGKIT_RELAY_SEND_TOKEN"


def send_via_relay(
    message: RobotMessage, *, relay: str, robot: str | None, dry_run: bool, as_json: bool
) -> None:
    """Queue ``message`` at the relay for its robot ``robot``; exit 1 when it is not taken."""
    import httpx

    from ..robot import compose
    from ..robot.messages import to_payload

    try:
        if not robot:
            raise ConfigurationError(
                "--via-relay needs --robot NAME: a robot of the relay's config"
            )
        if not relay.startswith(("http://", "https://")):
            raise ConfigurationError(f"--via-relay {relay!r}: give the relay's http(s):// URL")
        message = compose.with_mention_text(message)
        compose.validate_message(message)  # refused here rather than dead at the relay
        url = f"{relay.rstrip('/')}/send/{quote(robot, safe='')}"
        body = to_payload(message)
        if dry_run:
            if as_json:
                print_json({"method": "POST", "url": url, "body": body})
            else:
                print(f"POST {url}")
                print_json(body)
            return
        token = os.environ.get(TOKEN_ENV, "").strip()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            answer = httpx.post(url, json=body, headers=headers, timeout=30.0)
        except httpx.HTTPError as error:
            raise APIConnectionError(
                f"could not reach the relay at {relay}: {type(error).__name__}",
                setting="--via-relay",
            ) from None
        taken = _answer(answer, relay)
    except DingTalkError as error:
        fail(error, as_json=as_json)
    if as_json:
        print_json({"ok": True, "queued": taken["id"], "robot": robot, "relay": relay})
    else:
        print(
            f"queued {message.msgtype} message at the relay for robot {robot!r} (id {taken['id']})"
        )


def _answer(answer: Any, relay: str) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        data = {}
    if answer.status_code == 200 and isinstance(data, dict) and data.get("id"):
        return data
    said = data.get("message") if isinstance(data, dict) else None
    what = said or f"HTTP {answer.status_code}"
    if answer.status_code == 503:
        raise APIConnectionError(
            f"the relay at {relay} could not store the message ({what}); send it again",
            setting="--via-relay",
        )
    if answer.status_code in (401, 403):
        raise ConfigurationError(f"the relay refused the message: {what} (set {TOKEN_ENV})")
    raise ConfigurationError(f"the relay refused the message: {what}")
