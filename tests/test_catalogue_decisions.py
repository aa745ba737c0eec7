"""The error catalogue is the single source: class, retry, token refresh and the CLI follow
each row, and a row added once changes all of them together."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import dingkit._errcodes as errcodes
from dingkit import APIError, NotFoundError, RateLimitError, ServerError
from dingkit._auth import is_token_rejection
from dingkit._errcodes import (
    DEFAULT_MAX_WAIT,
    Api,
    ErrorCodeInfo,
    Retry,
    all_codes,
    oapi,
    retry_advice,
)
from dingkit._errors import error_from_response
from dingkit._retry import DEFAULT_RETRY, is_retryable
from dingkit.cli._output import fail
from dingkit.cli.errors_cmd import errors


def answer_for(info: ErrorCodeInfo) -> APIError:
    """What the SDK makes of the answer DingTalk sends with the row's code."""
    message = info.errmsg_examples[0] if info.errmsg_examples else "x"
    if info.code.startswith("HTTP "):
        error = error_from_response(int(info.code.split()[1]), None)
    elif info.api is Api.API:
        assert info.http_status is not None
        body = {"code": info.code, "message": message, "requestid": "r"}
        error = error_from_response(info.http_status, body)
    else:
        robot = "ops" if info.api is Api.ROBOT else None
        body = {"errcode": int(info.code), "errmsg": message}
        error = error_from_response(200, body, robot=robot)
    assert error is not None, info
    return error


def expected_retry(info: ErrorCodeInfo) -> bool:
    """The row's retry advice, read by hand: back off, or sit out a wait DingTalk names when
    it is no longer than the default policy's max_wait (these examples name no ban end)."""
    if info.wait is not None and info.wait > DEFAULT_MAX_WAIT:
        return False
    if info.retry is Retry.AFTER_BAN:
        return info.wait is not None
    return info.retry in (Retry.BACKOFF, Retry.AFTER_1S)


ANSWER_ROWS = [
    info
    for info in all_codes()
    if info.retry is not Retry.NOT_AN_ERROR and info.api is not Api.CALLBACK
]


@pytest.mark.parametrize("info", ANSWER_ROWS, ids=lambda info: f"{info.api}-{info.code}")
def test_the_sdk_raises_the_rows_class_and_takes_its_retry_decision(info: ErrorCodeInfo) -> None:
    error = answer_for(info)
    assert type(error) is info.raises
    assert is_retryable(error) is expected_retry(info)
    assert DEFAULT_RETRY.should_retry(1, error) is expected_retry(info)
    assert is_token_rejection(error) is (info.retry is Retry.REFRESH_TOKEN)
    if isinstance(error, RateLimitError):
        assert error.retry_after == info.wait


def test_88_with_a_sub_code_reads_the_sub_codes_row() -> None:
    body = {"errcode": 88, "sub_code": "42001", "sub_msg": "过期", "errmsg": "x"}
    error = error_from_response(200, body)
    assert error is not None
    assert (error.errcode, error.code) == (88, "42001")
    assert is_token_rejection(error)
    assert not is_retryable(error)
    timeout = error_from_response(200, {"errcode": 88, "sub_code": "", "errmsg": "timeout"})
    assert isinstance(timeout, ServerError)
    assert is_retryable(timeout)


def test_unknown_codes_fall_back_to_their_class() -> None:
    odd = error_from_response(200, {"errcode": 123456789, "errmsg": "?"})
    assert type(odd) is APIError
    assert odd is not None
    assert not is_retryable(odd)
    variant = error_from_response(400, {"code": "invalidParameter.robotCode.empty"})
    assert variant is not None
    assert variant.code == "invalidParameter.robotCode.empty"
    assert type(variant).__name__ == "BadRequestError"
    teapot = error_from_response(418, None, text="short and stout")
    assert type(teapot) is APIError
    assert type(error_from_response(507, None)) is ServerError


# -- a row added once --------------------------------------------------------------------


@pytest.fixture
def extra_rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ErrorCodeInfo]]:
    """Rows appended to the old-API table for one test."""
    rows: list[ErrorCodeInfo] = []
    monkeypatch.setattr(oapi, "ROWS", _Rows(oapi.ROWS, rows))
    errcodes._reload()
    yield rows
    monkeypatch.undo()
    errcodes._reload()


class _Rows(tuple[ErrorCodeInfo, ...]):
    def __new__(cls, base: tuple[ErrorCodeInfo, ...], extra: list[ErrorCodeInfo]) -> Any:
        instance = super().__new__(cls, base)
        instance.extra = extra  # type: ignore[attr-defined]
        return instance

    def __iter__(self) -> Iterator[ErrorCodeInfo]:
        yield from super().__iter__()
        yield from self.extra  # type: ignore[attr-defined]


NEW_ROW = ErrorCodeInfo(
    code="777001",
    api=Api.OAPI,
    meaning="A code invented for this test.",
    retry=Retry.BACKOFF,
    action="Wait for the test to end.",
    raises=ServerError,
    errmsg_examples=("测试用的错误",),
)


def test_a_new_row_changes_class_retry_and_cli_together(
    extra_rows: list[ErrorCodeInfo], capsys: pytest.CaptureFixture[str]
) -> None:
    before = error_from_response(200, {"errcode": 777001, "errmsg": "测试用的错误"})
    assert type(before) is APIError
    assert not is_retryable(before)

    extra_rows.append(NEW_ROW)
    errcodes._reload()
    after = error_from_response(200, {"errcode": 777001, "errmsg": "测试用的错误"})
    assert type(after) is ServerError
    assert is_retryable(after)
    assert errcodes.catalogue_message(777001, Api.OAPI) == "测试用的错误"

    errors("777001", as_json=False)
    shown = capsys.readouterr().out
    assert "A code invented for this test." in shown
    assert retry_advice(NEW_ROW) in shown
    assert "dingkit.ServerError" in shown

    with pytest.raises(SystemExit) as exited:
        fail(after)
    assert exited.value.code == 1
    line = capsys.readouterr().err
    assert line.count("\n") == 1
    assert "测试用的错误 — A code invented for this test. Wait for the test to end." in line


def test_a_new_token_row_makes_the_client_refresh(extra_rows: list[ErrorCodeInfo]) -> None:
    extra_rows.append(
        ErrorCodeInfo(
            code="777002",
            api=Api.OAPI,
            meaning="Another invented code: the token is refused.",
            retry=Retry.REFRESH_TOKEN,
            action="Refresh the token.",
            raises=NotFoundError,
        )
    )
    errcodes._reload()
    error = error_from_response(200, {"errcode": 777002, "errmsg": "x"})
    assert isinstance(error, NotFoundError)
    assert is_token_rejection(error)
    assert not is_retryable(error)


def test_cli_json_names_the_class_and_the_advice(capsys: pytest.CaptureFixture[str]) -> None:
    errors("90005", as_json=True)
    [row] = json.loads(capsys.readouterr().out)
    assert row["raises"] == "RateLimitError"
    assert row["ban_end_in_message"] is True
    assert row["token_rejected"] is False
    assert row["retry_advice"] == retry_advice(errcodes.lookup(90005)[0])
