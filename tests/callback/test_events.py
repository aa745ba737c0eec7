"""Event plaintexts (§7.4–§7.6) in both push formats and as failed-list items (§7.5)."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Literal

import pytest

from dingkit import CallbackPayloadError
from dingkit.callback.events import (
    EVENT_TYPES,
    BpmsInstanceChange,
    BpmsTaskChange,
    CallbackEvent,
    CheckCreateSuiteUrl,
    CheckUpdateSuiteUrl,
    CheckUrl,
    DiffInfo,
    OrgDeptCreate,
    OrgDeptModify,
    OrgDeptRemove,
    UserAddOrg,
    UserLeaveOrg,
    UserModifyOrg,
    event_from_failed_item,
    parse_event,
)
from dingkit.callback.payloads import to_failed_item, to_payload

CORP = "dingc7c5220402493357f2c783f7214b6d69"
T = 1685501863357
INSTANCE = "60406628-b642-4740-81e7-68cc67ebaa45"
PROCESS = "PROC-5CB63684-096E-40DD-B326-CF60691C507A"

# The event's own fields in the new format's names, and what the model must read from them.
FIELDS: dict[str, dict[str, Any]] = {
    "check_url": {},
    "check_create_suite_url": {"Random": "LPIdSnlF", "TestSuiteKey": "suite4xxxxxxxxxxxxxxx"},
    "check_update_suite_url": {"Random": "q8Rz2Lm0", "TestSuiteKey": "suite4xxxxxxxxxxxxxxx"},
    "user_add_org": {"userId": ["manager4220", "015xxxx227"]},
    "user_leave_org": {"userId": ["015xxxx227"]},
    "user_modify_org": {
        "userId": ["manager4220"],
        "diffInfo": {
            "prev": {"name": "张三", "workPlace": "杭州"},
            "curr": {"name": "张三丰", "workPlace": "北京"},
            "userid": "manager4220",
        },
    },
    "org_dept_create": {"deptId": [560935057]},
    "org_dept_modify": {"deptId": [560935057, 1]},
    "org_dept_remove": {"deptId": [560935057]},
    "bpms_instance_change": {
        "processInstanceId": INSTANCE,
        "processCode": PROCESS,
        "bizCategoryId": "attendance.goout",
        "businessId": "202112281713000090163",
        "businessType": "",
        "title": "赵云提交的外出申请",
        "type": "finish",
        "result": "agree",
        "staffId": "manager164",
        "createTime": 1640682789000,
        "finishTime": 1640683876000,
        "url": "https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm",
    },
    "bpms_task_change": {
        "processInstanceId": INSTANCE,
        "processCode": PROCESS,
        "bizCategoryId": "",
        "businessId": "202112281713000090163",
        "title": "赵云提交的外出申请",
        "type": "finish",
        "result": "redirect",
        "remark": "转交给马超处理",
        "staffId": "manager164",
        "taskId": 63396273029,
        "createTime": 1640682789000,
        "finishTime": 1640683876000,
    },
}
APPROVAL_ATTRS = {
    "process_instance_id": INSTANCE,
    "process_code": PROCESS,
    "business_id": "202112281713000090163",
    "title": "赵云提交的外出申请",
    "type": "finish",
    "staff_id": "manager164",
    "create_time": 1640682789000,
    "finish_time": 1640683876000,
}
ATTRS: dict[str, dict[str, Any]] = {
    "check_url": {},
    "check_create_suite_url": {"random": "LPIdSnlF", "test_suite_key": "suite4xxxxxxxxxxxxxxx"},
    "check_update_suite_url": {"random": "q8Rz2Lm0", "test_suite_key": "suite4xxxxxxxxxxxxxxx"},
    "user_add_org": {"user_ids": ["manager4220", "015xxxx227"]},
    "user_leave_org": {"user_ids": ["015xxxx227"]},
    "user_modify_org": {
        "user_ids": ["manager4220"],
        "diff_info": DiffInfo(
            prev={"name": "张三", "workPlace": "杭州"},
            curr={"name": "张三丰", "workPlace": "北京"},
            user_id="manager4220",
        ),
    },
    "org_dept_create": {"dept_ids": [560935057]},
    "org_dept_modify": {"dept_ids": [560935057, 1]},
    "org_dept_remove": {"dept_ids": [560935057]},
    "bpms_instance_change": {
        **APPROVAL_ATTRS,
        "biz_category_id": "attendance.goout",
        "business_type": "",
        "result": "agree",
        "url": "https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm",
    },
    "bpms_task_change": {
        **APPROVAL_ATTRS,
        "biz_category_id": "",
        "result": "redirect",
        "remark": "转交给马超处理",
        "task_id": 63396273029,
    },
}
CLASSES = {
    "check_url": CheckUrl,
    "check_create_suite_url": CheckCreateSuiteUrl,
    "check_update_suite_url": CheckUpdateSuiteUrl,
    "user_add_org": UserAddOrg,
    "user_leave_org": UserLeaveOrg,
    "user_modify_org": UserModifyOrg,
    "org_dept_create": OrgDeptCreate,
    "org_dept_modify": OrgDeptModify,
    "org_dept_remove": OrgDeptRemove,
    "bpms_instance_change": BpmsInstanceChange,
    "bpms_task_change": BpmsTaskChange,
}
TYPES = sorted(FIELDS)
STYLES: tuple[Literal["new", "classic"], ...] = ("new", "classic")


def content_key(event: CallbackEvent) -> str:
    (key,) = [key for key in event.dedup_keys if key.startswith("content:")]
    return key


def assert_attrs(event: CallbackEvent, event_type: str) -> None:
    assert type(event) is CLASSES[event_type]
    assert event.event_type == event_type
    for name, value in ATTRS[event_type].items():
        assert getattr(event, name) == value, name


def test_the_registry_maps_every_documented_type_to_its_class() -> None:
    assert EVENT_TYPES == CLASSES


# ---- pushes in both formats, as the pages print them -------------------------------------


def test_check_url_is_the_bare_event_type() -> None:
    event = parse_event(b'{"EventType":"check_url"}')
    assert type(event) is CheckUrl
    assert (event.event_id, event.event_time, event.corp_id) == (None, None, None)
    assert event.raw == {"EventType": "check_url"}


def test_check_create_suite_url_reads_random_and_suite_key() -> None:
    plaintext = (
        '{"EventType":"check_create_suite_url","Random":"LPIdSnlF",'
        '"TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}'
    )
    event = parse_event(plaintext)
    assert isinstance(event, CheckCreateSuiteUrl)
    assert (event.random, event.test_suite_key) == ("LPIdSnlF", "suite4xxxxxxxxxxxxxxx")


def test_user_add_org_in_the_new_format() -> None:
    event = parse_event(
        {
            "EventType": "user_add_org",
            "EventTime": T,
            "CorpId": CORP,
            "BizId": "biz-1",
            "eventId": "c7c7120f2c074190ebdba0318c8",
            "timeStamp": str(T),
            "userId": ["015xxxx227"],
        }
    )
    assert isinstance(event, UserAddOrg)
    assert event.user_ids == ["015xxxx227"]
    assert (event.event_time, event.corp_id, event.biz_id) == (T, CORP, "biz-1")
    assert event.event_id == "c7c7120f2c074190ebdba0318c8"


def test_user_leave_org_in_the_classic_format_with_a_string_timestamp() -> None:
    event = parse_event(
        b'{"EventType":"user_leave_org","TimeStamp":"1445827045067",'
        b'"UserId":["efefef","111111"],"CorpId":"corpid"}'
    )
    assert isinstance(event, UserLeaveOrg)
    assert (event.event_time, event.user_ids, event.corp_id) == (
        1445827045067,
        ["efefef", "111111"],
        "corpid",
    )
    assert event.event_id is None


def test_user_ids_given_as_numbers_read_as_strings() -> None:
    event = parse_event({"EventType": "user_add_org", "TimeStamp": T, "UserId": [123, "abc"]})
    assert isinstance(event, UserAddOrg)
    assert event.user_ids == ["123", "abc"]


def test_user_modify_org_keeps_the_changed_fields_loosely_typed() -> None:
    event = parse_event(
        {"EventType": "user_modify_org", "EventTime": T, **FIELDS["user_modify_org"]}
    )
    assert isinstance(event, UserModifyOrg)
    assert event.diff_info is not None
    assert event.diff_info.prev == {"name": "张三", "workPlace": "杭州"}
    assert event.diff_info.curr["name"] == "张三丰"
    assert event.diff_info.user_id == "manager4220"


@pytest.mark.parametrize(
    ("payload", "dept_ids"),
    [
        ({"EventType": "org_dept_create", "EventTime": T, "deptId": [1, 2]}, [1, 2]),
        ({"EventType": "org_dept_modify", "TimeStamp": T, "DeptId": ["1", "2"]}, [1, 2]),
        ({"EventType": "org_dept_remove", "TimeStamp": str(T), "DeptId": [560935057]}, [560935057]),
    ],
    ids=["new", "classic-strings", "classic"],
)
def test_department_events_read_ids_as_ints(payload: dict[str, Any], dept_ids: list[int]) -> None:
    event = parse_event(payload)
    assert type(event) is CLASSES[payload["EventType"]]
    assert isinstance(event, OrgDeptCreate | OrgDeptModify | OrgDeptRemove)
    assert event.dept_ids == dept_ids
    assert event.event_time == T


def test_classic_approval_event_uses_lower_case_corp_id_and_no_time() -> None:
    plaintext = {
        "EventType": "bpms_instance_change",
        "corpId": CORP,
        **FIELDS["bpms_instance_change"],
    }
    event = parse_event(json.dumps(plaintext, ensure_ascii=False).encode())
    assert_attrs(event, "bpms_instance_change")
    assert (event.corp_id, event.event_time) == (CORP, None)


def test_instance_start_has_no_result() -> None:
    fields = {k: v for k, v in FIELDS["bpms_instance_change"].items() if k != "result"}
    event = parse_event({"EventType": "bpms_instance_change", **fields, "type": "start"})
    assert isinstance(event, BpmsInstanceChange)
    assert (event.type, event.result) == ("start", None)


def test_task_redirect_with_string_numbers() -> None:
    event = parse_event(
        {
            "EventType": "bpms_task_change",
            "EventTime": str(T),
            "CorpId": CORP,
            **FIELDS["bpms_task_change"],
            "taskId": "63396273029",
            "createTime": "1640682789000",
        }
    )
    assert_attrs(event, "bpms_task_change")
    assert event.event_time == T


def test_unknown_fields_are_kept_on_typed_events() -> None:
    event = parse_event(
        {"EventType": "bpms_task_change", **FIELDS["bpms_task_change"], "formValuesOmitted": True}
    )
    assert isinstance(event, BpmsTaskChange)
    assert event.model_extra == {"formValuesOmitted": True}


def test_a_mapping_that_is_not_a_dict_is_accepted() -> None:
    event = parse_event(MappingProxyType({"EventType": "user_add_org", "UserId": ["a"]}))
    assert isinstance(event, UserAddOrg)
    assert event.raw == {"EventType": "user_add_org", "UserId": ["a"]}


# ---- unknown and bad events --------------------------------------------------------------


def test_unknown_type_is_a_generic_event_with_its_raw_fields() -> None:
    plaintext = {
        "EventType": "chat_add_member",
        "TimeStamp": 43535463645,
        "CorpId": "corpid",
        "ChatId": "chat90f29b737b56dc179df8w86t83d5f0f8",
        "UserId": ["efefef", "111111"],
        "Operator": "manager0112",
    }
    event = parse_event(json.dumps(plaintext))
    assert type(event) is CallbackEvent
    assert (event.event_type, event.event_time, event.corp_id) == (
        "chat_add_member",
        43535463645,
        "corpid",
    )
    assert event.raw == plaintext
    assert event.model_extra is not None
    assert event.model_extra["Operator"] == "manager0112"


@pytest.mark.parametrize(
    "message",
    [
        b"not json: secret-aes-key-material",
        b"\xff\xfe{}",
        '{"EventType": "user_add_org"',
        b"[1, 2, 3]",
        b'"check_url"',
        b"{}",
        b'{"userId": ["secret-aes-key-material"]}',
        b'{"EventType": 7}',
        b'{"EventType": null}',
        b'{"EventType": ["check_url"]}',
    ],
    ids=[
        "not-json",
        "not-utf8",
        "truncated",
        "list",
        "string",
        "empty",
        "no-type",
        "int-type",
        "null-type",
        "list-type",
    ],
)
def test_what_is_not_an_event_is_refused_without_echoing_it(message: bytes | str) -> None:
    with pytest.raises(CallbackPayloadError) as caught:
        parse_event(message)
    text = str(caught.value)
    assert "secret" not in text
    assert "\n" not in text
    assert text


def test_non_utf8_bytes_are_refused_even_when_they_would_decode_otherwise() -> None:
    gbk = json.dumps({"EventType": "user_add_org", "UserId": ["张三"]}, ensure_ascii=False)
    with pytest.raises(CallbackPayloadError, match="UTF-8"):
        parse_event(gbk.encode("gbk"))


@pytest.mark.parametrize(
    "payload",
    [
        {"EventType": "bpms_task_change", "processInstanceId": INSTANCE, "taskId": "abc"},
        {"EventType": "org_dept_create", "EventTime": T, "deptId": ["not-a-number"]},
        {"EventType": "user_add_org", "EventTime": T, "userId": {"id": "a"}},
        {"EventType": "user_modify_org", "EventTime": T, "userId": ["a"], "diffInfo": "changed"},
    ],
    ids=["task-id", "dept-id", "user-ids", "diff-info"],
)
def test_a_known_type_with_bad_fields_is_kept_as_a_generic_event(payload: dict[str, Any]) -> None:
    event = parse_event(json.dumps(payload).encode())
    assert type(event) is CallbackEvent
    assert event.event_type == payload["EventType"]
    assert event.raw == payload
    assert event.dedup_keys


def test_an_envelope_out_of_shape_still_gives_an_event() -> None:
    payload = {"EventType": "user_add_org", "eventId": ["x"], "EventTime": "soon", "userId": ["a"]}
    event = parse_event(payload)
    assert type(event) is CallbackEvent
    assert (event.event_type, event.event_id, event.event_time) == ("user_add_org", None, None)
    assert event.raw == payload
    assert event.dedup_keys == parse_event({**payload, "eventId": ["y"]}).dedup_keys
    assert event.dedup_keys != parse_event({**payload, "userId": ["b"]}).dedup_keys


# ---- the sandbox's payloads read back ----------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("event_type", TYPES)
def test_every_type_round_trips_through_its_payload(
    event_type: str, style: Literal["new", "classic"]
) -> None:
    payload = to_payload(
        event_type, FIELDS[event_type], style=style, corp_id=CORP, event_id="ev-1", event_time=T
    )
    event = parse_event(json.dumps(payload, ensure_ascii=False).encode())
    assert_attrs(event, event_type)
    check, classic = event_type.startswith("check_"), style == "classic"
    assert event.event_id == (None if check or classic else "ev-1")
    untimed = check or (classic and event_type.startswith("bpms_"))
    assert event.event_time == (None if untimed else T)
    assert event.corp_id == (None if check else CORP)
    assert event.raw == payload
    assert not set(event.model_extra or {}) & {"userId", "UserId", "deptId", "DeptId"}


def test_new_payload_carries_the_new_envelope() -> None:
    payload = to_payload("user_add_org", {"userId": ["a"]}, corp_id=CORP, event_time=T)
    assert payload["EventTime"] == T
    assert payload["timeStamp"] == str(T)
    assert payload["CorpId"] == CORP
    assert isinstance(payload["eventId"], str)
    assert payload["eventId"]
    assert payload["userId"] == ["a"]
    other = to_payload("user_add_org", {"userId": ["a"]}, corp_id=CORP, event_time=T)
    assert other["eventId"] != payload["eventId"]


def test_classic_contact_payload_renames_ids_and_has_no_event_id() -> None:
    users = to_payload("user_add_org", {"userId": ["a"]}, style="classic", corp_id=CORP)
    depts = to_payload("org_dept_remove", {"deptId": [3]}, style="classic", corp_id=CORP)
    assert set(users) == {"EventType", "TimeStamp", "UserId", "CorpId"}
    assert set(depts) == {"EventType", "TimeStamp", "DeptId", "CorpId"}
    assert isinstance(users["TimeStamp"], int)


def test_classic_approval_payload_has_lower_case_corp_id_and_no_time() -> None:
    payload = to_payload(
        "bpms_task_change",
        FIELDS["bpms_task_change"],
        style="classic",
        corp_id=CORP,
        event_id="ev-1",
        event_time=T,
    )
    assert payload["corpId"] == CORP
    assert not {"CorpId", "TimeStamp", "EventTime", "eventId"} & set(payload)
    assert payload["taskId"] == 63396273029


def test_url_check_payload_is_exactly_the_event_type() -> None:
    for style in STYLES:
        payload = to_payload("check_url", {}, style=style, corp_id=CORP, event_id="e", event_time=T)
        assert payload == {"EventType": "check_url"}
    suite = to_payload("check_create_suite_url", FIELDS["check_create_suite_url"], corp_id=CORP)
    assert suite == {"EventType": "check_create_suite_url", **FIELDS["check_create_suite_url"]}


def test_unknown_type_payload_passes_its_fields_through() -> None:
    payload = to_payload(
        "chat_quit", {"ChatId": "chat1"}, style="classic", corp_id=CORP, event_time=T
    )
    assert payload == {"EventType": "chat_quit", "TimeStamp": T, "CorpId": CORP, "ChatId": "chat1"}


def test_an_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="style"):
        to_payload("check_url", {}, style="old", corp_id=CORP)  # type: ignore[arg-type]


# ---- the failed-event list (§7.5) --------------------------------------------------------


def test_failed_item_of_the_protocol_example_reads_as_the_push_would() -> None:
    item = {
        "call_back_tag": "user_add_org",
        "event_time": T,
        "user_add_org": {"userid": ["zhangsan"], "corpid": CORP},
    }
    event = event_from_failed_item(item)
    assert isinstance(event, UserAddOrg)
    assert (event.user_ids, event.corp_id, event.event_time) == (["zhangsan"], CORP, T)
    assert event.failed_item == item
    # In the shape of a push (new format), with nothing the list does not say.
    assert event.raw == {
        "EventType": "user_add_org",
        "EventTime": T,
        "CorpId": CORP,
        "userId": ["zhangsan"],
    }
    push = parse_event({"EventType": "user_add_org", "TimeStamp": T, "UserId": ["zhangsan"]})
    assert push.failed_item is None
    assert content_key(event) == content_key(push)


def test_failed_item_of_the_old_flat_shape() -> None:
    item = {"event_time": T, "call_back_tag": "org_dept_modify", "deptid": [7, 8], "corpid": CORP}
    event = event_from_failed_item(item)
    assert isinstance(event, OrgDeptModify)
    assert (event.dept_ids, event.corp_id) == ([7, 8], CORP)
    assert event.raw == {
        "EventType": "org_dept_modify",
        "EventTime": T,
        "CorpId": CORP,
        "deptId": [7, 8],
    }
    assert event.failed_item == item


@pytest.mark.parametrize("nested", [True, False], ids=["under-tag", "beside-tag"])
def test_failed_approval_item_unwraps_bpms_callback_data(nested: bool) -> None:
    data = {"bpmsCallBackData": FIELDS["bpms_task_change"]}
    item = {
        "call_back_tag": "bpms_task_change",
        "event_time": T,
        **({"bpms_task_change": {**data, "corpid": CORP}} if nested else data),
    }
    event = event_from_failed_item(item)
    assert_attrs(event, "bpms_task_change")
    assert event.failed_item == item
    pushed = {
        "EventType": "bpms_task_change",
        "EventTime": T,
        **({"CorpId": CORP} if nested else {}),
    }
    assert event.raw == pushed | FIELDS["bpms_task_change"]  # unwrapped, as pushed
    push = parse_event(
        {"EventType": "bpms_task_change", "corpId": CORP, **FIELDS["bpms_task_change"]}
    )
    assert content_key(event) == content_key(push)


def test_failed_items_take_the_documented_shapes() -> None:
    user = parse_event(
        to_payload("user_add_org", {"userId": ["zhangsan"]}, corp_id=CORP, event_time=T)
    )
    assert to_failed_item(user) == {
        "call_back_tag": "user_add_org",
        "event_time": T,
        "user_add_org": {"userid": ["zhangsan"], "corpid": CORP},
    }
    task = parse_event(
        {"EventType": "bpms_task_change", "corpId": CORP, **FIELDS["bpms_task_change"]}
    )
    assert to_failed_item(task) == {
        "call_back_tag": "bpms_task_change",
        "bpms_task_change": {"bpmsCallBackData": FIELDS["bpms_task_change"], "corpid": CORP},
    }


@pytest.mark.parametrize("item", [["user_add_org"], {"event_time": T}, {"call_back_tag": 1}])
def test_failed_item_without_a_tag_is_refused(item: Any) -> None:
    with pytest.raises(CallbackPayloadError):
        event_from_failed_item(item)


def test_failed_item_with_bad_fields_is_kept_as_a_generic_event() -> None:
    item = {"call_back_tag": "org_dept_create", "org_dept_create": {"deptid": ["x"]}}
    event = event_from_failed_item(item)
    assert type(event) is CallbackEvent
    assert (event.event_type, event.failed_item) == ("org_dept_create", item)
    assert event.raw == {"EventType": "org_dept_create", "deptId": ["x"]}


# ---- deduplication -----------------------------------------------------------------------


@pytest.mark.parametrize("event_type", [*TYPES, "chat_update_title"])
def test_push_in_either_format_and_its_failed_item_share_the_content_key(
    event_type: str,
) -> None:
    fields = FIELDS.get(event_type, {"ChatId": "chat1", "Title": "新群名"})
    new = parse_event(to_payload(event_type, fields, corp_id=CORP, event_id="ev-1", event_time=T))
    classic = parse_event(
        to_payload(event_type, fields, style="classic", corp_id=CORP, event_time=T)
    )
    failed_new = event_from_failed_item(to_failed_item(new))
    failed_classic = event_from_failed_item(to_failed_item(classic))
    assert type(failed_new) is type(new) is type(classic)
    keys = {content_key(e) for e in (new, classic, failed_new, failed_classic)}
    assert len(keys) == 1
    check = event_type.startswith("check_")
    assert new.dedup_keys == ((content_key(new),) if check else ("id:ev-1", content_key(new)))
    assert classic.dedup_keys == (content_key(new),)


def test_approval_push_with_and_without_a_time_share_the_content_key() -> None:
    fields = FIELDS["bpms_instance_change"]
    new = parse_event(to_payload("bpms_instance_change", fields, corp_id=CORP, event_time=T))
    classic = parse_event(to_payload("bpms_instance_change", fields, style="classic", corp_id=CORP))
    assert classic.event_time is None
    assert content_key(new) == content_key(classic)


def test_a_repush_with_another_event_id_shares_only_the_content_key() -> None:
    first = parse_event(
        to_payload("user_leave_org", {"userId": ["a"]}, corp_id=CORP, event_id="1", event_time=T)
    )
    again = parse_event(
        to_payload("user_leave_org", {"userId": ["a"]}, corp_id=CORP, event_id="2", event_time=T)
    )
    assert set(first.dedup_keys) & set(again.dedup_keys) == {content_key(first)}


def test_user_order_does_not_change_the_content_key() -> None:
    one = parse_event({"EventType": "user_add_org", "EventTime": T, "userId": ["a", "b"]})
    two = parse_event({"EventType": "user_add_org", "TimeStamp": str(T), "UserId": ["b", "a"]})
    assert content_key(one) == content_key(two)


def _task(**changes: Any) -> CallbackEvent:
    return parse_event({"EventType": "bpms_task_change", **FIELDS["bpms_task_change"], **changes})


@pytest.mark.parametrize(
    ("one", "two"),
    [
        (_task(), _task(taskId=63396273030)),
        (_task(), _task(result="agree")),
        (_task(type="start", result=None), _task()),
        (_task(), _task(processInstanceId="another")),
        (
            parse_event({"EventType": "user_add_org", "EventTime": T, "userId": ["a"]}),
            parse_event({"EventType": "user_leave_org", "EventTime": T, "userId": ["a"]}),
        ),
        (
            parse_event({"EventType": "user_add_org", "EventTime": T, "userId": ["a"]}),
            parse_event({"EventType": "user_add_org", "EventTime": T + 1, "userId": ["a"]}),
        ),
        (
            parse_event({"EventType": "org_dept_create", "EventTime": T, "deptId": [1]}),
            parse_event({"EventType": "org_dept_create", "EventTime": T, "deptId": [1, 2]}),
        ),
        (
            parse_event({"EventType": "check_create_suite_url", "Random": "a"}),
            parse_event({"EventType": "check_create_suite_url", "Random": "b"}),
        ),
        (
            parse_event({"EventType": "chat_quit", "TimeStamp": T, "ChatId": "c1"}),
            parse_event({"EventType": "chat_quit", "TimeStamp": T, "ChatId": "c2"}),
        ),
    ],
    ids=[
        "task-id",
        "result",
        "task-type",
        "instance",
        "event-type",
        "time",
        "depts",
        "random",
        "unknown-field",
    ],
)
def test_different_events_have_different_content_keys(
    one: CallbackEvent, two: CallbackEvent
) -> None:
    assert content_key(one) != content_key(two)


def test_content_key_is_a_sha256_and_the_id_key_needs_an_id() -> None:
    event = parse_event({"EventType": "check_url"})
    (key,) = event.dedup_keys
    assert key.startswith("content:")
    assert len(key.removeprefix("content:")) == 64
    assert int(key.removeprefix("content:"), 16) >= 0
    assert parse_event({"EventType": "check_url", "eventId": ""}).dedup_keys == (key,)
    assert parse_event({"EventType": "check_url", "eventId": 42}).dedup_keys == ("id:42", key)


def test_unknown_type_ignores_only_the_envelope() -> None:
    base: dict[str, Any] = {"EventType": "label_user_change", "LabelId": [9], "action": "add"}
    pushes: list[dict[str, Any]] = [
        {**base, "EventTime": T, "CorpId": CORP, "BizId": "b", "eventId": "e"},
        {**base, "TimeStamp": T + 5, "corpId": "other"},
        {**base, "timeStamp": str(T), "corpid": CORP},
    ]
    assert len({content_key(parse_event(p)) for p in pushes}) == 1
    assert content_key(parse_event({**base, "action": "remove"})) != content_key(parse_event(base))


def test_non_ascii_events_parse_and_deduplicate() -> None:
    fields = {"userId": ["张三", "李四"], "diffInfo": {"prev": {"name": "张三"}, "curr": {}}}
    payload = to_payload("user_modify_org", fields, corp_id=CORP, event_time=T)
    encoded = json.dumps(payload, ensure_ascii=False).encode()
    escaped = json.dumps(payload).encode()
    one, two = parse_event(encoded), parse_event(escaped)
    assert isinstance(one, UserModifyOrg)
    assert one.user_ids == ["张三", "李四"]
    assert one.diff_info is not None
    assert one.diff_info.prev == {"name": "张三"}
    assert one.dedup_keys == two.dedup_keys
    failed = event_from_failed_item(to_failed_item(one))
    assert content_key(failed) == content_key(one)
    assert content_key(one) != content_key(
        parse_event(to_payload("user_modify_org", {"userId": ["张三"]}, corp_id=CORP, event_time=T))
    )


def test_a_registered_type_is_used_by_parse_event(monkeypatch: pytest.MonkeyPatch) -> None:
    class ChatQuit(CallbackEvent):
        chat_id: str | None = None

    monkeypatch.setitem(EVENT_TYPES, "chat_quit", ChatQuit)
    event = parse_event({"EventType": "chat_quit", "chat_id": "c1"})
    assert isinstance(event, ChatQuit)
    assert event.chat_id == "c1"


def test_a_plaintext_dingtalk_would_not_write_is_a_payload_error_not_a_crash() -> None:
    """Nesting past any real event's depth, NaN, a lone surrogate: CallbackPayloadError (the
    receiver's 4xx), never RecursionError (a 500) — found by tests/reliability."""
    from dingkit._exceptions import CallbackPayloadError
    from dingkit.callback.events import parse_event

    for text in ("[" * 100_000 + "]" * 100_000, '{"EventType": NaN}', '{"a": "\\ud800"}'):
        with pytest.raises(CallbackPayloadError, match="not UTF-8 JSON"):
            parse_event(text)
