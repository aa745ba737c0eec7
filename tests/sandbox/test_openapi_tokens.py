from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from dingkit import ConfigurationError
from dingkit._request import Endpoint
from dingkit.sandbox import Sandbox, create_app
from dingkit.sandbox.config import FAILURE_PREFIXES, AppConfig, SandboxConfig, load_config
from dingkit.sandbox.gateway.answers import ApiError
from dingkit.sandbox.gateway.pipeline import Call, Gateway
from dingkit.sandbox.server import describe_apps
from dingkit.sandbox.tokens.issuer import FailureMode, failure_mode

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
USERS = "/topapi/user/listid"  # §5.7, no v2
ATTENDANCE = "/attendance/listRecord"
ECHO = "/v1.0/test/echo"


def with_echo(sandbox: Sandbox) -> Starlette:
    """The sandbox's app plus a new-family endpoint built on its gateway, the way the approval
    and calendar endpoints are meant to be."""

    def echo(call: Call) -> dict[str, Any]:
        if isinstance(call.body, dict) and call.body.get("missing"):
            raise ApiError(404, "itemNotFound", "没有这个")
        return {"app": call.app.name, "body": call.body}

    app = create_app(sandbox)
    declared = Endpoint("POST", ECHO, methods=("GET", "POST"))
    app.router.routes[:0] = Gateway(sandbox).routes([(declared, echo)])
    return app


async def echo(client: Any, token: str | None, **kwargs: Any) -> Any:
    headers = {"x-acs-dingtalk-access-token": token} if token is not None else {}
    return await client.http.post(ECHO, headers=headers, **kwargs)


def assert_new_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"requestid", "code", "message"}
    assert body["code"] == code
    assert response.headers["x-acs-request-id"] == body["requestid"]


# -- the two token endpoints -------------------------------------------------------------


async def test_both_endpoints_hand_out_the_same_token(
    open_sandbox: OpenSandbox, connect: Connect, test_app: AppConfig
) -> None:
    client = connect(open_sandbox(token_ttl=3600))
    old = await client.http.get(
        "/gettoken", params={"appkey": test_app.app_key, "appsecret": test_app.app_secret}
    )
    body = old.json()
    assert (old.status_code, list(body)) == (
        200,
        ["errcode", "errmsg", "access_token", "expires_in"],
    )
    assert (body["errcode"], body["errmsg"], body["expires_in"]) == (0, "ok", 3600)
    assert len(body["access_token"]) == 32
    new = await client.http.post(
        "/v1.0/oauth2/accessToken",
        json={"appKey": test_app.app_key, "appSecret": test_app.app_secret},
    )
    assert new.status_code == 200
    assert new.json() == {"accessToken": body["access_token"], "expireIn": 3600}
    # The same token works in both families (§1.2).
    token = body["access_token"]
    await client.ok(USERS, {"dept_id": 1}, token=token)
    assert (
        await echo(connect(client.sandbox, with_echo(client.sandbox)), token)
    ).status_code == 200


@pytest.mark.parametrize(
    ("params", "errcode", "errmsg"),
    [
        ({}, 40035, "缺少参数 corpid or appkey"),
        ({"appsecret": "x"}, 40035, "缺少参数 corpid or appkey"),
        ({"appkey": "dingtests0001"}, 40035, "缺少参数 appsecret"),
        ({"appkey": "dingtests0001", "appsecret": "wrong"}, 40096, "不合法的appKey或appSecret"),
        ({"appkey": "nosuchapp", "appsecret": "x"}, 40096, "不合法的appKey或appSecret"),
    ],
)
async def test_gettoken_errors(
    open_sandbox: OpenSandbox,
    connect: Connect,
    params: dict[str, str],
    errcode: int,
    errmsg: str,
) -> None:
    response = await connect(open_sandbox()).http.get("/gettoken", params=params)
    assert response.status_code == 200
    assert response.json() == {"errcode": errcode, "errmsg": errmsg}


