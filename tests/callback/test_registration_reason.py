"""Why a callback registration failed, end to end: a receiver refusing a push sealed for
another receiver id says which id to set; the sandbox's 71009 quotes that reason after
DingTalk's own text, the SDK's error carries it, and the sandbox keeps the handshake with its
outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dingkit import BadRequestError, DingTalk
from dingkit.callback.crypto import CallbackCrypto
from dingkit.callback.receiver import CallbackReceiver
from dingkit.sandbox import SandboxServer

from .conftest import AES_KEY, TOKEN, Served


async def _push_for(receiver: CallbackReceiver, receiver_id: str) -> httpx.Response:
    """A check_url push, correctly signed with the receiver's token and key, but sealed for
    ``receiver_id``."""
    envelope = CallbackCrypto(TOKEN, AES_KEY, receiver_id).seal('{"EventType":"check_url"}')
    query = {"signature": envelope.signature, "timestamp": envelope.timestamp}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=receiver), base_url="http://receiver"
    ) as http:
        return await http.post(
            "/", params={**query, "nonce": envelope.nonce}, json={"encrypt": envelope.encrypt}
        )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("configured", "message"),
    [
        (
            {"environ": {"DINGTALK_CORP_ID": "dingwrongcorp"}},
            "receiver id mismatch: API registration needs DINGTALK_CORP_ID=dingrightcorp, a "
            "console subscription DINGTALK_APP_KEY=dingrightcorp (the push is for another "
            "receiver than dingwrongcorp)",
        ),
        (
            {"environ": {"DINGTALK_APP_KEY": "dingapp01", "DINGTALK_CORP_ID": "dingwrongcorp"}},
            "receiver id mismatch: API registration needs DINGTALK_CORP_ID=dingrightcorp, a "
            "console subscription DINGTALK_APP_KEY=dingrightcorp (the push is for another "
            "receiver than dingapp01, dingwrongcorp)",
        ),
        (
            # Given in code (or --receiver-id), the environment is not read: say so.
            {"receiver_id": "dingwrongcorp", "environ": {"DINGTALK_CORP_ID": "dingrightcorp"}},
            "receiver id mismatch: set receiver_id (--receiver-id) to dingrightcorp (the push "
            "is for another receiver than dingwrongcorp)",
        ),
    ],
)
async def test_a_push_for_another_receiver_id_is_refused_saying_what_to_set(
    tmp_path: Path, configured: dict[str, Any], message: str
) -> None:
    receiver = CallbackReceiver(TOKEN, AES_KEY, data_dir=tmp_path, dispatch=False, **configured)

    answer = await _push_for(receiver, "dingrightcorp")

    assert answer.status_code == 400
    assert answer.json() == {"error": "receiver_id", "message": message}
    assert TOKEN not in answer.text
    assert AES_KEY not in answer.text


@pytest.mark.anyio
async def test_a_receiver_id_that_is_not_an_id_is_not_echoed(tmp_path: Path) -> None:
    receiver = CallbackReceiver(TOKEN, AES_KEY, "dingcorp", data_dir=tmp_path, dispatch=False)

    answer = await _push_for(receiver, "<img src=x onerror=alert(1)>\n")

    assert answer.status_code == 400
    message = answer.json()["message"]
    assert message.startswith(
        "receiver id mismatch: the push is for another receiver than dingcorp (§7.1"
    )
    assert "<img" not in message


def _handshakes(sandbox_url: str) -> list[dict[str, object]]:
    checks: list[dict[str, object]] = httpx.get(f"{sandbox_url}/_sandbox/handshakes").json()[
        "handshakes"
    ]
    return checks


def test_registering_against_a_receiver_for_another_corp_id_fails_with_its_reason(
    client: DingTalk, sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    corp_id = sandbox_server.sandbox.config.corp_id
    keys = {"DINGTALK_CALLBACK_TOKEN": TOKEN, "DINGTALK_CALLBACK_AES_KEY": AES_KEY}
    wrong = CallbackReceiver(
        environ={**keys, "DINGTALK_CORP_ID": "dingnotthecorp"}, data_dir=tmp_path, dispatch=False
    )
    served = Served(wrong)
    try:
        with pytest.raises(BadRequestError) as refused:
            client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, ["user_add_org"])
    finally:
        served.stop()

    error = refused.value
    assert error.errcode == 71009
    reason = f"receiver id mismatch: API registration needs DINGTALK_CORP_ID={corp_id}"
    assert error.message.startswith(f"返回文本非success：HTTP 400: {reason}")
    assert reason in str(error)
    assert AES_KEY not in str(error)
    (check,) = _handshakes(sandbox_server.url)
    assert check["outcome"] == "failed"
    assert (check["action"], check["url"], check["http_status"], check["errcode"]) == (
        "register",
        f"{served.url}/",
        400,
        71009,
    )
    assert str(check["reason"]).startswith(f"HTTP 400: {reason}")

    # Set as the reason says, the same registration passes, and that check is kept too.
    fixed = CallbackReceiver(
        environ={**keys, "DINGTALK_CORP_ID": corp_id}, data_dir=tmp_path, dispatch=False
    )
    served = Served(fixed)
    try:
        client.callbacks.register(f"{served.url}/", TOKEN, AES_KEY, ["user_add_org"])
    finally:
        served.stop()
    checks = _handshakes(sandbox_server.url)
    assert [c["outcome"] for c in checks] == ["failed", "ok"]
    assert checks[1]["reason"] is None
    assert AES_KEY not in json.dumps(checks)
    assert TOKEN not in json.dumps(checks)
