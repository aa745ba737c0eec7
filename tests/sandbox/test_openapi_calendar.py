from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dingkit import AsyncDingTalk, DingTalk, NotFoundError
from dingkit.sandbox import Sandbox, SandboxServer, create_app
from dingkit.sandbox.config import AppConfig, SandboxConfig
from dingkit.sandbox.contacts.org import User

pytestmark = pytest.mark.anyio

OpenApi = Any  # tests/sandbox/conftest.py's client (this folder is not a package)
OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., OpenApi]
#: The credentials of the app open_sandbox adds (tests/sandbox/conftest.py).
APP = AppConfig(name="tests", app_key="dingtests0001", app_secret="tests-secret-0001")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
EVENT_FIELDS = {
    "id", "summary", "start", "end", "isAllDay", "attendees", "organizer", "reminders",
    "status", "createTime", "updateTime",
}  # fmt: skip


def timed(hour: int, minutes: int = 60, day: int = 1) -> dict[str, Any]:
    start = dt.datetime(2024, 5, day, hour, tzinfo=SHANGHAI)
    end = start + dt.timedelta(minutes=minutes)
    return {
        "start": {"dateTime": start.isoformat(), "timeZone": "Asia/Shanghai"},
        "end": {"dateTime": end.isoformat(), "timeZone": "Asia/Shanghai"},
    }


