"""EVENT frames of Stream mode (§8.2) read into the events HTTP callbacks produce (§7.6)."""

from __future__ import annotations

import json

import pytest

from dingkit._exceptions import CallbackPayloadError
from dingkit.callback.events import BpmsInstanceChange, CallbackEvent, UserAddOrg, parse_event
from dingkit.callback.stream_events import event_from_stream

HEADERS = {
    "topic": "*",
    "messageId": "m-1",
    "eventType": "user_add_org",
    "eventId": "ev-1",
    "eventCorpId": "dingcorp01",
    "eventBornTime": "1700000000000",
    "eventUnifiedAppId": "app-1",
}


def test_a_contact_event_reads_as_its_http_push_does() -> None:
    data = json.dumps({"timeStamp": "1700000000000", "userId": ["u1", "u2"]})
    event, plaintext = event_from_stream(HEADERS, data)
    pushed = parse_event(
        {"EventType": "user_add_org", "EventTime": 1700000000000, "CorpId": "dingcorp01",
         "eventId": "ev-1", "timeStamp": "1700000000000", "userId": ["u1", "u2"]}
    )  # fmt: skip
    assert isinstance(event, UserAddOrg)
    assert (event.event_id, event.corp_id, event.event_time) == ("ev-1", "dingcorp01", 1700 * 10**9)
    assert event.user_ids == ["u1", "u2"]
    assert event.dedup_keys == pushed.dedup_keys
    assert parse_event(plaintext).user_ids == ["u1", "u2"]  # type: ignore[attr-defined]


def test_an_approval_event_is_typed_and_the_headers_win_over_data() -> None:
    headers = HEADERS | {"eventType": "bpms_instance_change"}
    data = {"processInstanceId": "p-1", "type": "finish", "result": "agree", "EventType": "x"}
    event, _ = event_from_stream(headers, json.dumps(data))
    assert isinstance(event, BpmsInstanceChange)
    assert (event.process_instance_id, event.result) == ("p-1", "agree")


def test_an_unknown_type_is_a_plain_event_with_its_fields() -> None:
    event, _ = event_from_stream(HEADERS | {"eventType": "chat_update_title"}, '{"title": "t"}')
    assert type(event) is CallbackEvent
    assert event.raw["title"] == "t"


@pytest.mark.parametrize(
    ("headers", "data"),
    [
        ({k: v for k, v in HEADERS.items() if k != "eventType"}, "{}"),
        (HEADERS | {"eventType": ""}, "{}"),
        (HEADERS, "[1]"),
        (HEADERS, "not json"),
        (HEADERS, '{"a": NaN}'),
        (HEADERS, "[" * 5000),
    ],
)
def test_what_is_not_an_event_is_refused(headers: dict[str, str], data: str) -> None:
    with pytest.raises(CallbackPayloadError):
        event_from_stream(headers, data)


@pytest.mark.parametrize("born", ["soon", "9" * 40, "", "١٢"])
def test_an_odd_born_time_is_left_out(born: str) -> None:
    event, _ = event_from_stream(HEADERS | {"eventBornTime": born}, "{}")
    assert event.event_time is None
