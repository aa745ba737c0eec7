"""Hostile clients on the Stream WebSocket: what they send is logged once and kept, their
connection stays open (or, past the size limit, is closed alone), and nothing else notices:
no traceback, no 500, the other connections and the HTTP side still serve."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from dingkit.resources.stream import BOT_MESSAGE_TOPIC

from .conftest import APP, OTHER, next_frame, open_stream, request, tracebacks, wait_until

pytestmark = pytest.mark.anyio

GARBAGE: list[str | bytes] = [
    "garbage",
    "",
    "{",
    "[]",
    "null",
    '{"headers": 5}',
    '{"code": 200, "headers": {"messageId": 5}}',
    '{"code": "200", "headers": {"messageId": "no-such-message"}, "data": "{"}',
    '{"code": 200, "headers": {"messageId": "x"}, "data": NaN}',
    '{"headers": {"messageId": "' + "\\ud800" + '"}}',
    "[" * 100_000,
    "9" * 50_000,
    "😀" * 10_000,
    b"\x00\xff binary",
]


async def test_garbage_is_logged_once_and_the_connection_keeps_serving(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve()
    stream = server.sandbox.stream
    with tracebacks() as seen, caplog.at_level(logging.WARNING, "dingkit.sandbox.stream"):
        async with await open_stream(server) as ws:
            [connection] = stream.connections()
            for frame in GARBAGE:
                await ws.send(frame)
            await wait_until(lambda: connection.bad_frames >= len(GARBAGE) - 2, "the frames")
            message_id = stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, {"n": 1})
            assert (await next_frame(ws, "CALLBACK"))["headers"]["messageId"] == message_id
    assert seen == []
    warnings = [r for r in caplog.records if r.name == "dingkit.sandbox.stream"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    kinds = [entry["kind"] for entry in stream.frames(limit=1000)]
    assert kinds.count("bad") + kinds.count("up") == len(GARBAGE)
    assert (await request("GET", server.url + "/_sandbox/stream/frames")).status_code == 200


async def test_a_huge_frame_closes_that_connection_only(serve: Any) -> None:
    server = serve()
    stream = server.sandbox.stream
    with tracebacks() as seen:
        async with await open_stream(server) as big, await open_stream(server, OTHER) as fine:
            await big.send("x" * (2 * 1024 * 1024))
            await wait_until(lambda: big.close_code is not None, "the close")
            assert big.close_code == 1009  # message too big
            stream.push_callback(OTHER.app_key, BOT_MESSAGE_TOPIC, {"n": 1})
            assert (await next_frame(fine, "CALLBACK"))["type"] == "CALLBACK"
        await wait_until(lambda: not stream.connections(), "the sandbox to forget them")
        health = await request("GET", server.url + "/_sandbox/health")
        assert health.json() == {"ok": True}
    assert seen == []


async def test_text_that_is_not_utf8_closes_that_connection_only(serve: Any) -> None:
    server = serve()
    with tracebacks() as seen:
        async with await open_stream(server) as bad, await open_stream(server, OTHER) as fine:
            await bad.send(b"\xff\xfe", text=True)
            await wait_until(lambda: bad.close_code is not None, "the close")
            assert bad.close_code == 1007  # invalid frame payload data
            server.sandbox.stream.push_callback(OTHER.app_key, BOT_MESSAGE_TOPIC, {"n": 1})
            assert (await next_frame(fine, "CALLBACK"))["type"] == "CALLBACK"
    assert seen == []


async def test_a_client_that_vanishes_mid_push_is_forgotten(serve: Any) -> None:
    server = serve()
    stream = server.sandbox.stream
    with tracebacks() as seen:
        ws = await open_stream(server)
        ws.transport.abort()  # no close handshake
        for n in range(20):
            stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, {"n": n})
        await wait_until(lambda: not stream.connections(), "the sandbox to forget it")
        event = stream.push_event(APP.app_key, "user_add_org", {"userId": []})
        assert stream.pending_events() == [event]  # waits for the next connection
    assert seen == []
    json.dumps(stream.frames(limit=1000))  # the record stays JSON