class Calendar:
    """Raw calendar calls for one person of a sandbox on the fake clock (QPS limit off)."""

    def __init__(self, sandbox: Sandbox, client: OpenApi, user: User) -> None:
        self.sandbox = sandbox
        self.client = client
        self.user = user

    def path(self, event_id: str | None = None, *, who: str | None = None) -> str:
        base = f"/v1.0/calendar/users/{who or self.user.unionid}/calendars/primary/events"
        return base if event_id is None else f"{base}/{event_id}"

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.api(method, path, body, **kwargs)

    async def create(self, summary: str = "Standup", **fields: Any) -> dict[str, Any]:
        body = {"summary": summary, **timed(10), **fields}
        response = await self.call("POST", self.path(), body)
        assert response.status_code == 200, response.text
        event: dict[str, Any] = response.json()
        return event

    async def refused(
        self, method: str, path: str, body: Any = None, *, status: int = 400, **kwargs: Any
    ) -> tuple[str, str]:
        response = await self.call(method, path, body, **kwargs)
        assert response.status_code == status, response.text
        return response.json()["code"], response.json()["message"]

    async def listed(self, **params: Any) -> dict[str, Any]:
        response = await self.call("GET", self.path(), params=params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture
def calendar(open_sandbox: OpenSandbox, connect: Connect) -> Callable[..., Calendar]:
    def make(**settings: Any) -> Calendar:
        sandbox = open_sandbox(qps=0, **settings)
        return Calendar(sandbox, connect(sandbox), sandbox.org.users[3])

    return make


# -- create ----------------------------------------------------------------------------------


async def test_create_echoes_the_event(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    guest = cal.sandbox.org.users[4]
    event = await cal.create(
        description="daily",
        attendees=[{"id": guest.unionid, "isOptional": True}],
        location={"displayName": "Room 1"},
        onlineMeetingInfo={"type": "dingtalk"},
    )
    assert set(event) >= EVENT_FIELDS
    assert (event["summary"], event["description"], event["isAllDay"]) == (
        "Standup",
        "daily",
        False,
    )
    assert event["start"] == {"dateTime": "2024-05-01T10:00:00+08:00", "timeZone": "Asia/Shanghai"}
    assert event["reminders"] == [{"method": "dingtalk", "minutes": "15"}]  # default, a string
    assert event["attendees"] == [
        {
            "id": guest.unionid,
            "displayName": guest.name,
            "responseStatus": "needsAction",
            "self": False,
            "isOptional": True,
        }
    ]
    assert event["organizer"] == {
        "id": cal.user.unionid,
        "displayName": cal.user.name,
        "responseStatus": "accepted",
        "self": True,
    }
    assert event["location"] == {"displayName": "Room 1"}
    assert event["onlineMeetingInfo"]["type"] == "dingtalk"
    assert event["status"] == "confirmed"
    assert UTC_TIME.fullmatch(event["createTime"])


async def test_reminders_empty_means_none(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    assert (await cal.create(reminders=[]))["reminders"] == []
    chosen = await cal.create(reminders=[{"method": "dingtalk", "minutes": 30}])
    assert chosen["reminders"] == [{"method": "dingtalk", "minutes": "30"}]


async def test_all_day_end_is_exclusive(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    one_day = {"start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"}}
    event = await cal.create("Holiday", **one_day)  # isAllDay inferred from the dates
    assert (event["isAllDay"], event["end"]) == (True, {"date": "2024-05-02"})
    same_day = {
        "summary": "x",
        "isAllDay": True,
        "start": {"date": "2024-05-01"},
        "end": {"date": "2024-05-01"},
    }
    code, message = await cal.refused("POST", cal.path(), same_day)
    assert code == "invalidParameter"
    assert "exclusive" in message
    # The doc example fills both date and dateTime: isAllDay picks (§4.1).
    both = {**timed(9), "isAllDay": True}
    both["start"]["date"], both["end"]["date"] = "2024-05-03", "2024-05-04"
    event = await cal.create("Both", **both)
    assert event["start"] == {"date": "2024-05-03"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Event must be provided."),
        ({"summary": " ", **timed(10)}, "Event summary cannot be blank"),
        ({"summary": "x" * 2049, **timed(10)}, "Event summary is too long, max length is 2048"),
        ({"summary": "x", "end": timed(10)["end"]}, "Event start time not set."),
        ({"summary": "x", "start": timed(10)["start"]}, "Event end time not set."),
        ({"summary": "x", **timed(10), "recurrence": {"pattern": {"type": "daily", "interval": 0}}},
         "Recurrence interval must between [1, 365]"),
        ({"summary": "x", **timed(10), "recurrence": {"pattern": {"type": "daily"},
          "range": {"type": "numbered", "numberOfOccurrences": 100}}},
         "Recurrence range numberOfOccurrences must between [1, 99]"),
        ({"summary": "x", **timed(10), "recurrence": {"pattern": {"type": "daily"},
          "range": {"type": "endDate", "endDate": "2024-06-01", "numberOfOccurrences": 3}}},
         "Recurrence range cannot set both endDate and numberOfOccurrences"),
        ({"summary": "x", **timed(10), "recurrence": {"pattern": {"type": "hourly"}}},
         "Recurrence pattern type must be one of daily, weekly, absoluteMonthly, "
         "relativeMonthly, absoluteYearly"),
        ({"summary": "x", "start": timed(10)["start"], "end": {**timed(9)["end"], "timeZone": "X"}},
         "Event start and end must have the same timeZone"),
        ({"summary": "x", "start": timed(11)["start"], "end": timed(10)["start"]},
         "Event end time must be after the start time"),
        ({"summary": "x", "start": {"dateTime": "2024-05-01T10:00", "timeZone": "Mars/Base"},
          "end": {"dateTime": "2024-05-01T11:00", "timeZone": "Mars/Base"}},
         "Invalid timeZone: Mars/Base"),
        ({"summary": "x", **timed(10), "reminders": [{"method": "sms", "minutes": 5}]},
         "Reminder method must be dingtalk"),
        ({"summary": "x", **timed(10), "attendees": [{"id": "nobody"}]},
         "Attendee not found by unionId: nobody"),
    ],
)  # fmt: skip
async def test_create_validation_messages(
    calendar: Callable[..., Calendar], body: Any, message: str
) -> None:
    cal = calendar()
    assert await cal.refused("POST", cal.path(), body) == ("invalidParameter", message)


async def test_create_with_recurrence_keeps_it(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    recurrence = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": "monday,friday"},
        "range": {"type": "numbered", "numberOfOccurrences": 10},
    }
    event = await cal.create(recurrence=recurrence)
    assert event["recurrence"] == recurrence


async def test_attendees_are_unionids_not_userids(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    guest = cal.sandbox.org.users[4]
    body = {"summary": "x", **timed(10), "attendees": [{"id": guest.userid}]}
    _, message = await cal.refused("POST", cal.path(), body)
    assert "is a userId" in message
    many = {"summary": "x", **timed(10), "attendees": [{"id": guest.unionid}] * 501}
    assert (await cal.refused("POST", cal.path(), many))[1] == (
        "attendees exceed the limit of 500 per request"
    )


async def test_the_path_takes_a_unionid(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    body = {"summary": "x", **timed(10)}
    code, message = await cal.refused("POST", cal.path(who=cal.user.userid), body)
    assert code == "invalidParameter"
    assert "unionId" in message
    assert "is a userId" in message
    assert (await cal.refused("POST", cal.path(who="nobody"), body))[0] == "invalidParameter"
    other_calendar = cal.path().replace("/primary/", "/work/")
    assert (await cal.refused("POST", other_calendar, body, status=404))[0] == "itemNotFound"


async def test_one_hundred_new_events_per_user_per_day(
    calendar: Callable[..., Calendar], fake_clock: Any
) -> None:
    cal = calendar()
    for _ in range(100):
        await cal.create()
    code, message = await cal.refused("POST", cal.path(), {"summary": "x", **timed(10)})
    assert (code, message) == ("flowLimit", "current user can not create events exceed 100 per day")
    fake_clock.advance(86_400)
    await cal.create()  # a new day


async def test_limits_off_switches_the_daily_limit_off(calendar: Callable[..., Calendar]) -> None:
    cal = calendar(limits=False)
    for _ in range(101):
        await cal.create()


async def test_client_token_makes_a_create_idempotent(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    headers = {"x-client-token": "create-once"}
    first = await cal.call("POST", cal.path(), {"summary": "a", **timed(10)}, headers=headers)
    again = await cal.call("POST", cal.path(), {"summary": "a", **timed(10)}, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert len((await cal.listed())["events"]) == 1


# -- get, update, delete --------------------------------------------------------------------


async def test_get_and_its_errors(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    guests = [{"id": u.unionid} for u in cal.sandbox.org.users[4:7]]
    event = await cal.create(attendees=guests)
    found = (await cal.call("GET", cal.path(event["id"]))).json()
    assert found == event
    few = await cal.call("GET", cal.path(event["id"]), params={"maxAttendees": 2})
    assert len(few.json()["attendees"]) == 2
    assert (await cal.refused("GET", cal.path(event["id"]), params={"maxAttendees": 501}))[0] == (
        "invalidParameter"
    )
    assert await cal.refused("GET", cal.path("nope"), status=404) == (
        "itemNotFound",
        "Event not found",
    )
    # Another person's event is not found in this calendar.
    other = cal.sandbox.org.users[9].unionid
    assert (await cal.refused("GET", cal.path(event["id"], who=other), status=404))[0] == (
        "itemNotFound"
    )


async def test_update_changes_only_what_is_sent(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    event = await cal.create(description="keep me", reminders=[{"minutes": 5}])
    response = await cal.call(
        "PUT", cal.path(event["id"]), {"id": event["id"], "summary": "Moved", **timed(14)}
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["summary"], changed["description"]) == ("Moved", "keep me")
    assert changed["start"]["dateTime"] == "2024-05-01T14:00:00+08:00"
    assert changed["reminders"] == [{"method": "dingtalk", "minutes": "5"}]
    # Dates without isAllDay: it becomes an all-day event.
    days = {"id": event["id"], "start": {"date": "2024-05-02"}, "end": {"date": "2024-05-03"}}
    assert (await cal.call("PUT", cal.path(event["id"]), days)).json()["isAllDay"] is True
    path = cal.path(event["id"])
    assert (await cal.refused("PUT", path, {"summary": "x"}))[1] == "Event id cannot be blank"
    assert (await cal.refused("PUT", path, {"id": "other", "summary": "x"}))[1] == (
        "Event id does not match the path"
    )
    assert (await cal.refused("PUT", path, {"id": event["id"], "summary": ""}))[1] == (
        "Event summary cannot be blank"
    )
    assert (await cal.refused("PUT", cal.path("nope"), {"id": "nope"}, status=404))[
        0
    ] == "itemNotFound"


async def test_delete_hides_the_event(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    event = await cal.create()
    response = await cal.call("DELETE", cal.path(event["id"]), params={"pushNotification": "false"})
    assert (response.status_code, response.content) == (200, b"")
    assert await cal.refused("GET", cal.path(event["id"]), status=404) == (
        "instanceNotExist",
        "instance not exist",
    )
    assert (await cal.refused("DELETE", cal.path(event["id"]), status=404))[0] == "itemNotFound"
    assert (await cal.refused("PUT", cal.path(event["id"]), {"id": event["id"]}, status=404))[
        0
    ] == ("itemNotFound")
    assert (await cal.listed())["events"] == []
    [gone] = (await cal.listed(showDeleted="true"))["events"]
    assert (gone["id"], gone["status"]) == (event["id"], "cancelled")
    other = await cal.create()
    bad = await cal.refused("DELETE", cal.path(other["id"]), params={"pushNotification": "maybe"})
    assert bad[0] == "invalidParameter"


# -- list -----------------------------------------------------------------------------------


async def all_events(cal: Calendar, size: int, **params: Any) -> tuple[list[str], int]:
    ids, token, pages = [], None, 0
    while True:
        answer = await cal.listed(
            maxResults=size, **({"nextToken": token} if token else {}), **params
        )
        pages += 1
        ids += [event["summary"] for event in answer["events"]]
        token = answer.get("nextToken")
        if not token:
            return ids, pages


async def test_list_pages_by_start(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    assert await all_events(cal, 2) == ([], 1)
    for hour in (15, 9, 12, 10, 11):
        await cal.create(f"at {hour}", **timed(hour))
    expected = [f"at {hour}" for hour in (9, 10, 11, 12, 15)]
    assert await all_events(cal, 2) == (expected, 3)
    assert await all_events(cal, 5) == (expected, 1)
    assert await all_events(cal, 100) == (expected, 1)


async def test_list_filters_on_start(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    for hour in (9, 10, 11):
        await cal.create(f"at {hour}", **timed(hour))
    window = {
        "timeMin": dt.datetime(2024, 5, 1, 2, tzinfo=dt.UTC).isoformat(),  # 10:00 in Shanghai
        "timeMax": "2024-05-01T11:00:00+08:00",
    }
    answer = await cal.listed(**window)
    assert [e["summary"] for e in answer["events"]] == ["at 10"]  # timeMin <= start < timeMax
    assert "syncToken" not in answer  # not with timeMax (§4.2)


@pytest.mark.parametrize(
    "params",
    [
        {"maxResults": 101},
        {"maxResults": 0},
        {"nextToken": "abc"},
        {"timeMin": "yesterday"},
        {"timeMin": "2024-05-01T10:00:00"},  # no offset
        {"timeMin": "2024-01-01T00:00:00Z", "timeMax": "2025-02-01T00:00:00Z"},  # over a year
        {"showDeleted": "maybe"},
        {"syncToken": "nope"},
    ],
)
async def test_list_parameter_errors(
    calendar: Callable[..., Calendar], params: dict[str, Any]
) -> None:
    cal = calendar()
    assert (await cal.refused("GET", cal.path(), params=params))[0] == "invalidParameter"


async def test_sync_token_gives_the_changes_since(
    calendar: Callable[..., Calendar], fake_clock: Any
) -> None:
    cal = calendar()
    kept = await cal.create("kept")
    gone = await cal.create("gone")
    sync = (await cal.listed())["syncToken"]
    fake_clock.advance(60)
    await cal.call("DELETE", cal.path(gone["id"]))
    added = await cal.create("added", **timed(8))
    changes = (await cal.listed(syncToken=sync))["events"]
    assert [(e["id"], e["status"]) for e in changes] == [
        (added["id"], "confirmed"),
        (gone["id"], "cancelled"),
    ]
    assert kept["id"] not in {e["id"] for e in changes}


async def test_events_outlive_a_restart(
    make_sandbox: Callable[..., Sandbox], connect: Connect, tmp_path: Path
) -> None:
    first = make_sandbox(config=SandboxConfig(qps=0), data_dir=tmp_path)
    first.add_app(APP)
    user = first.org.users[3]
    event = await Calendar(first, connect(first), user).create()
    first.store.close()
    again = make_sandbox(config=SandboxConfig(qps=0), data_dir=tmp_path)
    again.add_app(APP)
    listed = await Calendar(again, connect(again), user).listed()
    assert [e["id"] for e in listed["events"]] == [event["id"]]


async def test_sandbox_calendar_view(calendar: Callable[..., Calendar]) -> None:
    cal = calendar()
    event = await cal.create()
    http = cal.client.http
    for who in (cal.user.userid, cal.user.unionid):
        [seen] = (await http.get("/_sandbox/calendar", params={"user": who})).json()["events"]
        assert (seen["id"], seen["owner"]["userid"]) == (event["id"], cal.user.userid)
    assert (await http.get("/_sandbox/calendar")).json()["events"][0]["id"] == event["id"]
    assert (await http.get("/_sandbox/calendar", params={"user": "nobody"})).status_code == 404


# -- through the SDK ------------------------------------------------------------------------


@pytest.fixture
def served(make_sandbox: Callable[..., Sandbox]) -> Iterator[SandboxServer]:
    sandbox = make_sandbox(config=SandboxConfig())
    sandbox.add_app(APP)
    with SandboxServer(sandbox) as server:
        yield server


def test_sdk_round_trip_sync(served: SandboxServer) -> None:
    org = served.sandbox.org
    user, guest = org.users[3], org.users[4]
    start = dt.datetime(2024, 5, 1, 10, tzinfo=SHANGHAI)
    with httpx.Client() as http, DingTalk(
        APP.app_key, APP.app_secret, oapi_base=served.url, api_base=served.url, qps=None,
        http_client=http,
    ) as client:  # fmt: skip
        event = client.calendar.create(
            user.userid, "Review", start, start + dt.timedelta(hours=1), attendees=[guest.userid]
        )
        assert event.organizer is not None
        assert event.organizer.id == user.unionid  # the userId was resolved to the unionId
        assert [a.display_name for a in event.attendees] == [guest.name]
        assert event.reminders[0].minutes == 15
        holiday = client.calendar.create(
            user.userid, "Holiday", dt.date(2024, 5, 2), dt.date(2024, 5, 3), all_day=True
        )
        assert holiday.last_day == dt.date(2024, 5, 3)
        assert [e.summary for e in client.calendar.list(user.userid, page_size=1)] == [
            "Review",
            "Holiday",
        ]
        assert client.calendar.get(user.userid, event.id).summary == "Review"
        moved = client.calendar.update(user.userid, event.id, summary="Review (moved)")
        assert moved.summary == "Review (moved)"
        client.calendar.delete(user.userid, event.id)
        with pytest.raises(NotFoundError):
            client.calendar.get(user.userid, event.id)
        listed = client.calendar.list(user.userid, show_deleted=True)
        assert [(e.summary, e.status) for e in listed] == [
            ("Review (moved)", "cancelled"),
            ("Holiday", "confirmed"),
        ]


async def test_sdk_round_trip_async(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(config=SandboxConfig())
    sandbox.add_app(APP)
    user = sandbox.org.users[3]
    start = dt.datetime(2024, 5, 1, 10, tzinfo=SHANGHAI)
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport) as http, AsyncDingTalk(
        APP.app_key, APP.app_secret, oapi_base="http://sandbox", api_base="http://sandbox",
        qps=None, http_client=http,
    ) as client:  # fmt: skip
        created = [
            await client.calendar.create(
                user.unionid, f"Slot {n}", start + dt.timedelta(hours=n),
                start + dt.timedelta(hours=n, minutes=30), union_id=True, reminders=[],
            )
            for n in range(3)
        ]  # fmt: skip
        listed = [e async for e in client.calendar.list(user.userid, page_size=2)]
        assert [e.id for e in listed] == [e.id for e in created]
        assert listed[0].reminders == []
        changed = await client.calendar.update(user.userid, created[0].id, description="agenda")
        assert changed.description == "agenda"
        fetched = await client.calendar.get(user.userid, created[0].id)
        assert (fetched.summary, fetched.description) == ("Slot 0", "agenda")
        await client.calendar.delete(user.userid, created[0].id)
        assert len([e async for e in client.calendar.list(user.userid)]) == 2
