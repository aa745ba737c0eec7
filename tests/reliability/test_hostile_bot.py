"""Every route of the bots' HTTP app under hostile requests (issue 10's suite, issue 12's
app): forged and stale headers, bodies that are not messages, and correctly signed messages
hostile within; never a 5xx, never a traceback, and the app still answers a good message."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dingkit import NO_RETRY, AsyncDingTalk
from dingkit.bot import Bot
from dingkit.bot.http import BotHTTPApp
from dingkit.bot.signing import sign

from . import figures
from .hostile import RouteUnderTest, bodies, content_types, headers, json_values, objects
from .test_hostile_routes import _SETTINGS, _raw, served, tracebacks

SECRET = "fuzz-bot-secret-0001"


def _bot() -> Bot:
    bot = Bot()

    @bot.fallback()
    async def echo(message: Any, reply: Any) -> None:
        await reply.text(message.text or "(no text)")

    return bot


def _app() -> BotHTTPApp:
    # Replies after the response would go to a closed port: the handler answers in time.
    nowhere = "http://127.0.0.1:9"
    client = AsyncDingTalk(
        "dingfuzz", SECRET, oapi_base=nowhere, api_base=nowhere, retry=NO_RETRY, environ={}
    )
    return BotHTTPApp(_bot(), app_secret=SECRET, client=client, reply_within=10.0)


BOT_ROUTES = [RouteUnderTest(path, (method,)) for path, method in _app().routes.items()]

# Messages signed correctly and hostile within: a good text message with one §8.1 field
# holding anything, or its text anything; and bare objects.
GOOD = {
    "msgtype": "text",
    "text": {"content": " hi"},
    "msgId": "msg-1",
    "conversationType": "2",
    "conversationId": "cid-1",
    "senderStaffId": "u1",
}
FIELDS = [*GOOD, "content", "atUsers", "isInAtList", "sessionWebhook",
          "sessionWebhookExpiredTime", "createAt", "robotCode", "errcode", "errorCode"]  # fmt: skip
messages = st.one_of(
    st.builds(lambda key, value: {**GOOD, key: value}, st.sampled_from(FIELDS), json_values),
    st.text().map(lambda text: {**GOOD, "text": {"content": text}}),
    objects,
)


@pytest.mark.parametrize("route", BOT_ROUTES, ids=lambda route: route.id)
def test_no_hostile_request_breaks_the_bot(route: RouteUnderTest) -> None:
    answers: list[int] = []
    with served(_app()) as client:

        @_SETTINGS
        @given(data=st.data())
        def case(data: st.DataObject) -> None:
            methods = [*route.methods * 6, "GET", "PUT"]  # mostly what the route takes
            method = data.draw(st.sampled_from(methods), label="method")
            sent = data.draw(headers, label="headers")
            sent["content-type"] = data.draw(content_types, label="content-type")
            if data.draw(st.integers(0, 3), label="signed") > 0:
                now = str(int(time.time() * 1000))
                sent |= {"timestamp": now, "sign": sign(now, SECRET)}
                body = json.dumps(data.draw(messages, label="message")).encode()
            else:
                body = data.draw(bodies, label="body")
            response = client.request(method, route.path, content=body, headers=_raw(sent))
            answers.append(response.status_code)
            assert response.status_code < 500, (method, response.text[:500])

        with tracebacks() as seen:
            case()
            assert _good(client, route.path).json()["text"]["content"] == "still here"
        assert seen == [], seen[0]
    figures.record("bot", route.id, answers)


def _good(client: httpx.Client, path: str) -> httpx.Response:
    now = str(int(time.time() * 1000))
    body = {"msgtype": "text", "text": {"content": " still here"}, "msgId": "ok",
            "conversationType": "1", "conversationId": "cid-ok"}  # fmt: skip
    return client.post(path, json=body, headers={"timestamp": now, "sign": sign(now, SECRET)})
