"""Event subscription over encrypted HTTP callbacks (§7): crypto, event models, the receiver
and its durable inbox.

    from dingkit.callback import CallbackReceiver, BpmsInstanceChange

Names are imported on first use, so that the CLI's inbox commands do not load the server
stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CallbackReceiver": "dingkit.callback.receiver",
    "CallbackCrypto": "dingkit.callback.crypto",
    "Envelope": "dingkit.callback.crypto",
    "new_aes_key": "dingkit.callback.crypto",
    "new_token": "dingkit.callback.crypto",
    "SQLiteInbox": "dingkit.callback.inbox",
    "RedisInbox": "dingkit.callback.redis_inbox",
    "InboxEntry": "dingkit.callback.inbox",
    "Dispatcher": "dingkit.callback.dispatcher",
    "CallbackEvent": "dingkit.callback.events",
    "parse_event": "dingkit.callback.events",
    "CheckUrl": "dingkit.callback.events",
    "CheckCreateSuiteUrl": "dingkit.callback.events",
    "CheckUpdateSuiteUrl": "dingkit.callback.events",
    "UserAddOrg": "dingkit.callback.events",
    "UserLeaveOrg": "dingkit.callback.events",
    "UserModifyOrg": "dingkit.callback.events",
    "OrgDeptCreate": "dingkit.callback.events",
    "OrgDeptModify": "dingkit.callback.events",
    "OrgDeptRemove": "dingkit.callback.events",
    "BpmsInstanceChange": "dingkit.callback.events",
    "BpmsTaskChange": "dingkit.callback.events",
}

__all__ = [
    "BpmsInstanceChange",
    "BpmsTaskChange",
    "CallbackCrypto",
    "CallbackEvent",
    "CallbackReceiver",
    "CheckCreateSuiteUrl",
    "CheckUpdateSuiteUrl",
    "CheckUrl",
    "Dispatcher",
    "Envelope",
    "InboxEntry",
    "OrgDeptCreate",
    "OrgDeptModify",
    "OrgDeptRemove",
    "RedisInbox",
    "SQLiteInbox",
    "UserAddOrg",
    "UserLeaveOrg",
    "UserModifyOrg",
    "new_aes_key",
    "new_token",
    "parse_event",
]

if TYPE_CHECKING:
    from .crypto import CallbackCrypto, Envelope, new_aes_key, new_token
    from .dispatcher import Dispatcher
    from .events import (
        BpmsInstanceChange,
        BpmsTaskChange,
        CallbackEvent,
        CheckCreateSuiteUrl,
        CheckUpdateSuiteUrl,
        CheckUrl,
        OrgDeptCreate,
        OrgDeptModify,
        OrgDeptRemove,
        UserAddOrg,
        UserLeaveOrg,
        UserModifyOrg,
        parse_event,
    )
    from .inbox import InboxEntry, SQLiteInbox
    from .receiver import CallbackReceiver
    from .redis_inbox import RedisInbox


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dingkit.callback' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
