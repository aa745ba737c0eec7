from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dingkit import NotFoundError
from dingkit.resources import calendar

from .conftest import Driver, FakeDingTalk

USER_GET = "/topapi/v2/user/get"
EVENTS = "/v1.0/calendar/users/union-boss/calendars/primary/events"
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI)
END = dt.datetime(2024, 5, 1, 11, 0, tzinfo=SHANGHAI)

EVENT = {
    "id": "ev1",
    "summary": "Review",
    "start": {"dateTime": "2024-05-01T10:00:00+08:00", "timeZone": "Asia/Shanghai"},
    "end": {"dateTime": "2024-05-01T11:00:00+08:00", "timeZone": "Asia/Shanghai"},
    "isAllDay": False,
    "attendees": [
        {"id": "union-li", "displayName": "Li", "responseStatus": "accepted", "self": False}
    ],
    "organizer": {"id": "union-boss", "displayName": "Boss", "self": True},
    "reminders": [{"method": "dingtalk", "minutes": "15"}],
    "location": {"displayName": "Room 1"},
    "createTime": "2024-04-30T08:00:00Z",
}


@pytest.fixture
def directory(fake: FakeDingTalk) -> dict[str, str]:
    """userId → unionId, answered by ``user/get``."""
    unions = {"boss": "union-boss", "li": "union-li", "wang": "union-wang"}

    def user_get(call: Any) -> dict[str, Any]:
        userid = call.json["userid"]
        if userid not in unions:
            return {"errcode": 33012, "errmsg": "无效的userId"}
        return {
            "errcode": 0,
            "result": {"userid": userid, "name": userid, "unionid": unions[userid]},
        }

    fake.route("POST", USER_GET, user_get)
    return unions


def test_create_timed_event_resolves_user_and_attendees(
    dingtalk: Driver, fake: FakeDingTalk, directory: dict[str, str]
) -> None:
    fake.route("POST", EVENTS, EVENT)
    event = dingtalk.run(
        lambda c: c.calendar.create(
            "boss",
            "Review",
            START,
            END,
            attendees=["li"],
            optional_attendees=["wang"],
            location="Room 1",
            reminders=[15, 5],
            description="Q2",
            online_meeting=True,
        )
    )
    assert event.id == "ev1"
    assert event.reminders[0].minutes == 15
    assert event.attendees[0].is_self is False
    assert event.organizer is not None
    assert event.start is not None
    assert event.start.date_time == START
    created = fake.calls[-1]
    assert (created.method, created.path) == ("POST", EVENTS)
    assert created.json == {
        "summary": "Review",
        "description": "Q2",
        "start": {"dateTime": "2024-05-01T10:00:00+08:00", "timeZone": "Asia/Shanghai"},
        "end": {"dateTime": "2024-05-01T11:00:00+08:00", "timeZone": "Asia/Shanghai"},
        "isAllDay": False,
        "attendees": [
            {"id": "union-li", "isOptional": False},
            {"id": "union-wang", "isOptional": True},
        ],
        "location": {"displayName": "Room 1"},
        "reminders": [{"method": "dingtalk", "minutes": 15}, {"method": "dingtalk", "minutes": 5}],
        "onlineMeetingInfo": {"type": "dingtalk"},
    }
    assert sorted(b["userid"] for b in fake.bodies(USER_GET)) == ["boss", "li", "wang"]


def test_all_day_event_sends_the_exclusive_end(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("POST", EVENTS, {**EVENT, "isAllDay": True})
    dingtalk.run(
        lambda c: c.calendar.create(
            "union-boss",
            "Trip",
            dt.date(2024, 5, 1),
            dt.date(2024, 5, 3),
            all_day=True,
            union_id=True,
            reminders=[],
        )
    )
    assert fake.bodies() == [
        {
            "summary": "Trip",
            "start": {"date": "2024-05-01"},
            "end": {"date": "2024-05-04"},
            "isAllDay": True,
            "reminders": [],
        }
    ]


def test_all_day_model_gives_the_last_day() -> None:
    event = calendar.CalendarEvent.model_validate(
        {"id": "e", "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-04"}}
    )
    assert event.last_day == dt.date(2024, 5, 3)


def test_union_id_is_looked_up_once_per_user(
    dingtalk: Driver, fake: FakeDingTalk, directory: dict[str, str]
) -> None:
    fake.route("GET", EVENTS + "/ev1", EVENT)
    fake.route("DELETE", EVENTS + "/ev1", None)
    fake.route("GET", EVENTS, {"events": [EVENT], "nextToken": None})
    dingtalk.run(lambda c: c.calendar.get("boss", "ev1"))
    dingtalk.run(lambda c: c.calendar.get("boss", "ev1"))
    dingtalk.run(lambda c: c.calendar.list("boss"))
    dingtalk.run(lambda c: c.calendar.delete("boss", "ev1"))
    assert fake.bodies(USER_GET) == [{"userid": "boss"}]
    assert fake.paths() == [USER_GET, EVENTS + "/ev1", EVENTS + "/ev1", EVENTS, EVENTS + "/ev1"]


