from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import dingkit._errcodes as errcodes
from dingkit import (
    APIError,
    BadRequestError,
    CallbackError,
    DingTalkError,
    NotFoundError,
    RateLimitError,
)
from dingkit._errcodes import Api, ErrorCodeInfo, Retry, all_codes, catalogue_message, lookup

# protocol §2.5
ROBOT_CODES = [
    *("0", "310000", "300001", "300005", "400101", "130101", "410100", "660026", "460101"),
    *("101002", "400402", "40035", "43004", "400013", "400102", "400105", "400106"),
    *("430101", "430102", "430103", "430104", "-1"),
]
# protocol §9.1, §1.1, §12.1, and the codes third-party guides list
OAPI_CODES = [
    *("0", "-1", "15", "22", "88", "40001", "40014", "40035", "40089", "40096", "40104"),
    *("41001", "41041", "42001", "43001", "43002", "43004", "43005", "43007", "50002"),
    *("50004", "60003", "60011", "60019", "60020", "60121", "33012", "400002"),
    *(str(code) for code in range(71006, 71014)),
    *(str(code) for code in range(90001, 90015)),
    *("90017", "90018", "90020", "88004"),
    *("40056", "41011", "40008", "40007", "41006", "40031", "40032", "40048", "41028"),
    *("41029", "41044", "41045", "41046", "41047", "41048", "41049"),
]
# protocol §7.2
CALLBACK_CODES = [str(code) for code in range(900001, 900011)]
# protocol §9.2, §1.2
API_CODES = [
    ("InvalidAuthentication", 400),
    ("AuthenticationFailed.MissingParameter", 400),
    ("invalidClientIdOrSecret", 400),
    ("invalidParameter", 400),
    ("paramError", 400),
    ("authFailed", 401),
    ("Forbidden.AccessDenied.AccessTokenPermissionDenied", 403),
    ("Forbidden.AccessDenied.IpNotInWhiteList", 403),
    ("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", 403),
    ("Forbidden.AccessDenied.QpsLimitForApi", 403),
    ("Forbidden.AccessDenied.QpmLimitForAppkeyAndApi", 403),
    ("Forbidden.AccessDenied.QpsLimitForSuitekeyAndOrgAndApi", 403),
    ("Forbidden.AccessDenied.QpmLimitForSuitekeyAndOrgAndApi", 403),
    ("Forbidden.AccessDenied.ApiCountLimitForOrg", 403),
    ("itemNotFound", 404),
    ("instanceNotExist", 404),
    ("system.busy", 429),
    ("systemBusy", 429),
    ("systemError", 500),
    ("unknownError", 500),
    ("HTTP 502", 502),
    ("HTTP 503", 503),
    ("HTTP 504", 504),
]


def entry(code: str | int, api: Api) -> ErrorCodeInfo:
    (info,) = (info for info in lookup(code) if info.api is api)
    return info


@pytest.mark.parametrize("code", ROBOT_CODES)
def test_robot_webhook_codes_resolve(code: str) -> None:
    assert entry(code, Api.ROBOT).code == code


@pytest.mark.parametrize("code", OAPI_CODES)
def test_old_api_codes_resolve(code: str) -> None:
    assert entry(code, Api.OAPI).code == code


@pytest.mark.parametrize("code", CALLBACK_CODES)
def test_callback_crypto_codes_resolve(code: str) -> None:
    assert entry(code, Api.CALLBACK).code == code


@pytest.mark.parametrize(("code", "status"), API_CODES)
def test_new_api_codes_resolve_with_their_http_status(code: str, status: int) -> None:
    assert entry(code, Api.API).http_status == status


def test_40035_means_one_thing_for_robots_and_another_for_the_old_api() -> None:
    assert [info.api for info in lookup(40035)] == [Api.ROBOT, Api.OAPI]


@pytest.mark.parametrize("alias", [310000, "310000", " 310000 ", "310000\n", "+310000"])
def test_ints_and_numeric_strings_find_the_same_entries(alias: str | int) -> None:
    assert lookup(alias) == lookup("310000") != ()


def test_negative_codes_work_as_int_and_string() -> None:
    assert lookup(-1) == lookup(" -1 ") == lookup("-1")
    assert {info.api for info in lookup(-1)} == {Api.ROBOT, Api.OAPI}


@pytest.mark.parametrize(
    "alias", ["invalidauthentication", "INVALIDAUTHENTICATION", " InvalidAuthentication "]
)
def test_new_api_codes_also_match_case_insensitively(alias: str) -> None:
    assert lookup(alias) == lookup("InvalidAuthentication") != ()


def test_http_status_rows_match_case_insensitively() -> None:
    assert lookup("http 503") == lookup("HTTP 503") != ()


def test_no_two_codes_differ_only_by_case() -> None:
    codes = {info.code for info in all_codes()}
    assert len({code.casefold() for code in codes}) == len(codes)


@pytest.mark.parametrize("code", [123456789, "123456789", "noSuchCode", "", "   ", "HTTP 418"])
def test_unknown_codes_give_an_empty_tuple(code: str | int) -> None:
    assert lookup(code) == ()


