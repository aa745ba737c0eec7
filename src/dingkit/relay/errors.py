"""The relay's input error: an inbound webhook body that cannot become a notification.

    DingTalkError
    └── SourceError (also a ValueError)   answered with a 4xx by the relay's server

It lives here, not in ``dingkit._exceptions``, only while the relay is being built; the
tree there is where it belongs once the relay's server lands (see issue 13).
"""

from __future__ import annotations

from .._exceptions import DingTalkError

__all__ = ["SourceError"]


class SourceError(DingTalkError, ValueError):
    """A webhook body or header the relay cannot read: not an object, a field missing or of
    the wrong type, an event it does not handle. The server answers it with a 4xx.

    Args:
        message: what is wrong and what was expected, naming the field (``alerts[2].status``).
        field: the offending field as a path into the body, or ``X-GitHub-Event`` for a header.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
