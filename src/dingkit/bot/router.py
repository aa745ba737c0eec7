"""Routers: which handler answers a message. No I/O.

    router = Router()

    @router.command("/deploy", from_users("alice"))   # "/deploy prod" -> args == ["prod"]
    async def deploy(args, reply): ...

    @router.message(private, text_matches(r"^help$"))  # every filter must pass
    async def help_(reply): ...

    @router.fallback()                                 # nothing else matched
    async def unknown(reply): ...

    bot.include(router)

One handler answers each message: the first that matches, in registration order, with an
included router's handlers searched in place, where :meth:`Router.include` was called. So a
parent decides what comes before and after a child's handlers, the way it decides the order
of its own. Only when no handler anywhere matches does a fallback run: the outermost one,
the including router's before its children's, as the application's catch-all outranks a
component's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from .commands import check_command_name, command_args, split_words
from .filters import Filter, Predicate, as_filter
from .handlers import Handler, HandlerFunction
from .messages import IncomingMessage

__all__ = ["Match", "Route", "Router"]

F = TypeVar("F", bound=HandlerFunction)


@dataclass(frozen=True, slots=True)
class Route:
    """A handler with the command and filters a message must pass to reach it."""

    handler: Handler
    filters: tuple[Filter, ...] = ()
    command: str | None = None

    def match(self, message: IncomingMessage) -> list[str] | None:
        """The ``args`` for the handler when ``message`` matches, else ``None``.

        A command handler gets the words after the command; any other handler the words of
        the whole text (a filter such as ``command("/a") | command("/b")`` then finds the
        command in ``args[0]``).
        """
        if self.command is not None:
            args = command_args(message, self.command)
            if args is None:
                return None
        if not all(check(message) for check in self.filters):
            return None
        return args if self.command is not None else split_words(message.text)


@dataclass(frozen=True, slots=True)
class Match:
    """What :meth:`Router.resolve` found: the handler, its ``args``, and where it is."""

    handler: Handler
    args: list[str]
    router: Router
    fallback: bool = False


class Router:
    """Handlers for commands and messages, and routers included in order.

    Args:
        name: shown in ``repr`` and in errors, to tell routers apart.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._entries: list[Route | Router] = []
        self._fallback: Handler | None = None
        self._parent: Router | None = None

    # -- registering -------------------------------------------------------------------------

    def command(self, name: str, *filters: Predicate) -> Callable[[F], F]:
        """Register a handler for the command ``name`` (``"/deploy"``), matched exactly as the
        first word after mentions; ``filters`` must pass too.

        Raises:
            ValueError: ``name`` is empty or more than one word.
            TypeError: a filter is not callable, or the handler asks for an unknown argument.
        """
        check_command_name(name)
        checks = tuple(map(as_filter, filters))

        def register(function: F) -> F:
            self._entries.append(Route(Handler.of(function), checks, name))
            return function

        return register

    def message(self, *filters: Predicate) -> Callable[[F], F]:
        """Register a handler for messages that pass every filter (all messages without any)."""
        checks = tuple(map(as_filter, filters))

        def register(function: F) -> F:
            self._entries.append(Route(Handler.of(function), checks))
            return function

        return register

    def fallback(self) -> Callable[[F], F]:
        """Register the handler for messages that no handler matched.

        Raises:
            ValueError: this router has a fallback already.
        """

        def register(function: F) -> F:
            if self._fallback is not None:
                raise ValueError(f"{self!r} already has a fallback: {self._fallback!r}")
            self._fallback = Handler.of(function)
            return function

        return register

    def include(self, router: Router) -> Router:
        """Search ``router``'s handlers here, after those registered so far; returns it.

        Raises:
            ValueError: ``router`` is included elsewhere already, or is this router or one
                that includes it (a loop).
        """
        if router._parent is not None:
            raise ValueError(f"{router!r} is already included in {router._parent!r}")
        ancestor: Router | None = self
        while ancestor is not None:
            if ancestor is router:
                raise ValueError(f"including {router!r} in {self!r} would make a loop")
            ancestor = ancestor._parent
        router._parent = self
        self._entries.append(router)
        return router

    # -- finding -----------------------------------------------------------------------------

    def resolve(self, message: IncomingMessage) -> Match | None:
        """The handler that answers ``message``, or ``None`` when none does (no fallback)."""
        for router, route in self._routes():
            args = route.match(message)
            if args is not None:
                return Match(route.handler, args, router)
        fallback = next(self._fallbacks(), None)
        if fallback is None:
            return None
        router, handler = fallback
        return Match(handler, split_words(message.text), router, fallback=True)

    def commands(self) -> list[str]:
        """The command names registered in the tree, in search order (for a ``/help``)."""
        names = (route.command for _, route in self._routes() if route.command is not None)
        return list(dict.fromkeys(names))

    def _routes(self) -> Iterator[tuple[Router, Route]]:
        for entry in self._entries:
            if isinstance(entry, Router):
                yield from entry._routes()
            else:
                yield self, entry

    def _fallbacks(self) -> Iterator[tuple[Router, Handler]]:
        # Breadth first: a router's own fallback before any of its children's.
        level: list[Router] = [self]
        while level:
            for router in level:
                if router._fallback is not None:
                    yield router, router._fallback
            level = [
                entry for router in level for entry in router._entries if isinstance(entry, Router)
            ]

    def __repr__(self) -> str:
        return f"<Router {self.name!r}>" if self.name else f"<Router at {id(self):#x}>"
