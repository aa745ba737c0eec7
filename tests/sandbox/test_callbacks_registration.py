from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse, PlainTextResponse, Response

from dingkit import ConfigurationError
from dingkit.callback.crypto import new_aes_key
from dingkit.callback.events import CheckUrl, parse_event
from dingkit.sandbox import Sandbox
from dingkit.sandbox.config import DEFAULT_CORP_ID, load_config

pytestmark = pytest.mark.anyio

OpenSandbox = Callable[..., Sandbox]
Connect = Callable[..., Any]
ReceiverFor = Callable[..., Any]
BASE = "/call_back/"


def registration(receiver: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "call_back_tag": ["user_add_org", "bpms_task_change"],
        "token": receiver.token,
        "aes_key": receiver.aes_key,
        "url": receiver.url,
        **overrides,
    }


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/callback"


async def test_register_checks_the_url_then_get_returns_it(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    sandbox = open_sandbox()
    client, receiver = connect(sandbox), receiver_for()
    body = registration(receiver)

    await client.ok(BASE + "register_call_back", body)

    # The URL check came first: exactly {"EventType":"check_url"}, for the corp_id (§7.4).
    assert receiver.events == [{"EventType": "check_url"}]
    assert isinstance(parse_event(receiver.events[0]), CheckUrl)
    assert receiver.crypto.receiver_id == DEFAULT_CORP_ID
    answer = await client.ok(BASE + "get_call_back")
    assert {k: answer[k] for k in body} == body
    # Neither GET nor POST is named for get_call_back: both work.
    token = await client.token()
    response = await client.http.get(BASE + "get_call_back", params={"access_token": token})
    assert response.json()["url"] == receiver.url


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"token": "short"}, 400002),
        ({"token": "x" * 64}, 400002),
        ({"aes_key": "a" * 42}, 900004),
        ({"aes_key": "a" * 42 + "!"}, 900004),
        ({"url": "ftp://example.com/cb"}, 71011),
        ({"url": "not a url"}, 71011),
        ({"call_back_tag": ["user_add_org", "no_such_tag"]}, 71008),
        ({"call_back_tag": []}, 71008),
        ({"call_back_tag": None}, 400002),
    ],
)
async def test_register_refuses_bad_fields_without_calling_the_url(
    open_sandbox: OpenSandbox,
    connect: Connect,
    receiver_for: ReceiverFor,
    overrides: dict[str, Any],
    errcode: int,
) -> None:
    sandbox = open_sandbox()
    client, receiver = connect(sandbox), receiver_for()
    body = {k: v for k, v in registration(receiver, **overrides).items() if v is not None}

    answer = await client.oapi(BASE + "register_call_back", body)

    assert answer["errcode"] == errcode, answer
    assert receiver.events == []
    assert (await client.oapi(BASE + "get_call_back"))["errcode"] == 71007


@pytest.mark.parametrize(
    ("mode", "errcode", "text"),
    [
        ("wrong", 71009, "返回文本非success"),
        ("plain", 71009, "返回文本非success"),
        ("error", 71009, "HTTP 500"),
        ("slow", 71012, "回调地址无法访问"),
    ],
)
async def test_a_receiver_that_does_not_answer_success_is_refused(
    open_sandbox: OpenSandbox,
    connect: Connect,
    receiver_for: ReceiverFor,
    mode: str,
    errcode: int,
    text: str,
) -> None:
    sandbox = open_sandbox(callback_timeout=0.2)
    client, receiver = connect(sandbox), receiver_for()
    receiver.mode, receiver.delay = mode, 0.5

    answer = await client.oapi(BASE + "register_call_back", registration(receiver))

    assert answer["errcode"] == errcode, answer
    assert text in answer["errmsg"]
    assert receiver.types() == [("check_url", None)]
    assert (await client.oapi(BASE + "get_call_back"))["errcode"] == 71007


async def test_an_unreachable_url_is_refused_with_71012(
    open_sandbox: OpenSandbox, connect: Connect
) -> None:
    client = connect(open_sandbox())
    body = {
        "call_back_tag": ["user_add_org"],
        "token": "token123",
        "aes_key": new_aes_key(),
        "url": closed_port_url(),
    }
    answer = await client.oapi(BASE + "register_call_back", body)
    assert answer["errcode"] == 71012, answer