async def test_gettoken_wants_get_and_the_query_string(
    open_sandbox: OpenSandbox, connect: Connect, test_app: AppConfig
) -> None:
    client = connect(open_sandbox())
    form = {"appkey": test_app.app_key, "appsecret": test_app.app_secret}
    # The official curl sample's mistake: a form body on a GET (§1.1).
    answer = (await client.http.request("GET", "/gettoken", data=form)).json()
    assert answer["errcode"] == 40035
    answer = (await client.http.post("/gettoken", params=form)).json()
    assert answer["errcode"] == 43001


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"appKey": "dingtests0001", "appSecret": "wrong"}, "invalidClientIdOrSecret"),
        ({"appKey": "nosuchapp", "appSecret": "x"}, "invalidClientIdOrSecret"),
        ({"appKey": "dingtests0001"}, "invalidParameter"),
        ({"appSecret": "x"}, "invalidParameter"),
        ({"appKey": 5, "appSecret": "x"}, "invalidParameter"),
        (["dingtests0001"], "invalidParameter"),
        (b"{not json", "invalidParameter"),
        (b"", "invalidParameter"),
    ],
)
async def test_new_token_endpoint_errors(
    open_sandbox: OpenSandbox, connect: Connect, payload: Any, code: str
) -> None:
    client = connect(open_sandbox())
    if isinstance(payload, bytes):
        response = await client.http.post("/v1.0/oauth2/accessToken", content=payload)
    else:
        response = await client.http.post("/v1.0/oauth2/accessToken", json=payload)
    assert_new_error(response, 400, code)
    if code == "invalidClientIdOrSecret":
        assert response.json()["message"] == "无效的clientId或者clientSecret"


# -- life of a token -----------------------------------------------------------------------


async def test_asking_again_returns_the_same_token_and_extends_its_life(
    open_sandbox: OpenSandbox, connect: Connect, fake_clock: Any
) -> None:
    client = connect(open_sandbox(token_ttl=100))
    first = await client.token()
    fake_clock.advance(60)
    assert await client.token() == first  # now valid until t=160
    fake_clock.advance(60)  # t=120: past the first expiry, inside the extended one
    await client.ok(USERS, {"dept_id": 1}, token=first)
    fake_clock.advance(40)  # t=160: expired
    answer = await client.oapi(USERS, {"dept_id": 1}, token=first)
    assert (answer["errcode"], answer["sub_code"]) == (88, "40014")
    second = await client.token()
    assert second != first
    await client.ok(USERS, {"dept_id": 1}, token=second)
    assert client.sandbox.tokens.summary()["issued"] == {"tests": 2}


async def test_expired_and_unknown_tokens_get_each_familys_answer(
    open_sandbox: OpenSandbox, connect: Connect, fake_clock: Any
) -> None:
    sandbox = open_sandbox(token_ttl=10)
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token()
    fake_clock.advance(10)
    for bad in (token, "not-a-token"):
        # Expired tokens are reported as 40014, like unknown ones [I, §9.1].
        answer = await client.oapi(USERS, {"dept_id": 1}, token=bad)
        assert len(answer.pop("request_id")) == 12
        assert answer == {
            "errcode": 88,
            "sub_code": "40014",
            "sub_msg": "不合法的access_token",
            "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]",
        }
        assert await client.oapi(ATTENDANCE, {}, token=bad) == {
            "errcode": 40014,
            "errmsg": "不合法的access_token",
        }
        response = await echo(client, bad)
        assert_new_error(response, 400, "InvalidAuthentication")
        assert response.json()["message"] == "不合法的access_token"


async def test_missing_tokens(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox, with_echo(sandbox))
    answer = await client.oapi(USERS, {"dept_id": 1}, token="")
    assert (answer["errcode"], answer["sub_code"], answer["sub_msg"]) == (
        88,
        "40000",
        "access_token is blank",
    )
    assert (await client.oapi(ATTENDANCE, {}, token=""))["errcode"] == 41001
    token = await client.token()
    # Only the header counts on the new family, not ?access_token= nor a Bearer header (§0.3).
    for kwargs in ({}, {"params": {"access_token": token}}):
        assert_new_error(
            await echo(client, None, **kwargs), 400, "AuthenticationFailed.MissingParameter"
        )
    response = await client.http.post(ECHO, headers={"Authorization": f"Bearer {token}"})
    assert_new_error(response, 400, "AuthenticationFailed.MissingParameter")