def test_a_bool_is_not_taken_for_errcode_1() -> None:
    with pytest.raises(TypeError):
        lookup(True)


def test_no_code_appears_twice_in_one_family() -> None:
    pairs = [(info.code, info.api) for info in all_codes()]
    assert len(set(pairs)) == len(pairs)


def test_every_entry_explains_itself() -> None:
    for info in all_codes():
        assert info.meaning.strip(), info
        assert info.action.strip(), info
        assert all(example.strip() for example in info.errmsg_examples), info


def test_only_new_api_entries_carry_an_http_status() -> None:
    for info in all_codes():
        assert (info.http_status is not None) == (info.api is Api.API), info


def test_undocumented_entries_say_why_in_the_note() -> None:
    for info in all_codes():
        if not info.documented:
            assert info.note, info


@pytest.mark.parametrize(
    ("code", "api", "retry"),
    [
        ("0", Api.ROBOT, Retry.NOT_AN_ERROR),
        ("0", Api.OAPI, Retry.NOT_AN_ERROR),
        ("-1", Api.ROBOT, Retry.BACKOFF),
        ("-1", Api.OAPI, Retry.BACKOFF),
        ("15", Api.OAPI, Retry.BACKOFF),
        ("88", Api.OAPI, Retry.BACKOFF),
        ("88004", Api.OAPI, Retry.BACKOFF),
        ("90002", Api.OAPI, Retry.AFTER_1S),
        ("90018", Api.OAPI, Retry.AFTER_1S),
        ("90001", Api.OAPI, Retry.AFTER_BAN),
        ("90020", Api.OAPI, Retry.NO),
        ("40014", Api.OAPI, Retry.REFRESH_TOKEN),
        ("42001", Api.OAPI, Retry.REFRESH_TOKEN),
        ("400002", Api.OAPI, Retry.NO),
        ("40035", Api.OAPI, Retry.NO),
        ("60011", Api.OAPI, Retry.NO),
        ("60020", Api.OAPI, Retry.NO),
        ("60121", Api.OAPI, Retry.NO),
        ("33012", Api.OAPI, Retry.NO),
        ("310000", Api.ROBOT, Retry.NO),
        ("130101", Api.ROBOT, Retry.AFTER_BAN),
        ("410100", Api.ROBOT, Retry.AFTER_BAN),
        ("660026", Api.ROBOT, Retry.AFTER_BAN),
        ("900005", Api.CALLBACK, Retry.NO),
        ("InvalidAuthentication", Api.API, Retry.REFRESH_TOKEN),
        ("invalidParameter", Api.API, Retry.NO),
        ("Forbidden.AccessDenied.AccessTokenPermissionDenied", Api.API, Retry.NO),
        ("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", Api.API, Retry.AFTER_1S),
        ("Forbidden.AccessDenied.QpsLimitForApi", Api.API, Retry.AFTER_1S),
        ("Forbidden.AccessDenied.ApiCountLimitForOrg", Api.API, Retry.NO),
        ("system.busy", Api.API, Retry.BACKOFF),
        ("systemError", Api.API, Retry.BACKOFF),
        ("HTTP 502", Api.API, Retry.BACKOFF),
        ("HTTP 503", Api.API, Retry.BACKOFF),
        ("HTTP 504", Api.API, Retry.BACKOFF),
    ],
)
def test_retry_classes_follow_the_protocol_retry_policy(code: str, api: Api, retry: Retry) -> None:
    assert entry(code, api).retry is retry


def test_88004_is_retryable_but_flagged_as_not_in_dingtalks_own_table() -> None:
    info = entry(88004, Api.OAPI)
    assert info.retry is Retry.BACKOFF
    assert not info.documented
    assert "not in dingtalk's own" in info.note.casefold()


@pytest.mark.parametrize("code", ["130101", "410100", "660026"])
def test_robot_rate_limits_say_blocked_for_10_minutes_and_not_to_hammer(code: str) -> None:
    info = entry(code, Api.ROBOT)
    assert "10 minutes" in info.meaning
    assert "hammer" in info.action


def test_310000_action_names_every_security_check() -> None:
    action = entry(310000, Api.ROBOT).action
    for reason in ("keyword", "signature", "timestamp", "IP"):
        assert re.search(rf"\b{reason}\b", action, flags=re.IGNORECASE if reason.islower() else 0)


@pytest.mark.parametrize("code", ["300001", "300005", "130101", "660026", "460101", "40096"])
def test_codes_only_seen_on_live_servers_are_marked_undocumented(code: str) -> None:
    assert not any(info.documented for info in lookup(code))


