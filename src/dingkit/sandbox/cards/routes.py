"""Interactive cards' HTTP face, served from :mod:`dingkit.resources.cards`'s declarations.

    POST /v1.0/card/instances                    create           (app token)
    POST /v1.0/card/instances/deliver            deliver
    POST /v1.0/card/instances/createAndDeliver   create and deliver
    PUT  /v1.0/card/instances                    update the variables
    PUT  /v1.0/card/streaming                    stream into one variable

A delivered card shows in its conversations' messages (``via: "card"``; the JSON shape is in
:mod:`.records`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...resources import cards as api
from ..gateway import params
from ..gateway.pipeline import Call, Gateway
from . import rules

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from ..config import AppConfig
    from ..core import Sandbox

__all__ = ["routes"]

_Rule = Callable[["Sandbox", "AppConfig", dict[str, Any]], dict[str, Any]]


def _serving(rule: _Rule) -> Callable[[Call], dict[str, Any]]:
    def handler(call: Call) -> dict[str, Any]:
        return rule(call.sandbox, call.app, params.obj(call.body))

    return handler


def routes(gateway: Gateway) -> list[BaseRoute]:
    return [
        *gateway.routes(
            [
                (api.CARD_CREATE, _serving(rules.create)),
                (api.CARD_UPDATE, _serving(rules.update)),
                (api.CARD_DELIVER, _serving(rules.deliver)),
                (api.CARD_CREATE_AND_DELIVER, _serving(rules.create_and_deliver)),
                (api.CARD_STREAMING, _serving(rules.stream)),
            ]
        )
    ]
