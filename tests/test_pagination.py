"""The pagers: one page ahead (async), deferred items, early stops and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from typing import Any, cast

import pytest

from dingkit import RateLimitError, ServerError
from dingkit._pagination import AsyncPager, Page, PageFlow, SyncPager
from dingkit._request import APIRequest


def numbers() -> PageFlow[int]:
    """Asks for page 0, 1, 2... while the server says there is more; ``json`` is the number."""
    number = 0
    while True:
        page = yield APIRequest("POST", "/numbers", json=number)
        if not page.has_more:
            return
        number += 1


class Server:
    """Stands in for the client: answers page ``n`` with ``n*3 .. n*3+2``, and logs."""

    def __init__(self, pages: int, *, fail_on: int | None = None, hold: int | None = None) -> None:
        self.pages, self.fail_on, self.hold = pages, fail_on, hold
        self.log: list[str] = []
        self.release = asyncio.Event() if hold is not None else None

    def answer(self, number: int) -> Page[int]:
        if number == self.fail_on:
            raise RateLimitError("throttled", errcode=90018)
        items = [number * 3 + i for i in range(3)]
        return Page(items, has_more=number + 1 < self.pages, cursor=number + 1)

    async def request(self, request: APIRequest[Page[int]]) -> Page[int]:
        number = cast(int, request.json)
        self.log.append(f"asked {number}")
        try:
            if number == self.hold and self.release is not None:
                await self.release.wait()
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.log.append(f"cancelled {number}")
            raise
        self.log.append(f"answered {number}")
        return self.answer(number)


class SyncServer(Server):
    def request(self, request: APIRequest[Page[int]]) -> Page[int]:  # type: ignore[override]
        number = cast(int, request.json)
        self.log.append(f"asked {number}")
        return self.answer(number)


def async_pager(server: Server) -> AsyncPager[int]:
    return AsyncPager(cast(Any, server), numbers)


def test_async_pager_asks_for_the_next_page_before_handing_out_this_one() -> None:
    server = Server(pages=3)
    seen: list[tuple[int, list[str]]] = []

    async def run() -> None:
        async for page in async_pager(server).iter_pages():
            seen.append((page.items[0], list(server.log)))

    asyncio.run(run())
    (first, log0), (second, log1), (third, log2) = seen
    assert (first, second, third) == (0, 3, 6)
    assert log0[:3] == ["asked 0", "answered 0", "asked 1"]
    assert "asked 2" in log1
    assert log2 == [f"{what} {n}" for n in range(3) for what in ("asked", "answered")]


def test_async_pager_lists_every_item_once_in_order_and_stops_at_the_last_page() -> None:
    server = Server(pages=4)
    items = asyncio.run(async_pager(server).to_list())
    assert items == list(range(12))
    assert [line for line in server.log if line.startswith("asked")] == [
        f"asked {n}" for n in range(4)
    ]


def test_stopping_early_cancels_the_page_read_ahead() -> None:
    server = Server(pages=3, hold=1)

    async def run() -> list[int]:
        pages = cast(AsyncGenerator[Page[int], None], async_pager(server).iter_pages())
        first = await anext(pages)
        await pages.aclose()  # what `break` in `async for` leads to
        return first.items

    assert asyncio.run(run()) == [0, 1, 2]
    assert server.log == ["asked 0", "answered 0", "asked 1", "cancelled 1"]


def test_an_error_reading_ahead_comes_after_the_page_before_it() -> None:
    server = Server(pages=3, fail_on=1)
    got: list[int] = []

    async def run() -> None:
        async for item in async_pager(server):
            got.append(item)

    with pytest.raises(RateLimitError):
        asyncio.run(run())
    assert got == [0, 1, 2]


def test_awaiting_a_pager_fetches_the_first_page_only() -> None:
    server = Server(pages=3)

    async def run() -> Page[int]:
        return await async_pager(server)

    page = asyncio.run(run())
    assert page.items == [0, 1, 2]
    assert page.has_more
    assert server.log == ["asked 0", "answered 0"]


def test_the_sync_pager_asks_for_a_page_when_the_caller_gets_there() -> None:
    server = SyncServer(pages=3)
    pager: SyncPager[int] = SyncPager(cast(Any, server), numbers)
    items: Iterator[int] = iter(pager)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    assert server.log == ["asked 0"]
    assert list(items) == list(range(3, 9))
    assert server.log == ["asked 0", "asked 1", "asked 2"]


def test_a_deferred_page_builds_its_items_once_when_asked() -> None:
    built: list[int] = []

    def load() -> list[int]:
        built.append(1)
        return [1, 2]

    page = Page.deferred(load, has_more=True, cursor="next")
    assert built == []
    assert "deferred" in repr(page)
    assert page.items == [1, 2]
    assert page.items == [1, 2]
    assert built == [1]
    assert (page.has_more, page.cursor) == (True, "next")


def malformed() -> PageFlow[int]:
    def load() -> list[int]:
        raise ValueError("item 3: userid is missing")

    yield APIRequest("POST", "/topapi/v2/user/list", parse=lambda _d: Page.deferred(load))


class Deferring:
    def __init__(self) -> None:
        self.calls = 0

    def request(self, request: APIRequest[Page[int]]) -> Page[int]:
        self.calls += 1
        return request.parse(None)

    async def arequest(self, request: APIRequest[Page[int]]) -> Page[int]:
        return self.request(request)


def test_a_malformed_deferred_item_is_a_server_error_naming_the_endpoint_sync() -> None:
    pager: SyncPager[int] = SyncPager(cast(Any, Deferring()), malformed)
    with pytest.raises(ServerError, match="unexpected answer shape from /topapi/v2/user/list"):
        pager.to_list()


def test_a_malformed_deferred_item_is_a_server_error_naming_the_endpoint_async() -> None:
    client = Deferring()
    stub = type("Stub", (), {"request": staticmethod(client.arequest)})()
    pager: AsyncPager[int] = AsyncPager(cast(Any, stub), malformed)
    with pytest.raises(ServerError, match="userid is missing"):
        asyncio.run(pager.to_list())