def test_entries_are_immutable() -> None:
    info = entry(310000, Api.ROBOT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.retry = Retry.BACKOFF  # type: ignore[misc]


def test_enum_values_are_the_strings_the_cli_prints() -> None:
    assert [retry.value for retry in Retry] == [
        "no",
        "backoff",
        "after-1s",
        "refresh-token",
        "after-ban",
        "not-an-error",
    ]
    assert [api.value for api in Api] == ["robot", "oapi", "api", "callback"]


# -- every code the sandbox answers (issue 9) ---------------------------------------------

SANDBOX_OAPI_CODES = [
    *("22", "40014", "40035", "40096", "41001", "41011", "40056", "40008", "41006", "40032"),
    *("41041", "41052", "43001", "43002", "33012", "40104", "60003", "60121", "400002"),
    *("50002", "50004", "60011", "60020", "90018", "90020", "71006", "71007", "71008"),
    *("71009", "71011", "71012", "900004", "60008", "404"),
]
SANDBOX_API_CODES = [
    *("InvalidAuthentication", "AuthenticationFailed.MissingParameter"),
    *("invalidClientIdOrSecret", "invalidParameter"),
    *("Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",),
    *("Forbidden.AccessDenied.AccessTokenPermissionDenied",),
    *("Forbidden.AccessDenied.IpNotInWhiteList", "Forbidden.AccessDenied.ApiCountLimitForOrg"),
    *("ServiceUnavailable", "InvalidAction.NotFound", "MethodNotAllowed"),
    *("processInstanceNotExist", "processInstanceIdError", "processInstanceInvalidParameter"),
    *("processCodeError", "formConverterError", "invalidAgentId"),
    *("aflowProcessInstStatusException", "taskNotExist", "taskStatusException"),
    *("actionerUserIdNotMatch", "taskRedirectInvalid", "invalidProcessCode"),
    *("invalidInstanceListIdsStartTime", "invalidNextToken", "invalidMaxResults"),
    *("invalidEndTime", "invalidUserIds", "itemNotFound", "instanceNotExist", "flowLimit"),
    *("idempotencyProcessing", "permissionDeny"),
]
SANDBOX_ROBOT_CODES = [
    *("400101", "300005", "400102", "400013", "43004", "310000", "40035", "460101"),
    *("400402", "400105", "410100", "660026"),
]


@pytest.mark.parametrize(
    ("code", "api"),
    [
        *((code, Api.OAPI) for code in SANDBOX_OAPI_CODES),
        *((code, Api.API) for code in SANDBOX_API_CODES),
        *((code, Api.ROBOT) for code in SANDBOX_ROBOT_CODES),
    ],
)
def test_every_code_the_sandbox_answers_is_explained_in_english(code: str, api: Api) -> None:
    info = entry(code, api)
    for text in (info.meaning, info.action):
        assert text.strip(), info
        assert not re.search(r"[\u4e00-\u9fff]", text), info  # English, not Chinese
    assert catalogue_message(code, api).strip()


def test_new_api_rows_carry_the_status_the_sandbox_answers_with() -> None:
    assert entry("ServiceUnavailable", Api.API).http_status == 503
    assert entry("InvalidAction.NotFound", Api.API).http_status == 404
    assert entry("MethodNotAllowed", Api.API).http_status == 405
    assert entry("processInstanceNotExist", Api.API).http_status == 400


def test_department_create_codes_follow_dingtalks_global_table() -> None:
    assert catalogue_message(60008, Api.OAPI) == "父部门下该部门名称已存在"
    assert catalogue_message("60004", "oapi") == "父亲部门不存在"
    assert entry(60008, Api.OAPI).raises is BadRequestError
    assert entry(60004, Api.OAPI).raises is NotFoundError


def test_catalogue_message_is_the_first_example_and_refuses_unknown_codes() -> None:
    assert catalogue_message(404, Api.OAPI) == "请求的URI地址不存在"
    assert catalogue_message("InvalidAuthentication", Api.API) == "不合法的access_token"
    assert catalogue_message(900004, Api.OAPI) == "不合法的aeskey"
    assert catalogue_message(40035, Api.ROBOT) == "缺少参数 json"
    with pytest.raises(KeyError):
        catalogue_message(123456789, Api.OAPI)
    with pytest.raises(KeyError):
        catalogue_message(60008, Api.ROBOT)


def test_every_row_names_the_exception_it_raises() -> None:
    for info in all_codes():
        assert issubclass(info.raises, DingTalkError), info
        if info.api is not Api.CALLBACK:
            assert issubclass(info.raises, APIError), info
        if info.api is Api.CALLBACK:
            assert issubclass(info.raises, CallbackError), info


@pytest.mark.parametrize(
    "code", ["40014", "42001", "40001", "InvalidAuthentication"], ids=lambda code: code
)
def test_token_rejections_are_the_refresh_token_rows(code: str) -> None:
    assert all(info.token_rejected for info in lookup(code))
    rejected = {info.code for info in all_codes() if info.token_rejected}
    assert rejected == {"40001", "40014", "42001", "InvalidAuthentication"}


@pytest.mark.parametrize("code", [*range(90001, 90015), 90017, 90002, 90018])
def test_ban_codes_read_their_end_from_the_message(code: int) -> None:
    info = entry(code, Api.OAPI)
    assert info.ban_end_in_message
    assert info.raises is RateLimitError


def test_family_modules_stay_readable() -> None:
    package = Path(errcodes.__file__).parent
    for module in package.glob("*.py"):
        assert len(module.read_text(encoding="utf-8").splitlines()) <= 420, module.name