async def test_a_receiver_keyed_for_another_receiver_id_is_refused(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    # An API registration is addressed to the corp_id (§7.1), not to an app key.
    client, receiver = connect(open_sandbox()), receiver_for(receiver_id="dingappkey0001")
    answer = await client.oapi(BASE + "register_call_back", registration(receiver))
    assert answer["errcode"] == 71009


MISMATCH = (
    f"receiver id mismatch: API registration needs DINGTALK_CORP_ID={DEFAULT_CORP_ID}, a "
    f"console subscription DINGTALK_APP_KEY={DEFAULT_CORP_ID} (the push is for another receiver "
    "than dingapp01)"
)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        # dingkit's receiver: {"error": <kind>, "message": <one line>}
        (JSONResponse({"error": "receiver_id", "message": MISMATCH}, 400), MISMATCH),
        (JSONResponse({"detail": "Not allowed"}, 403), "Not allowed"),  # FastAPI
        (JSONResponse({"errcode": 1, "errmsg": "签名错误"}, 400), "签名错误"),
        (PlainTextResponse("\n  first line  \nsecond line", 400), "first line"),
        (PlainTextResponse("", 502), ""),
        (Response(b"\xff\xfe not utf-8", 400), "\ufffd\ufffd not utf-8"),
        # Control and bidi characters cannot reshape the errmsg, nor a terminal showing it.
        (PlainTextResponse("red \x1b[31malert\x07 \u202eevil", 400), "red [31malert evil"),
        # A refusal that says "redirect" is still a refusal, not a redirect (71011).
        (PlainTextResponse("no redirect configured", 404), "no redirect configured"),
    ],
)
async def test_a_refused_check_answers_71009_with_the_receivers_own_reason(
    open_sandbox: OpenSandbox,
    connect: Connect,
    receiver_for: ReceiverFor,
    reply: Response,
    reason: str,
) -> None:
    client, receiver = connect(open_sandbox()), receiver_for()
    receiver.reply = reply

    answer = await client.oapi(BASE + "register_call_back", registration(receiver))

    # DingTalk's own text first, then the receiver's status and its reason [I].
    said = f"HTTP {reply.status_code}: {reason}" if reason else f"HTTP {reply.status_code}"
    assert answer == {"errcode": 71009, "errmsg": f"返回文本非success：{said}"}


