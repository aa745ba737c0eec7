"""Owners named by a label (``owner="alice"``), found in the organisation's contacts when the
relay has an app (``[relay] contacts = true`` with ``DINGTALK_APP_KEY`` /
``DINGTALK_APP_SECRET``): the userIds to mention, for owners the ``[owners]`` map leaves out.

The contacts are read once (every department's members, §5.4), on the first owner to look up,
and again after :data:`REFRESH` seconds; an owner matches a person by userId, job number,
the part of an e-mail address before ``@``, or exact name. A name two people share matches
both. When the contacts cannot be read, the owner stays unresolved (logged once per refresh)
and the message goes out without the mention: a mention is never worth a lost alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .._exceptions import DingTalkError
from ..resources.contacts import ROOT_DEPT_ID

if TYPE_CHECKING:
    from .._client import DingTalk
    from ..resources.contacts import User

__all__ = ["REFRESH", "ContactsLookup"]

logger = logging.getLogger("dingkit.relay")

#: Seconds the contacts read are used before they are read again.
REFRESH = 3600.0


class ContactsLookup:
    """``lookup(owner) -> userIds`` over the organisation's contacts (see the module).

    Args:
        client: a synchronous client with the app's credentials (the relay looks owners up
            from a worker thread).
        clock: seconds, for the refresh.
    """

    def __init__(self, client: DingTalk, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._index: dict[str, list[str]] | None = None
        self._read_at = 0.0

    def close(self) -> None:
        self.client.close()

    def __call__(self, owner: str) -> Iterable[str]:
        index = self._current()
        return list(index.get(owner.strip().lower(), ()))

    def _current(self) -> dict[str, list[str]]:
        with self._lock:
            if self._index is None or self.clock() - self._read_at >= REFRESH:
                self._read_at = self.clock()
                try:
                    self._index = _index(self._people())
                except DingTalkError as error:
                    logger.warning("owners cannot be looked up in the contacts: %s", error)
                    self._index = self._index or {}
            return self._index

    def _people(self) -> list[User]:
        contacts = self.client.contacts
        people: dict[str, User] = {}
        departments = [ROOT_DEPT_ID, *(d.dept_id for d in contacts.walk())]
        for dept_id in departments:
            for person in contacts.users(dept_id):
                people.setdefault(person.userid, person)
        return list(people.values())


def _index(people: Iterable[User]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for person in people:
        keys = {person.userid, person.job_number, person.name}
        for mail in (person.email, person.org_email):
            if mail and "@" in mail:
                keys.add(mail.partition("@")[0])
        for key in keys:
            if key:
                found = index.setdefault(key.strip().lower(), [])
                if person.userid not in found:
                    found.append(person.userid)
    return index
