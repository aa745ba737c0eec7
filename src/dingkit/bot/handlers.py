"""A handler and the arguments it asks for, read from its signature once. No I/O.

A handler names what it wants among :data:`ARGUMENTS`, in any order:

    @bot.command("/deploy")
    async def deploy(args, reply): ...

    @bot.message(private)
    def log(message): ...                  # a plain function: it runs in a worker thread

The signature is read when the handler is registered, so a typo fails at import time with a
``TypeError`` listing the names there are, not on the first message. A parameter with a
default that is not one of them is left to its default (``functools.partial`` arguments, for
one); ``**kwargs`` receives them all.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ARGUMENTS", "Handler", "HandlerFunction"]

#: What a handler can ask for: the message, a :class:`~.replies.Reply` to answer it, the
#: SDK client given to :meth:`~.app.Bot.handle` (or ``None``), the command's arguments
#: (``list[str]``), and the :class:`~.app.Bot`.
ARGUMENTS = ("message", "reply", "client", "args", "bot")

HandlerFunction = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered function, the arguments it takes and how it runs."""

    function: HandlerFunction
    wants: tuple[str, ...]
    is_async: bool

    @classmethod
    def of(cls, function: HandlerFunction) -> Handler:
        """Read ``function``'s signature.

        Raises:
            TypeError: not callable, or a parameter that is neither one of
                :data:`ARGUMENTS` nor optional, or one that cannot be passed by name.
        """
        if not callable(function):
            raise TypeError(f"a handler must be a function, not {function!r}")
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot read the signature of handler {function!r}: {exc}") from None
        wants: list[str] = []
        for parameter in signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                wants = list(ARGUMENTS)
                break
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                continue  # nothing is passed positionally; *args stays empty
            if parameter.name in ARGUMENTS:
                if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
                    raise TypeError(
                        f"handler {_name(function)} takes {parameter.name!r} positional-only; "
                        "arguments are passed by name, drop the '/'"
                    )
                wants.append(parameter.name)
            elif parameter.default is inspect.Parameter.empty:
                raise TypeError(
                    f"handler {_name(function)} asks for {parameter.name!r}, which a bot "
                    f"handler cannot receive; name only some of: {', '.join(ARGUMENTS)}"
                )
        return cls(function, tuple(wants), _is_async(function))

    async def __call__(self, available: Mapping[str, Any]) -> Any:
        """Run the handler with the arguments it asked for; a plain function in a thread."""
        kwargs = {name: available[name] for name in self.wants}
        if self.is_async:
            return await self.function(**kwargs)
        result = await asyncio.to_thread(functools.partial(self.function, **kwargs))
        if inspect.isawaitable(result):  # a plain function that hands back a coroutine
            result = await result
        return result

    def __repr__(self) -> str:
        return f"<handler {_name(self.function)}({', '.join(self.wants)})>"


def _is_async(function: HandlerFunction) -> bool:
    while isinstance(function, functools.partial):
        function = function.func
    if inspect.iscoroutinefunction(function):
        return True
    # An object whose class defines ``async def __call__``.
    return not inspect.isfunction(function) and inspect.iscoroutinefunction(type(function).__call__)


def _name(function: HandlerFunction) -> str:
    return getattr(function, "__qualname__", None) or repr(function)