async def test_a_long_reason_is_cut_and_the_subscriptions_secrets_are_hidden(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    client, receiver = connect(open_sandbox()), receiver_for()
    receiver.reply = PlainTextResponse(
        f"token {receiver.token} key {receiver.aes_key} " + "x" * 5000, 400
    )

    answer = await client.oapi(BASE + "register_call_back", registration(receiver))

    assert answer["errcode"] == 71009
    reason = answer["errmsg"].removeprefix("返回文本非success：HTTP 400: ")
    assert reason.startswith("token (hidden) key (hidden) xxx")
    assert len(reason) == 200
    assert reason.endswith("…")
    assert receiver.token not in answer["errmsg"]
    assert receiver.aes_key not in answer["errmsg"]


async def test_every_url_check_is_kept_with_its_outcome(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    client = connect(open_sandbox())
    refusing, good = receiver_for(), receiver_for()
    refusing.reply = JSONResponse({"error": "receiver_id", "message": MISMATCH}, 400)
    dead = closed_port_url()

    assert (await client.oapi(BASE + "register_call_back", registration(refusing)))[
        "errcode"
    ] == 71009
    await client.ok(BASE + "register_call_back", registration(good))
    refused = await client.oapi(BASE + "update_call_back", registration(good, url=dead))
    assert refused["errcode"] == 71012

    view = (await client.http.get("/_sandbox/handshakes")).json()

    checks = view["handshakes"]
    assert [
        (c["action"], c["url"], c["outcome"], c["http_status"], c["errcode"]) for c in checks
    ] == [
        ("register", refusing.url, "failed", 400, 71009),
        ("register", good.url, "ok", 200, 0),
        ("update", dead, "failed", None, 71012),
    ]
    assert checks[0]["reason"] == f"HTTP 400: {MISMATCH}"
    assert checks[1]["reason"] is None
    assert checks[2]["reason"].startswith("cannot connect")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", c["at"]) for c in checks)
    assert view["cursor"] == checks[-1]["id"]
    for secret in (refusing.token, refusing.aes_key, good.aes_key):
        assert secret not in str(view)
    # Only what came after a cursor.
    later = (
        await client.http.get("/_sandbox/handshakes", params={"after": checks[0]["id"]})
    ).json()
    assert [c["id"] for c in later["handshakes"]] == [c["id"] for c in checks[1:]]
    last = (await client.http.get("/_sandbox/handshakes", params={"after": view["cursor"]})).json()
    assert last == {"handshakes": [], "cursor": view["cursor"]}


@pytest.mark.parametrize(
    "query",
    [{"after": "x"}, {"after": "9" * 40}, {"after": "1.5"}, {"limit": "-1"}, {"limit": "9" * 40}],
)
async def test_the_handshakes_view_refuses_a_bad_cursor_in_one_line(
    open_sandbox: OpenSandbox, connect: Connect, query: dict[str, str]
) -> None:
    client = connect(open_sandbox())
    response = await client.http.get("/_sandbox/handshakes", params=query)
    assert response.status_code == 400
    assert response.json() == {
        "error": "after and limit must be integers (after: the last cursor seen)"
    }


async def test_register_twice_update_and_delete(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    client = connect(open_sandbox())
    first, second = receiver_for(), receiver_for()
    await client.ok(BASE + "register_call_back", registration(first))

    again = await client.oapi(BASE + "register_call_back", registration(first))
    assert again["errcode"] == 71006

    await client.ok(BASE + "update_call_back", registration(second, call_back_tag=["user_add_org"]))
    assert second.types() == [("check_url", None)]
    answer = await client.ok(BASE + "get_call_back")
    assert (answer["url"], answer["call_back_tag"]) == (second.url, ["user_add_org"])

    await client.ok(BASE + "delete_call_back")
    assert (await client.oapi(BASE + "delete_call_back"))["errcode"] == 71007
    assert (await client.oapi(BASE + "get_call_back"))["errcode"] == 71007
    missing = await client.oapi(BASE + "update_call_back", registration(second))
    assert missing["errcode"] == 71007


async def test_methods(open_sandbox: OpenSandbox, connect: Connect) -> None:
    client = connect(open_sandbox())
    token = await client.token()
    register = await client.http.get(BASE + "register_call_back", params={"access_token": token})
    assert register.json()["errcode"] == 43002  # must be POST (§7.1)
    failed = await client.http.post(
        BASE + "get_call_back_failed_result", params={"access_token": token}
    )
    assert failed.json()["errcode"] == 43001  # must be GET (§7.5)
    no_token = await client.http.get(BASE + "get_call_back_failed_result")
    assert no_token.json()["errcode"] == 41001


async def test_the_subscriptions_view_hides_secrets(
    open_sandbox: OpenSandbox, connect: Connect, receiver_for: ReceiverFor
) -> None:
    sandbox = open_sandbox()
    client, receiver = connect(sandbox), receiver_for()
    await client.ok(BASE + "register_call_back", registration(receiver))

    view = (await client.http.get("/_sandbox/callbacks")).json()

    (subscription,) = view["subscriptions"]
    assert subscription["url"] == receiver.url
    assert subscription["receiver_id"] == DEFAULT_CORP_ID
    assert receiver.token not in str(view)
    assert receiver.aes_key not in str(view)


GOOD_KEY = "a" * 43


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (f'url = "http://x/cb"\ntoken = "tok123"\naes_key = "{GOOD_KEY}"\napp = "nope"', "nope"),
        ('url = "http://x/cb"\ntoken = "tok123"\naes_key = "short"', "callback.0.aes_key"),
        (f'url = "ftp://x"\ntoken = "tok123"\naes_key = "{GOOD_KEY}"', "callback.0.url"),
        (
            f'url = "http://x/cb"\ntoken = "tok123"\naes_key = "{GOOD_KEY}"\ntags = ["nope"]',
            "unknown tags",
        ),
        (
            f'url = "http://x/cb"\ntoken = "tok123"\naes_key = "{GOOD_KEY}"\nstyle = "old"',
            "callback.0.style",
        ),
    ],
)
def test_config_callback_tables_are_checked(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(f"[[callback]]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_config(path)


def test_config_callback_with_an_app_uses_its_key(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.toml"
    path.write_text(
        "callback_retry_delays = [0.05, 0.1]\ncallback_timeout = 0.5\n"
        '[[app]]\nname = "hr"\napp_key = "dinghr0001"\napp_secret = "s"\n'
        f'[[callback]]\nurl = "http://x/cb"\ntoken = "tok123"\naes_key = "{GOOD_KEY}"\n'
        'app = "hr"\ntags = ["bpms_task_change"]\nstyle = "classic"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    sandbox = Sandbox.from_settings(config=config)
    try:
        (subscription,) = sandbox.callbacks.subscriptions()
    finally:
        sandbox.close()
    assert config.callback_retry_delays == (0.05, 0.1)
    assert subscription.receiver_id == "dinghr0001"
    assert subscription.tags == frozenset({"bpms_task_change"})
    assert subscription.style == "classic"
