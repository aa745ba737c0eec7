"""The inbox options and opener the ``dingkit callback`` commands share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from ..callback.inbox import Inbox

__all__ = ["DataDirOpt", "InboxNameOpt", "RedisOpt", "RetentionOpt", "open_inbox"]

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the SQLite inbox is (default: the platform's)."),
]
RedisOpt = Annotated[
    str | None,
    typer.Option(
        "--redis",
        envvar="DINGKIT_CALLBACK_REDIS",
        help="Keep the inbox in Redis (redis://host:6379/0): for several receivers.",
    ),
]
InboxNameOpt = Annotated[
    str, typer.Option("--inbox-name", help="With --redis: receivers sharing a name share it.")
]

RetentionOpt = Annotated[
    float,
    typer.Option(
        "--retention-days",
        min=0,
        max=3650,
        help="Days done events and their deduplication keys are kept (failed ones stay "
        "until replayed).",
    ),
]


def open_inbox(data_dir: Path | None, redis_url: str | None, name: str = "default") -> Inbox:
    """The inbox the commands share; a clear error when it cannot be opened."""
    try:
        if redis_url:
            import redis

            from ..callback.redis_inbox import RedisInbox

            client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
            client.ping()
            return RedisInbox(client, name=name)
        from ..callback.inbox import SQLiteInbox
        from ..callback.receiver import inbox_path

        return SQLiteInbox(inbox_path(data_dir))
    except ImportError as error:  # pragma: no cover - redis is a dependency
        raise ConfigurationError(f"cannot open the inbox: {error}") from None
    except OSError as error:
        where = redis_url or str(data_dir)
        raise ConfigurationError(f"cannot open the inbox at {where}: {error}") from None
    except Exception as error:  # redis.RedisError, sqlite3.Error: said in one line
        where = redis_url or str(data_dir or "the data dir")
        raise ConfigurationError(
            f"cannot open the inbox at {where}: {type(error).__name__}: {error}"
        ) from None
