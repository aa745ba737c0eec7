"""Event-subscription registration, old API (§7.1, §7.5). No I/O.

An org-level subscription: DingTalk pushes the tags' events to ``url``, encrypted for the
organisation's corpId. Registering (and updating) makes DingTalk send the URL check first
(§7.4), so the receiver must already be running. Events that could not be delivered are kept
and handed out by :func:`failed_events`, and each call clears what it returned: store them
before asking for more.

Where the reference is silent [I]: it names no HTTP method for update, get and delete; the
first is POSTed like register, get and delete are GETs, which the sandbox accepts (it takes
both). The fields of get_call_back's answer are not documented; they are read as the four of
a registration, kept leniently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from .._request import APIRequest, Endpoint
from ..callback.events import CallbackEvent, event_from_failed_item
from ._models import DingTalkModel

__all__ = [
    "DELETE",
    "FAILED",
    "GET",
    "REGISTER",
    "UPDATE",
    "CallbackRegistration",
    "FailedEvents",
    "delete",
    "failed_events",
    "get",
    "register",
    "update",
]


class CallbackRegistration(DingTalkModel):
    """The organisation's subscription. ``token`` and ``aes_key`` are secrets: kept out of the
    repr, and shown by the CLI only when asked."""

    url: str | None = None
    call_back_tag: list[str] = Field(default_factory=list)
    token: str | None = Field(default=None, repr=False)
    aes_key: str | None = Field(default=None, repr=False)


class FailedEvents(DingTalkModel):
    """One answer of ``get_call_back_failed_result``: up to 200 events, now gone from
    DingTalk's list, and whether more are waiting."""

    events: list[CallbackEvent] = Field(default_factory=list)
    items: list[dict[str, Any]] = Field(default_factory=list, repr=False)
    has_more: bool = False


# The endpoints (§7.1, §7.5). The reference names no method for update, get and delete
# [I]: the client POSTs update and GETs the others; the sandbox takes GET and POST for all
# three. Permission point [I]: qyapi_base, the app's basic one.
_BOTH = ("GET", "POST")
REGISTER = Endpoint("POST", "/call_back/register_call_back", scope="qyapi_base", idempotent=False)
UPDATE = Endpoint("POST", "/call_back/update_call_back", scope="qyapi_base", methods=_BOTH)
GET = Endpoint("GET", "/call_back/get_call_back", scope="qyapi_base", methods=_BOTH)
DELETE = Endpoint("GET", "/call_back/delete_call_back", scope="qyapi_base", methods=_BOTH)
FAILED = Endpoint(
    "GET",
    "/call_back/get_call_back_failed_result",
    scope="qyapi_base",
    page_size=200,  # at most 200 events per call (§7.5)
    idempotent=False,  # each call clears what it returned
)


def _subscription(url: str, token: str, aes_key: str, tags: Sequence[str]) -> dict[str, Any]:
    if isinstance(tags, str):
        tags = [tags]
    return {"call_back_tag": list(tags), "token": token, "aes_key": aes_key, "url": url}


def register(url: str, token: str, aes_key: str, tags: Sequence[str]) -> APIRequest[None]:
    """Subscribe the organisation's ``tags`` events to ``url`` (§7.1)."""
    return REGISTER.request(json=_subscription(url, token, aes_key, tags), parse=lambda _d: None)


def update(url: str, token: str, aes_key: str, tags: Sequence[str]) -> APIRequest[None]:
    """Replace the subscription (URL, keys and tags)."""
    return UPDATE.request(json=_subscription(url, token, aes_key, tags), parse=lambda _d: None)


def get() -> APIRequest[CallbackRegistration]:
    """The subscription as DingTalk has it."""
    return GET.request(
        parse=lambda d: CallbackRegistration.model_validate(
            {k: v for k, v in d.items() if k not in ("errcode", "errmsg", "request_id")}
        ),
    )


def delete() -> APIRequest[None]:
    """Remove the subscription: no more pushes."""
    return DELETE.request(parse=lambda _d: None)


def _failed(data: dict[str, Any]) -> FailedEvents:
    items = [item for item in data.get("failed_list") or [] if isinstance(item, dict)]
    return FailedEvents(
        events=[event_from_failed_item(item) for item in items],
        items=items,
        has_more=bool(data.get("has_more")),
    )


def failed_events() -> APIRequest[FailedEvents]:
    """The next (up to 200) events DingTalk could not deliver; the call clears them there,
    so it is not retried after a lost answer."""
    return FAILED.request(parse=_failed)
