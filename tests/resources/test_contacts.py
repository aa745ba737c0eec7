"""``contacts.users``: the one-pass answer path and its fall-back, against a scripted DingTalk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dingkit import NotFoundError, ServerError
from dingkit.resources import contacts
from dingkit.resources.contacts import User

from .conftest import Call, Driver, FakeDingTalk

USER_LIST = "/topapi/v2/user/list"


def person(n: int, **extra: Any) -> dict[str, Any]:
    return {"userid": f"u{n}", "name": f"Person {n}", "dept_id_list": [1], **extra}


def pages_of(people: list[dict[str, Any]], size: int) -> Any:
    def answer(call: Call) -> dict[str, Any]:
        cursor = int(call.json["cursor"])
        chunk = people[cursor : cursor + size]
        more = cursor + size < len(people)
        result: dict[str, Any] = {"has_more": more, "list": chunk}
        if more:
            result["next_cursor"] = cursor + size
        return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": "r1"}

    return answer


def test_users_are_typed_with_every_documented_field_and_keep_unknown_ones(
    dingtalk: Driver, fake: FakeDingTalk
) -> None:
    documented = {
        "unionid": "un1",
        "avatar": "https://a/1.png",
        "state_code": "86",
        "mobile": "13800000001",
        "hide_mobile": False,
        "telephone": "0571-1",
        "job_number": "007",
        "title": "Engineer",
        "email": "p@example.com",
        "org_email": "p@corp.example.com",
        "work_place": "Hangzhou",
        "remark": "",
        "dept_order": 3,
        "extension": '{"desk":"6F"}',
        "hired_date": 1325347200000,
        "active": True,
        "admin": False,
        "boss": False,
        "leader": True,
        "exclusive_account": False,
    }
    fake.route("POST", USER_LIST, pages_of([person(1, **documented, new_field="x")], 100))
    (user,) = dingtalk.run(lambda c: c.contacts.users(1))
    assert isinstance(user, User)
    assert user.model_dump(include=set(documented)) == documented
    assert user.model_extra == {"new_field": "x"}


def test_numbers_as_strings_and_a_null_list_are_read_as_dingtalk_means_them(
    dingtalk: Driver, fake: FakeDingTalk
) -> None:
    answers: Iterator[dict[str, Any]] = iter(
        [
            {"errcode": 0, "result": {"has_more": True, "next_cursor": "2", "list": [person(1)]}},
            {"errcode": "0", "result": {"has_more": False, "list": None}},
        ]
    )
    fake.route("POST", USER_LIST, lambda _call: next(answers))
    users = dingtalk.run(lambda c: c.contacts.users(1))
    assert [u.userid for u in users] == ["u1"]
    assert [body["cursor"] for body in fake.bodies(USER_LIST)] == [0, 2]


def test_an_error_answer_is_the_mapped_error_not_a_parse_failure(
    dingtalk: Driver, fake: FakeDingTalk
) -> None:
    fake.route("POST", USER_LIST, {"errcode": 60003, "errmsg": "部门不存在", "request_id": "r9"})
    with pytest.raises(NotFoundError) as caught:
        dingtalk.run(lambda c: c.contacts.users(404))
    assert (caught.value.errcode, caught.value.request_id) == (60003, "r9")


@pytest.mark.parametrize(
    "result",
    [
        pytest.param({"has_more": False, "list": [{"name": "no userid"}]}, id="user without id"),
        pytest.param({"has_more": False, "list": "not a list"}, id="list is a string"),
        pytest.param(["not", "an", "object"], id="result is a list"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_server_error(
    dingtalk: Driver, fake: FakeDingTalk, result: Any
) -> None:
    fake.route("POST", USER_LIST, {"errcode": 0, "result": result})
    with pytest.raises(ServerError, match=f"unexpected answer shape from {USER_LIST}"):
        dingtalk.run(lambda c: c.contacts.users(1))


def test_the_async_pager_has_the_next_page_on_its_way_while_this_one_is_read(
    make_driver: Any, fake: FakeDingTalk
) -> None:
    people = [person(n) for n in range(25)]
    fake.route("POST", USER_LIST, pages_of(people, 10))
    driver: Driver = make_driver("async")
    pages = driver.pages(lambda c: c.contacts.users(1, page_size=10))
    assert [len(page.items) for page in pages] == [10, 10, 5]
    assert [u.userid for page in pages for u in page.items] == [p["userid"] for p in people]
    assert [body["cursor"] for body in fake.bodies(USER_LIST)] == [0, 10, 20]


def test_a_successful_page_is_read_in_one_pass_with_its_users_built_later() -> None:
    answer = (
        b'{"errcode":0,"result":{"has_more":true,"next_cursor":100,'
        b'"list":[{"userid":"u1","name":"A"}]}}'
    )
    request = next(contacts.users(1))
    assert request.parse_json is not None
    page = request.parse_json(answer)
    assert (page.has_more, page.cursor) == (True, 100)
    assert "deferred" in repr(page)
    assert [u.userid for u in page.items] == ["u1"]
    with pytest.raises(ValueError, match="errcode"):
        request.parse_json(b'{"errcode":60003,"errmsg":"no such department"}')