async def test_expire_all_tokens_through_the_sandbox_endpoint(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox())
    token = await client.token()
    assert (await client.http.post("/_sandbox/tokens/expire", json={})).json() == {"expired": 1}
    assert (await client.oapi(USERS, {"dept_id": 1}, token=token))["sub_code"] == "40014"
    assert await client.token() != token


async def test_token_requests_are_counted_per_app(
    open_sandbox: OpenSandbox, connect: Connect, test_app: AppConfig
) -> None:
    client = connect(open_sandbox())
    for _ in range(2):
        await client.token()
    await client.http.post(
        "/v1.0/oauth2/accessToken",
        json={"appKey": test_app.app_key, "appSecret": test_app.app_secret},
    )
    await client.http.get("/gettoken", params={"appkey": test_app.app_key, "appsecret": "no"})
    await client.http.get("/gettoken", params={"appkey": "nosuchapp", "appsecret": "no"})
    await client.ok(USERS, {"dept_id": 1}, token=await client.token())
    summary = (await client.http.get("/_sandbox/tokens")).json()
    assert summary["requests"] == {"tests": 5}
    assert summary["issued"] == {"tests": 1}
    assert (summary["unknown_app_requests"], summary["total"]) == (1, 6)
    reset = (await client.http.delete("/_sandbox/tokens")).json()
    assert (reset["requests"], reset["total"]) == ({}, 0)


# -- per-app per-API QPS ---------------------------------------------------------------