def test_union_id_flag_skips_the_lookup(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("GET", EVENTS + "/ev1", EVENT)
    dingtalk.run(lambda c: c.calendar.get("union-boss", "ev1", union_id=True, max_attendees=500))
    assert fake.paths() == [EVENTS + "/ev1"]
    assert fake.calls[0].params == {"maxAttendees": "500"}


def test_unknown_user_and_user_without_union_id(
    dingtalk: Driver, fake: FakeDingTalk, directory: dict[str, str]
) -> None:
    from dingkit import BadRequestError

    with pytest.raises(BadRequestError, match="33012"):
        dingtalk.run(lambda c: c.calendar.get("nobody", "ev1"))
    fake.route("POST", USER_GET, {"errcode": 0, "result": {"userid": "x", "name": "X"}})
    with pytest.raises(NotFoundError, match="union_id=True"):
        dingtalk.run(lambda c: c.calendar.get("x", "ev1"))


def test_list_pages_with_next_token(dingtalk: Driver, fake: FakeDingTalk) -> None:
    pages = {
        None: {"events": [{**EVENT, "id": "e1"}, {**EVENT, "id": "e2"}], "nextToken": "t2"},
        "t2": {"events": [{**EVENT, "id": "e3"}], "nextToken": "t3"},
        "t3": {"events": [{**EVENT, "id": "e4"}], "nextToken": None, "syncToken": "s"},
    }
    fake.route("GET", EVENTS, lambda call: pages[call.params.get("nextToken")])
    t_max = dt.datetime(2024, 6, 1, tzinfo=SHANGHAI)
    found = dingtalk.run(
        lambda c: c.calendar.list(
            "union-boss", union_id=True, time_min=START, time_max=t_max, page_size=2
        )
    )
    assert [e.id for e in found] == ["e1", "e2", "e3", "e4"]
    base = {
        "timeMin": "2024-05-01T10:00:00+08:00",
        "timeMax": "2024-06-01T00:00:00+08:00",
        "maxResults": "2",
    }
    assert [call.params for call in fake.calls] == [
        base,
        {**base, "nextToken": "t2"},
        {**base, "nextToken": "t3"},
    ]


@pytest.mark.parametrize("answer", [{"events": []}, {"events": [EVENT], "nextToken": None}])
def test_list_empty_or_one_page_is_one_request(
    dingtalk: Driver, fake: FakeDingTalk, answer: dict[str, Any]
) -> None:
    fake.route("GET", EVENTS, answer)
    pages = dingtalk.pages(lambda c: c.calendar.list("union-boss", union_id=True))
    assert [len(page.items) for page in pages] == [len(answer["events"])]
    assert fake.calls[0].params == {"maxResults": "100"}


def test_update_puts_the_given_fields_and_the_id(
    dingtalk: Driver, fake: FakeDingTalk, directory: dict[str, str]
) -> None:
    fake.route("PUT", EVENTS + "/ev1", {**EVENT, "summary": "Moved"})
    event = dingtalk.run(
        lambda c: c.calendar.update("boss", "ev1", summary="Moved", attendees=["li"])
    )
    assert event.summary == "Moved"
    assert fake.calls[-1].method == "PUT"
    assert fake.calls[-1].json == {
        "summary": "Moved",
        "attendees": [{"id": "union-li", "isOptional": False}],
        "id": "ev1",
    }


def test_delete_reads_the_empty_body(dingtalk: Driver, fake: FakeDingTalk) -> None:
    fake.route("DELETE", EVENTS + "/ev1", None)
    result = dingtalk.run(
        lambda c: c.calendar.delete("union-boss", "ev1", union_id=True, push_notification=False)
    )
    assert result is None
    assert fake.calls[0].params == {"pushNotification": "false"}


@pytest.mark.parametrize(
    ("zone", "name"),
    [
        (dt.timezone(dt.timedelta(hours=8)), "Etc/GMT-8"),
        (dt.UTC, "UTC"),
        (dt.timezone(dt.timedelta(hours=-5)), "Etc/GMT+5"),
    ],
)
def test_fixed_offsets_get_a_zone_name(zone: dt.tzinfo, name: str) -> None:
    start = dt.datetime(2024, 5, 1, 10, tzinfo=zone)
    body = calendar.event_body(summary="x", start=start, end=start + dt.timedelta(hours=1))
    assert body["start"]["timeZone"] == body["end"]["timeZone"] == name


def test_end_is_sent_in_the_start_zone() -> None:
    end = dt.datetime(2024, 5, 1, 4, tzinfo=dt.UTC)  # 12:00 in Shanghai
    body = calendar.event_body(summary="x", start=START, end=end)
    assert body["end"] == {"dateTime": "2024-05-01T12:00:00+08:00", "timeZone": "Asia/Shanghai"}


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"start": dt.datetime(2024, 5, 1, 10), "end": END}, "no time zone"),
        ({"start": END, "end": START}, "after start"),
        ({"start": dt.date(2024, 5, 1), "end": dt.date(2024, 5, 1)}, "all_day=True"),
        ({"start": dt.date(2024, 5, 2), "end": dt.date(2024, 5, 1), "all_day": True}, "before"),
        ({"start": START}, "together"),
        ({"summary": "x" * 2049, "start": START, "end": END}, "2048"),
    ],
)
def test_bad_times_are_refused(options: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        calendar.event_body(**{"summary": "x", **options})


def test_paths_escape_ids_and_limit_under_a_template() -> None:
    request = calendar.get("a/b", "e 1")
    assert request.path == "/v1.0/calendar/users/a%2Fb/calendars/primary/events/e%201"
    assert request.api_name == calendar.EVENT_GET.path  # one QPS window for every user
