"""A success answer without the fields the reference guarantees is an error naming the
endpoint and the field, not "no data" (issue 10, defect 9)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dingkit import ServerError

from .conftest import Driver, FakeDingTalk

OK = {"errcode": 0, "errmsg": "ok"}
MAY_1, MAY_7 = dt.date(2024, 5, 1), dt.date(2024, 5, 7)


@pytest.mark.parametrize(
    "answer",
    [{**OK}, {**OK, "recordresult": None}, {**OK, "recordresult": {"a": 1}}],
    ids=["missing", "null", "not a list"],
)
def test_attendance_results_without_recordresult(
    fake: FakeDingTalk, dingtalk: Driver, answer: dict[str, Any]
) -> None:
    fake.route("POST", "/attendance/list", answer)
    with pytest.raises(ServerError, match="recordresult"):
        dingtalk.run(lambda c: c.attendance.results(["u1"], MAY_1, MAY_7))


def test_attendance_records_without_recordresult(fake: FakeDingTalk, dingtalk: Driver) -> None:
    fake.route("POST", "/attendance/listRecord", {**OK})
    with pytest.raises(ServerError, match="recordresult"):
        dingtalk.run(lambda c: c.attendance.records(["u1"], MAY_1, MAY_7))


@pytest.mark.parametrize("result", [{}, {"title": "x"}], ids=["empty result", "no status"])
def test_an_approval_without_its_status(
    fake: FakeDingTalk, dingtalk: Driver, result: dict[str, Any]
) -> None:
    fake.route("GET", "/v1.0/workflow/processInstances", {"result": result, "success": "true"})
    with pytest.raises(ServerError, match="status"):
        dingtalk.run(lambda c: c.approval.get("inst-1"))


@pytest.mark.parametrize("result", [{}, {"has_more": False}], ids=["empty", "no list"])
def test_a_user_page_without_its_list(
    fake: FakeDingTalk, dingtalk: Driver, result: dict[str, Any]
) -> None:
    fake.route("POST", "/topapi/v2/user/list", {**OK, "result": result})
    with pytest.raises(ServerError, match="list"):
        dingtalk.run(lambda c: c.contacts.users(1))
