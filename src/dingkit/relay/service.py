"""The running relay: its configuration, outbox and courier, and what it has counted. The HTTP
face (:mod:`.app`) and the CLI (``dingkit relay ...``) both drive one :class:`Relay`.

    relay = Relay(load_config("relay.toml"), open_outbox(data_dir, None))
    await relay.start()          # the courier delivers in the background
    ...
    await relay.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import httpx

from .._ratelimit import MemoryRateLimitStore, RateLimitStore
from ..robot.target import RobotTarget
from .config import RelayConfig, load_config
from .delivery import Courier, Policy
from .outbox.base import Outbox
from .routing import pool_siblings

__all__ = ["Relay"]

logger = logging.getLogger("dingkit.relay")


class Relay:
    """One relay instance.

    Args:
        config: the checked configuration.
        outbox: where accepted messages wait (shared by the instances of a Redis outbox).
        budget: where robots' windows are counted (Redis for several instances; by default
            this process's memory).
        config_path: the file :meth:`reload` reads again.
        send_token: what ``POST /send/{robot}`` must carry as a bearer token (``None``: no
            token, for a relay on loopback).
        base_url: sends go here instead of DingTalk's host (the sandbox).
        clock: epoch seconds; ``sleep`` waits (tests pass a fake pair).
    """

    def __init__(
        self,
        config: RelayConfig,
        outbox: Outbox,
        *,
        budget: RateLimitStore | None = None,
        config_path: Path | None = None,
        send_token: str | None = None,
        base_url: str | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        http_client: httpx.AsyncClient | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.config_path = config_path
        self.send_token = send_token
        self.base_url = base_url
        self.clock = clock
        self._environ = environ
        self.courier = Courier(
            outbox,
            self._targets(config),
            budget=budget or MemoryRateLimitStore(clock=clock),
            pools=self._pools(config),
            policy=policy,
            clock=clock,
            http_client=http_client,
            environ=environ,
            **({"sleep": sleep} if sleep is not None else {}),  # type: ignore[arg-type]
        )
        #: Owners the [owners] map leaves out, looked up in the contacts ([relay] contacts).
        self.lookup: Callable[[str], Iterable[str]] | None = self._lookup(config)
        #: Webhooks received and refused, by (source, route) and by (source, route, reason).
        self.received: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[tuple[str, str, str]] = Counter()
        self.duplicates: Counter[tuple[str, str]] = Counter()
        self._task: asyncio.Task[None] | None = None

    def _targets(self, config: RelayConfig) -> dict[str, RobotTarget]:
        return {robot.name: robot.target(base_url=self.base_url) for robot in config.robots}

    def _lookup(self, config: RelayConfig) -> Callable[[str], Iterable[str]] | None:
        if not config.relay.contacts:
            return None
        from .._client import DingTalk
        from .owners import ContactsLookup

        base = self.base_url
        client = DingTalk(environ=self._environ, oapi_base=base, api_base=base)
        return ContactsLookup(client)

    @staticmethod
    def _pools(config: RelayConfig) -> dict[str, list[str]]:
        return {robot.name: pool_siblings(config, robot.name) for robot in config.robots}

    async def start(self) -> None:
        """Deliver in the background until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._deliver_forever())

    async def _deliver_forever(self) -> None:
        while True:
            try:
                await self.courier.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store went away, say: logged, tried again shortly
                logger.exception("delivery stopped; starting again in 5 s")
                await asyncio.sleep(5.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.courier.aclose()
        self._close_lookup()

    def _close_lookup(self) -> None:
        close = getattr(self.lookup, "close", None)
        if close is not None:
            close()

    async def reload(self, config: RelayConfig | None = None) -> RelayConfig:
        """A new configuration (default: the config file read again); robots held for their
        configuration are tried again.

        Raises:
            ConfigurationError: the new configuration is not valid; the old one stays.
        """
        if config is None:
            if self.config_path is None:
                raise RuntimeError("this relay has no config file to read again")
            config = await asyncio.to_thread(load_config, self.config_path, environ=self._environ)
        await self.courier.reload(self._targets(config), self._pools(config))
        self.config = config
        self._close_lookup()
        self.lookup = self._lookup(config)
        logger.info(
            "configuration reloaded: %d robots, %d routes", len(config.robots), len(config.routes)
        )
        return config
