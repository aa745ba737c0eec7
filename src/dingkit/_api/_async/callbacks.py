"""``client.callbacks``: the organisation's event subscription (§7.1, §7.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...resources import callbacks
from ...resources.callbacks import CallbackRegistration, FailedEvents

if TYPE_CHECKING:
    from ..._client import AsyncDingTalk


class AsyncCallbacksAPI:
    """Register where DingTalk pushes events, and fetch the ones it could not deliver."""

    def __init__(self, client: AsyncDingTalk) -> None:
        self._client = client

    async def register(self, url: str, token: str, aes_key: str, tags: Sequence[str]) -> None:
        """Subscribe ``tags`` to ``url``; DingTalk checks the URL first (§7.4)."""
        await self._client.request(callbacks.register(url, token, aes_key, tags))

    async def update(self, url: str, token: str, aes_key: str, tags: Sequence[str]) -> None:
        """Replace the subscription."""
        await self._client.request(callbacks.update(url, token, aes_key, tags))

    async def get(self) -> CallbackRegistration:
        """The subscription as DingTalk has it."""
        return await self._client.request(callbacks.get())

    async def delete(self) -> None:
        """Remove the subscription."""
        await self._client.request(callbacks.delete())

    async def failed_events(self) -> FailedEvents:
        """Up to 200 undelivered events, cleared on DingTalk's side by this call: store them
        before asking again (while ``has_more``)."""
        return await self._client.request(callbacks.failed_events())