async def test_the_21st_call_in_a_second_is_refused_and_the_next_second_passes(
    open_sandbox: OpenSandbox, connect: Connect, fake_clock: Any
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token()
    for _ in range(20):
        await client.ok(USERS, {"dept_id": 1}, token=token)
    refused = await client.oapi(USERS, {"dept_id": 1}, token=token)
    assert refused["errcode"] == 90018
    assert refused["errmsg"].startswith(
        "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了, apiPath(/topapi/user/listid)"
    )
    assert "请求总次数超过了 20 次" in refused["errmsg"]
    assert refused["request_id"]
    # Another API of the same app has its own window.
    await client.ok("/topapi/v2/department/listsubid", {"dept_id": 1}, token=token)
    for _ in range(20):
        assert (await echo(client, token)).status_code == 200
    response = await echo(client, token)
    assert_new_error(response, 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")
    assert (
        response.json()["message"] == "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
    )
    fake_clock.advance(1.0)
    await client.ok(USERS, {"dept_id": 1}, token=token)
    assert (await echo(client, token)).status_code == 200


async def test_token_endpoints_have_no_qps_limit(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox(qps=1))
    tokens = {await client.token() for _ in range(5)}
    assert len(tokens) == 1


@pytest.mark.parametrize("settings", [{"qps": 0}, {"limits": False}, {"qps": 50}])
async def test_the_qps_limit_can_be_raised_or_switched_off(
    open_sandbox: OpenSandbox, connect: Connect, settings: dict[str, Any]
) -> None:
    client = connect(open_sandbox(**settings))
    token = await client.token()
    for _ in range(50):
        await client.ok(USERS, {"dept_id": 1}, token=token)


# -- failure modes chosen by app key -------------------------------------------------------


def failing_app(prefix: str) -> AppConfig:
    return AppConfig(name=f"{prefix}app", app_key=f"{prefix}dingkey", app_secret="secret-1")


async def test_throttled_app(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    app = sandbox.add_app(failing_app("throttled-"))
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token(app)  # token endpoints are exempt
    assert (await client.oapi(USERS, {"dept_id": 1}, token=token))["errcode"] == 90018
    assert (await client.oapi(ATTENDANCE, {}, token=token))["errcode"] == 90018
    assert_new_error(
        await echo(client, token), 403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    )


async def test_busy_app(open_sandbox: OpenSandbox, connect: Connect) -> None:
    sandbox = open_sandbox()
    app = sandbox.add_app(failing_app("busy-"))
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token(app)
    for _ in range(3):
        answer = await client.oapi(USERS, {"dept_id": 1}, token=token)
        assert (answer["errcode"], answer["errmsg"]) == (-1, "系统繁忙")
        assert_new_error(await echo(client, token), 503, "ServiceUnavailable")
    assert await client.oapi(ATTENDANCE, {}, token=token) == {"errcode": -1, "errmsg": "系统繁忙"}


async def test_flaky_app_fails_every_other_call(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    app = sandbox.add_app(failing_app("flaky-"))
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token(app)
    codes = [(await client.oapi(USERS, {"dept_id": 1}, token=token))["errcode"] for _ in range(4)]
    assert codes == [-1, 0, -1, 0]
    statuses = [(await echo(client, token)).status_code for _ in range(4)]
    assert statuses == [503, 200, 503, 200]


async def test_slow_app_answers_after_the_delay(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox(slow_delay=0.2)
    app = sandbox.add_app(failing_app("slow-"))
    client = connect(sandbox)
    started = time.monotonic()
    token = await client.token(app)
    assert time.monotonic() - started < 0.2  # not the token endpoint
    started = time.monotonic()
    await client.ok(USERS, {"dept_id": 1}, token=token)
    assert time.monotonic() - started >= 0.2


async def test_expired_app_tokens_work_once_then_need_a_refresh(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    app = sandbox.add_app(failing_app("expired-"))
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token(app)
    assert await client.token(app) == token  # unused: still the same
    await client.ok(USERS, {"dept_id": 1}, token=token)
    assert (await client.oapi(USERS, {"dept_id": 1}, token=token))["sub_code"] == "40014"
    fresh = await client.token(app)
    assert fresh != token
    assert (await echo(client, fresh)).status_code == 200
    assert_new_error(await echo(client, fresh), 400, "InvalidAuthentication")
    assert sandbox.tokens.summary()["issued"] == {"expired-app": 2}


def test_failure_modes_come_from_the_key_prefix() -> None:
    assert [failure_mode(p + "x") for p in FAILURE_PREFIXES] == list(FailureMode)
    assert failure_mode("dingabc") is None
    assert failure_mode("unknown-prefix") is None
    assert failure_mode("throttled") is None


# -- apps in the config, the demo and the banner -----------------------------------------


def test_without_apps_the_demo_app_and_its_failure_twins_are_created_and_kept(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    first = make_sandbox(data_dir=tmp_path)
    apps = {app.name: app for app in first.apps.all()}
    demo = apps["demo"]
    assert demo.app_key.startswith("ding")
    assert {name: failure_mode(app.app_key) for name, app in apps.items()} == {
        "demo": None,
        **{f"demo-{mode.value}": mode for mode in FailureMode},
    }
    assert {app.app_secret for app in apps.values()} == {demo.app_secret}
    first.store.close()
    second = make_sandbox(data_dir=tmp_path)
    assert {app.name: app for app in second.apps.all()} == apps


def test_apps_from_the_config_replace_the_demo(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(
        'corp_id = "dingcorp42"\norg_size = 40\nseed = 7\ntoken_ttl = 60\nqps = 5\n\n'
        '[[app]]\nname = "hr"\napp_key = "dinghr"\napp_secret = "hr-secret"\nagent_id = 42\n\n'
        '[[app]]\nname = "hr-slow"\napp_key = "slow-dinghr"\napp_secret = "hr-secret"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    assert (config.corp_id, config.org_size, config.seed, config.token_ttl, config.qps) == (
        "dingcorp42",
        40,
        7,
        60,
        5,
    )
    sandbox = make_sandbox(config=config)
    apps = {app.name: app for app in sandbox.apps.all()}
    assert set(apps) == {"hr", "hr-slow"}
    assert apps["hr"].agent_id == 42
    assert 100_000_000 <= apps["hr-slow"].agent_id < 1_000_000_000  # derived, stable
    again = AppConfig(name="other", app_key="slow-dinghr", app_secret="x")
    assert apps["hr-slow"].agent_id == again.agent_id
    assert sandbox.org.corp_id == "dingcorp42"


@pytest.mark.parametrize(
    "tables",
    [
        '[[app]]\nname = "a"\napp_key = "k"\napp_secret = "s"\n'
        '[[app]]\nname = "b"\napp_key = "k"\napp_secret = "s"\n',
        '[[app]]\nname = "a"\napp_key = "k 1"\napp_secret = "s"\n',
        '[[app]]\nname = "a"\napp_key = "k"\n',
        "org_size = 0\n",
        "qps = -1\n",
    ],
)
def test_bad_app_configs_are_refused(tmp_path: Path, tables: str) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(tables, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"sandbox\.toml"):
        load_config(path)


def test_settings_flags_override_the_config() -> None:
    sandbox = Sandbox.from_settings(
        config=SandboxConfig(org_size=99, seed=1), org_size=12, org_depth=0, seed=3
    )
    try:
        settings = (sandbox.config.org_size, sandbox.config.org_depth, sandbox.config.seed)
        assert settings == (12, 0, 3)
        assert (len(sandbox.org.users), len(sandbox.org.departments)) == (12, 1)
    finally:
        sandbox.close()


def test_the_banner_gives_each_apps_credentials() -> None:
    demo = AppConfig(name="demo", app_key="dingdemo", app_secret="demo-secret", agent_id=7)
    lines = describe_apps(
        [
            demo,
            AppConfig(name="demo-busy", app_key="busy-dingdemo", app_secret="demo-secret"),
            AppConfig(name="own", app_key="slow-own", app_secret="own-secret", agent_id=8),
        ]
    )
    assert lines == [
        "app 'demo' (agent_id 7)",
        "  app_key:    dingdemo",
        "  app_secret: demo-secret",
        "  scopes:     every permission",
        "app 'demo-busy' (busy): app_key busy-dingdemo, same secret",
        "app 'own' (slow) (agent_id 8)",
        "  app_key:    slow-own",
        "  app_secret: own-secret",
    ]


# -- unknown paths and methods, before any token check (§0.3) ----------------------------


async def test_unknown_topapi_path_is_errcode_22_even_without_a_token(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox())
    for token in ("", "bad"):
        answer = await client.oapi("/topapi/v2/user/notexist", {}, token=token)
        assert answer["errcode"] == 22
        assert answer["sub_msg"] == "不合法ApiName，ApiName = dingtalk.oapi.v2.user.notexist"
        assert answer["errmsg"] == f"Invalid method[submsg={answer['sub_msg']}]"
        assert answer["request_id"]


async def test_unknown_new_api_path_and_wrong_old_method(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox())
    assert_new_error(await client.http.get("/v1.0/nothing/here"), 404, "InvalidAction.NotFound")
    answer = (await client.http.get(USERS, params={"access_token": await client.token()})).json()
    assert answer["errcode"] == 43002
    unknown = await client.http.get("/no/such/page")
    assert (unknown.status_code, unknown.json()["errcode"]) == (200, 404)
    assert_new_error(await client.http.get("/v1.0/oauth2/accessToken"), 405, "MethodNotAllowed")


async def test_new_family_errors_raised_by_an_endpoint(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    sandbox = open_sandbox()
    client = connect(sandbox, with_echo(sandbox))
    token = await client.token()
    assert_new_error(await echo(client, token, json={"missing": True}), 404, "itemNotFound")
    assert_new_error(await echo(client, token, content=b"{bad"), 400, "invalidParameter")
    ok = await echo(client, token, json={"x": 1})
    assert ok.json() == {"app": "tests", "body": {"x": 1}}
    assert ok.headers["x-acs-request-id"]
