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

The async pager reads one page ahead: while the caller works through a page, the request for
the next one is already on its way. A page may also defer building its items
(``Page.deferred``) so that the next request goes out first: for a bulk list (10,000 users)
building the models costs about as much as DingTalk takes to answer, and this way the two
overlap instead of adding up. Pages are complete before anyone sees them, and a malformed
item is reported as a :class:`ServerError` like any other unexpected answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._exceptions import ServerError
from ._request import APIRequest

if TYPE_CHECKING:
    from ._client import AsyncDingTalk, DingTalk

__all__ = ["AsyncPager", "Page", "PageFlow", "SyncPager"]

T = TypeVar("T")


class Page(Generic[T]):
    """One page: its items and what the flow needs to ask for the next one."""

    __slots__ = ("_items", "_load", "cursor", "has_more")

    def __init__(self, items: list[T], has_more: bool = False, cursor: Any = None) -> None:
        self._items: list[T] | None = items
        self._load: Callable[[], list[T]] | None = None
        self.has_more = has_more
        self.cursor = cursor

    @classmethod
    def deferred(
        cls, load: Callable[[], list[T]], has_more: bool = False, cursor: Any = None
    ) -> Page[T]:
        """A page whose items ``load`` builds when they are first asked for."""
        page: Page[T] = cls([], has_more, cursor)
        page._items, page._load = None, load
        return page

    @property
    def items(self) -> list[T]:
        if self._items is None:
            assert self._load is not None
            self._items, self._load = self._load(), None
        return self._items

    def __repr__(self) -> str:
        items = "deferred" if self._items is None else f"{len(self._items)} items"
        return f"<Page {items}, has_more={self.has_more!r}, cursor={self.cursor!r}>"


PageFlow = Generator[APIRequest[Page[T]], Page[T], None]


def _complete(page: Page[T], request: APIRequest[Page[T]]) -> Page[T]:
    """``page`` with its items built; a malformed item is the answer's fault."""
    try:
        page.items  # noqa: B018 -- builds deferred items
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ServerError(f"unexpected answer shape from {request.path}: {exc!r}") from None
    return page


# httpx on asyncio needs four turns of the event loop to put a request on the wire (pool,
# connection, headers, body). Each turn costs microseconds; too few only loses the overlap.
_TURNS_TO_SEND = 4


async def _let_run(turns: int) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


class SyncPager(Generic[T]):
    """Items of a paged list, fetched page by page as you iterate (again from the start each
    time you iterate)."""

    def __init__(self, client: DingTalk, flow: Callable[[], PageFlow[T]]) -> None:
        self._client = client
        self._flow = flow

    def _prepare(self) -> None:
        """Runs when an iteration starts, before the flow (for look-ups a flow needs)."""

    def iter_pages(self) -> Iterator[Page[T]]:
        self._prepare()
        flow = self._flow()
        try:
            request = next(flow)
            while True:
                page = _complete(self._client.request(request), request)
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
    and ``await pager`` for the first page.

    While you work through one page the next one is already on its way (one request ahead, no
    more), so a long export waits on the network once per page rather than twice. Stop early
    and that one request is cancelled, or its answer dropped."""

    def __init__(self, client: AsyncDingTalk, flow: Callable[[], PageFlow[T]]) -> None:
        self._client = client
        self._flow = flow

    async def iter_pages(self) -> AsyncIterator[Page[T]]:
        async for page in self._pages(read_ahead=True):
            yield page

    async def _prepare(self) -> None:
        """Runs when an iteration starts, before the flow (for look-ups a flow needs)."""

    async def _pages(self, *, read_ahead: bool) -> AsyncIterator[Page[T]]:
        await self._prepare()
        flow = self._flow()
        ahead: asyncio.Task[Page[T]] | None = None
        try:
            request: APIRequest[Page[T]] | None = next(flow)
            while request is not None:
                page = await ahead if ahead is not None else await self._client.request(request)
                ahead, asked = None, request
                try:
                    request = flow.send(page)
                except StopIteration:
                    request = None
                if request is not None and read_ahead:
                    ahead = asyncio.ensure_future(self._client.request(request))
                    await _let_run(_TURNS_TO_SEND)
                yield _complete(page, asked)
        except StopIteration:
            return
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.iter_pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        return [item async for item in self]

    async def _first_page(self) -> Page[T]:
        async for page in self._pages(read_ahead=False):
            return page
        return Page([])

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._first_page().__await__()
