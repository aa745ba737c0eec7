"""Stream mode (§8.2): the connection ticket and the frame vocabulary. No I/O.

An app (or the sandbox) opens a connection in two steps: ``POST
/v1.0/gateway/connections/open`` with the app's credentials and what it subscribes to answers
``{"endpoint", "ticket"}``; the app then opens a WebSocket to ``<endpoint>?ticket=<ticket>``
and exchanges JSON frames on it. The ticket is valid for 90 s and for one connection only.

The endpoint is declared here once, for dingkit's Stream client and for the sandbox that
serves it. It carries no access token (``auth=False``: the credentials are in the body, as
with the token endpoints) and is not counted against the monthly quota [I].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._request import APIRequest, Endpoint

__all__ = [
    "BOT_MESSAGE_TOPIC",
    "CALLBACK_TOPICS",
    "OPEN_CONNECTION",
    "SPEC_VERSION",
    "TICKET_TTL",
    "open_connection",
]

#: ``POST /v1.0/gateway/connections/open`` (§8.2, step 1); a new ticket every call.
OPEN_CONNECTION = Endpoint(
    "POST", "/v1.0/gateway/connections/open", auth=False, idempotent=False, quota_exempt=True
)

#: Seconds a ticket stays valid; it also opens one connection only (§8.2, ``PEDIA``).
TICKET_TTL = 90

#: The ``specVersion`` of every downstream frame (§8.2).
SPEC_VERSION = "1.0"

#: The robot's messages (§8.1's body, as a CALLBACK frame's ``data``).
BOT_MESSAGE_TOPIC = "/v1.0/im/bot/messages/get"

#: The CALLBACK topics §8.2 names: robot messages, card interactions, AI plugin calls and
#: delegated robot messages (``GOSTREAM:payload/utils.go``, ``PYSTREAM:chatbot.py``).
CALLBACK_TOPICS = frozenset(
    {
        BOT_MESSAGE_TOPIC,
        "/v1.0/card/instances/callback",
        "/v1.0/graph/api/invoke",
        "/v1.0/im/bot/messages/delegate",
    }
)


def open_connection(
    client_id: str,
    client_secret: str,
    *,
    events: bool = True,
    callbacks: Sequence[str] = (BOT_MESSAGE_TOPIC,),
    ua: str = "dingkit",
    local_ip: str = "",
) -> APIRequest[dict[str, Any]]:
    """A ticket request subscribing to every event (``events``; only ``*`` is allowed,
    §8.2) and to ``callbacks`` topics; the answer is ``{"endpoint", "ticket"}``."""
    subscriptions = [{"type": "EVENT", "topic": "*"}] if events else []
    subscriptions += [{"type": "CALLBACK", "topic": topic} for topic in callbacks]
    body = {
        "clientId": client_id,
        "clientSecret": client_secret,
        "subscriptions": subscriptions,
        "ua": ua,
        "localIp": local_ip,
    }
    return OPEN_CONNECTION.request(json=body)
