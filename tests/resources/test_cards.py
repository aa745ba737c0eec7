from __future__ import annotations

import pytest

from dingkit import MessageValidationError
from dingkit.resources import cards

TPL = "382e4302-551d-4880-bf29-a30acfab2e71.schema"


def test_create_and_deliver_sends_what_the_official_sdk_sends_to_a_group() -> None:
    request = cards.create_and_deliver(
        TPL, "t-1", {"content": "", "flowStatus": "1"}, "IM_GROUP", "cid123==", robot_code="ding1"
    )
    assert (request.method, request.path) == ("POST", "/v1.0/card/instances/createAndDeliver")
    # dingtalk_stream/card_replier.py, create_and_deliver_card, conversationType "2".
    assert request.json == {
        "cardTemplateId": TPL,
        "outTrackId": "t-1",
        "cardData": {"cardParamMap": {"content": "", "flowStatus": "1"}},
        "callbackType": "STREAM",
        "imGroupOpenSpaceModel": {"supportForward": True},
        "imRobotOpenSpaceModel": {"supportForward": True},
        "openSpaceId": "dtv1.card//IM_GROUP.cid123==",
        "userIdType": 1,
        "imGroupOpenDeliverModel": {"robotCode": "ding1"},
    }
    assert request.idempotent is False


def test_a_one_to_one_card_goes_to_the_users_robot_space() -> None:
    request = cards.deliver("t-1", "IM_ROBOT", "manager0001", robot_code="ding1")
    assert request.json["openSpaceId"] == "dtv1.card//IM_ROBOT.manager0001"
    assert request.json["imRobotOpenDeliverModel"]["spaceType"] == "IM_ROBOT"


def test_streaming_carries_the_sdks_fields_and_is_safe_to_resend() -> None:
    request = cards.stream("t-1", "content", "Hello", guid="g-1", full=False, finalize=True)
    assert (request.method, request.path) == ("PUT", "/v1.0/card/streaming")
    assert request.json == {
        "outTrackId": "t-1",
        "guid": "g-1",
        "key": "content",
        "content": "Hello",
        "isFull": False,
        "isFinalize": True,
        "isError": False,
    }
    assert request.idempotent is True


def test_card_variables_are_strings_and_others_go_as_json() -> None:
    assert cards.card_params({"a": "x", "n": 3, "obj": {"k": "中"}, "ok": True}) == {
        "a": "x",
        "n": "3",
        "obj": '{"k": "中"}',
        "ok": "true",
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: cards.create("", "t-1", {}),
        lambda: cards.create(TPL, " ", {}),
        lambda: cards.open_space_id("IM_GROUP", ""),
        lambda: cards.open_space_id("ONE_BOX", "x"),  # type: ignore[arg-type]
        lambda: cards.stream("t-1", "", "x", guid="g"),
        lambda: cards.stream("t-1", "content", 3, guid="g"),  # type: ignore[arg-type]
        lambda: cards.update("t-1", {1: "x"}),  # type: ignore[dict-item]
    ],
)
def test_a_card_request_dingtalk_would_refuse_is_refused_before_sending(build: object) -> None:
    with pytest.raises(MessageValidationError):
        build()  # type: ignore[operator]
