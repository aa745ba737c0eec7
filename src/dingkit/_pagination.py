"""Paged lists, written once as flows and driven by a sync and an async pager.

A *page flow* is a generator that yields the request for the next page and receives that page,
deciding from it what to ask next (a cursor, an offset, a ``nextToken``, or the next window of
a split date range). It does no I/O, so one flow serves both clients:

    def users(dept_id):                      # the flow: written once
        cursor = 0
        while True:
            page = yield list_users_request(dept_id, cursor)
            if not page.has_more:
                return
            cursor = page.next_cursor

Iterating a pager yields items across pages; ``iter_pages()`` yields the pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._request import APIRequest

if TYPE_CHECKING:
    from ._client import AsyncDingTalk, DingTalk

__all__ = ["AsyncPager", "Page", "PageFlow", "SyncPager"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page: its items and what the flow needs to ask for the next one."""

    items: list[T]
    has_more: bool = False
    cursor: Any = None
    raw: Any = field(default=None, repr=False, compare=False)


PageFlow = Generator[APIRequest[Page[T]], Page[T], None]


class SyncPager(Generic[T]):
    """Items of a paged list, fetched page by page as you iterate (again from the start each
    time you iterate)."""

    def __init__(self, client: DingTalk, flow: Callable[[], PageFlow[T]]) -> None:
        self._client = client
        self._flow = flow

    def iter_pages(self) -> Iterator[Page[T]]:
        flow = self._flow()
        try:
            request = next(flow)
            while True:
                page = self._client.request(request)
                yield page
                request = flow.send(page)
        except StopIteration:
            return

    def __iter__(self) -> Iterator[T]:
        for page in self.iter_pages():
            yield from page.items

    def to_list(self) -> list[T]:
        return list(self)


class AsyncPager(Generic[T]):
    """The async twin of :class:`SyncPager`: ``async for item in pager``, ``pager.iter_pages()``,
    and ``await pager`` for the first page."""

    def __init__(self, client: AsyncDingTalk, flow: Callable[[], PageFlow[T]]) -> None:
        self._client = client
        self._flow = flow

    async def iter_pages(self) -> AsyncIterator[Page[T]]:
        flow = self._flow()
        try:
            request = next(flow)
            while True:
                page = await self._client.request(request)
                yield page
                request = flow.send(page)
        except StopIteration:
            return

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        return [item async for item in self]

    async def _first_page(self) -> Page[T]:
        async for page in self.iter_pages():
            return page
        return Page([])

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._first_page().__await__()
