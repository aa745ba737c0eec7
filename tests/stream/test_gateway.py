"""Stream mode (§8.2) against the sandbox with a raw WebSocket client: tickets, frames, ACKs,
pings, disconnects, re-pushes and how pushes are shared."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dingkit.resources.stream import BOT_MESSAGE_TOPIC
from dingkit.sandbox import SandboxServer

from .conftest import (
    APP,
    DEADLINE,
    OTHER,
    ack,
    next_frame,
    open_stream,
    open_ticket,
    request,
    stream_config,
    ticket_url,
    wait_until,
)

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}


def test_a_ticket_names_this_sandbox_websocket(serve: Any) -> None:
    server = serve()
    answer = open_ticket(server)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["endpoint"] == f"ws://127.0.0.1:{server.port}/connect"
    assert str(uuid.UUID(body["ticket"])) == body["ticket"]


async def test_wrong_credentials_are_401_auth_failed(serve: Any) -> None:
    server = serve()
    for key, secret in [
        (APP.app_key, "wrong"),
        ("dingnobody", APP.app_secret),
        (APP.app_key, OTHER.app_secret),
    ]:
        answer = await request(
            "POST",
            server.url + "/v1.0/gateway/connections/open",
            json={"clientId": key, "clientSecret": secret, "subscriptions": []},
        )
        assert answer.status_code == 401
        body = answer.json()
        assert (body["code"], body["message"]) == ("authFailed", "鉴权失败")
        assert body["requestid"]


BAD_SUBSCRIPTIONS = [
    [{"type": "EVENT", "topic": "user_add_org"}],  # events: only "*" (§8.2)
    [{"type": "CALLBACK", "topic": "/v1.0/no/such/topic"}],
    [{"type": "PUSH", "topic": "*"}],
    [{"type": "EVENT"}],
    ["EVENT"],
    {"type": "EVENT", "topic": "*"},
    None,
]


async def test_bad_subscriptions_and_fields_are_400(serve: Any) -> None:
    server = serve()
    url = server.url + "/v1.0/gateway/connections/open"
    bodies: list[Any] = [
        {"clientId": APP.app_key, "clientSecret": APP.app_secret, "subscriptions": value}
        for value in BAD_SUBSCRIPTIONS
    ]
    bodies += [{"clientSecret": APP.app_secret, "subscriptions": []}, [], "x", 1]
    for body in bodies:
        answer = await request("POST", url, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["code"] == "invalidParameter"
    for raw in (b"{", b"\xff", b'{"clientId": NaN}', b"[" * 5000):
        answer = await request("POST", url, content=raw, headers=JSON)
        assert answer.status_code == 400, (raw, answer.text)


def test_system_subscriptions_and_extras_are_accepted(serve: Any) -> None:
    # What the Go SDK sends (§8.2, GOSTREAM:payload/connection.go).
    subscriptions = [
        {"type": "SYSTEM", "topic": "ping"},
        {"type": "SYSTEM", "topic": "disconnect"},
        {"type": "CALLBACK", "topic": "/v1.0/card/instances/callback"},
    ]
    answer = open_ticket(serve(), subscriptions=subscriptions, extras={"k": "v"})
    assert answer.status_code == 200, answer.text


async def test_a_ticket_opens_one_connection_only(serve: Any) -> None:
    server = serve()
    url = await ticket_url(server)
    async with connect(url, open_timeout=DEADLINE):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, open_timeout=DEADLINE)
    assert refused.value.response.status_code == 403


async def test_no_ticket_no_connection(serve: Any) -> None:
    server = serve()
    for query in ["", "?ticket=", "?ticket=not-a-ticket", "?ticket=%FF%00"]:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{server.port}/connect{query}", open_timeout=DEADLINE)
        assert refused.value.response.status_code == 403


async def test_a_ticket_is_valid_for_90_seconds(serve: Any, fake_clock: Any) -> None:
    server = serve(clock=fake_clock)
    in_time, too_late = await ticket_url(server), await ticket_url(server)
    fake_clock.advance(89.9)
    async with connect(in_time, open_timeout=DEADLINE):
        pass
    fake_clock.advance(0.1)
    with pytest.raises(InvalidStatus):
        await connect(too_late, open_timeout=DEADLINE)


async def test_a_robot_message_is_a_callback_frame_of_strings(serve: Any) -> None:
    server = serve()
    message = {"msgtype": "text", "text": {"content": " hi"}, "conversationType": "1"}
    async with await open_stream(server) as ws:
        message_id = server.sandbox.stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, message)
        frame = await next_frame(ws, "CALLBACK")
    assert frame["specVersion"] == "1.0"
    headers = frame["headers"]
    assert (headers["topic"], headers["messageId"]) == (BOT_MESSAGE_TOPIC, message_id)
    assert headers["contentType"] == "application/json"
    assert all(isinstance(value, str) for value in headers.values())
    assert int(headers["time"]) > 0
    assert json.loads(frame["data"]) == message


async def test_an_event_frame_carries_the_event_headers(serve: Any) -> None:
    server = serve()
    async with await open_stream(server) as ws:
        server.sandbox.stream.push_event(
            APP.app_key, "user_add_org", {"userId": ["u1"]}, event_id="ev1", born_ms=1234
        )
        frame = await next_frame(ws, "EVENT")
        await ack(ws, frame, {"status": "SUCCESS", "message": "ok"})
    headers = frame["headers"]
    assert headers["eventType"] == "user_add_org"
    assert headers["eventId"] == "ev1"
    assert headers["eventCorpId"] == server.sandbox.config.corp_id
    assert headers["eventBornTime"] == "1234"
    assert headers["eventUnifiedAppId"] == APP.app_key
    assert json.loads(frame["data"]) == {"userId": ["u1"]}


async def test_an_event_is_pushed_again_until_success(serve: Any) -> None:
    server = serve()
    stream = server.sandbox.stream
    async with await open_stream(server) as ws:
        message_id = stream.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]})
        first = await next_frame(ws, "EVENT")  # not acked
        second = await next_frame(ws, "EVENT")
        await ack(ws, second, {"status": "LATER", "message": "busy"})
        third = await next_frame(ws, "EVENT")
        await ack(ws, third, {"status": "SUCCESS", "message": "done"})
        await wait_until(lambda: message_id not in stream.pending_events(), "settled")
        # Had the first been pushed once more, it would come before this one's re-push.
        later = stream.push_event(APP.app_key, "user_leave_org", {"userId": ["u2"]})
        fourth, fifth = await next_frame(ws, "EVENT"), await next_frame(ws, "EVENT")
    assert {f["headers"]["messageId"] for f in (first, second, third)} == {message_id}
    assert len({f["headers"]["eventId"] for f in (first, second, third)}) == 1
    assert fourth["headers"]["messageId"] == fifth["headers"]["messageId"] == later


async def test_code_200_without_status_settles_an_event(serve: Any) -> None:
    # The Python SDK's ACK: the event's data echoed, no status (§8.2 [I]).
    server = serve()
    stream = server.sandbox.stream
    async with await open_stream(server) as ws:
        message_id = stream.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]})
        frame = await next_frame(ws, "EVENT")
        await ack(ws, frame, json.loads(frame["data"]))
        await wait_until(lambda: message_id not in stream.pending_events(), "settled")


async def test_a_failed_code_asks_for_a_re_push(serve: Any) -> None:
    # The Go SDK acks a failure with 500 and LATER (GOSTREAM:event/frame_handler.go).
    server = serve()
    async with await open_stream(server) as ws:
        server.sandbox.stream.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]})
        frame = await next_frame(ws, "EVENT")
        await ack(ws, frame, {"status": "SUCCESS"}, code=500)
        again = await next_frame(ws, "EVENT")
    assert again["headers"]["messageId"] == frame["headers"]["messageId"]


async def test_a_robot_message_is_never_pushed_again(serve: Any) -> None:
    server = serve()
    stream = server.sandbox.stream
    async with await open_stream(server) as ws:
        stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, {"msgtype": "text"})
        await next_frame(ws, "CALLBACK")  # never acked
        event = stream.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]})
        frames = [json.loads(await ws.recv()) for _ in range(2)]
    # The event's re-push came a full timeout later; the robot message did not come again.
    assert [f["type"] for f in frames] == ["EVENT", "EVENT"]
    assert {f["headers"]["messageId"] for f in frames} == {event}


async def test_an_event_waits_for_a_connection(serve: Any) -> None:
    server = serve()
    message_id = server.sandbox.stream.push_event(APP.app_key, "user_add_org", {"userId": []})
    assert server.sandbox.stream.pending_events() == [message_id]
    async with await open_stream(server) as ws:
        frame = await next_frame(ws, "EVENT")
    assert frame["headers"]["messageId"] == message_id


async def test_pushes_go_only_to_subscribers(serve: Any) -> None:
    server = serve()
    stream = server.sandbox.stream
    events_only = [{"type": "EVENT", "topic": "*"}]
    async with await open_stream(server, subscriptions=events_only) as ws:
        stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, {"msgtype": "text"})
        stream.push_event(APP.app_key, "user_add_org", {"userId": []})
        frame = json.loads(await ws.recv())
    assert frame["type"] == "EVENT"
    kinds = [entry["kind"] for entry in stream.frames() if entry.get("frame")]
    assert kinds[:2] == ["undelivered", "down"]


async def test_several_connections_share_the_pushes(serve: Any) -> None:
    server = serve()
    stream = server.sandbox.stream
    async with await open_stream(server) as one, await open_stream(server) as two:
        sent = [stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, {"n": n}) for n in range(6)]
        got_one = [await next_frame(one, "CALLBACK") for _ in range(3)]
        got_two = [await next_frame(two, "CALLBACK") for _ in range(3)]
    received = {f["headers"]["messageId"] for f in got_one + got_two}
    assert received == set(sent)  # each push went to one connection, and both got some


async def test_pings_carry_an_opaque_the_client_echoes(serve: Any) -> None:
    server = serve(stream_ping_interval=0.05)
    async with await open_stream(server) as ws:
        ping = await next_frame(ws, "SYSTEM", "ping")
        opaque = json.loads(ping["data"])["opaque"]
        assert opaque
        await ack(ws, ping, {"opaque": opaque})
        [connection] = server.sandbox.stream.connections()
        await wait_until(lambda: connection.pings_echoed >= 1, "the echo")


async def test_disconnect_sends_a_frame_then_closes(serve: Any) -> None:
    server = serve()
    async with await open_stream(server) as mine, await open_stream(server, OTHER) as theirs:
        told = await request(
            "POST", server.url + "/_sandbox/stream/disconnect", json={"app_key": APP.app_key}
        )
        assert told.json() == {"disconnected": 1}
        frame = await next_frame(mine, "SYSTEM", "disconnect")
        assert json.loads(frame["data"]) == {"reason": "connection is expired"}
        await wait_until(lambda: mine.close_code is not None, "the close")
        assert mine.close_code == 1000
        # The other app's connection still serves.
        server.sandbox.stream.push_callback(OTHER.app_key, BOT_MESSAGE_TOPIC, {"n": 1})
        assert (await next_frame(theirs, "CALLBACK"))["type"] == "CALLBACK"
    await wait_until(lambda: not server.sandbox.stream.connections(), "the sandbox to forget")


async def test_disconnect_everyone(serve: Any) -> None:
    server = serve()
    async with await open_stream(server) as mine, await open_stream(server, OTHER) as theirs:
        told = await request("POST", server.url + "/_sandbox/stream/disconnect", json={})
        assert told.json() == {"disconnected": 2}
        for ws in (mine, theirs):
            await next_frame(ws, "SYSTEM", "disconnect")
            await wait_until(lambda ws=ws: ws.close_code is not None, "the close")


async def test_the_admin_views(serve: Any) -> None:
    server = serve()
    async with await open_stream(server) as ws:
        [connection] = server.sandbox.stream.connections()
        for n in range(3):
            server.sandbox.stream.push_callback(APP.app_key, BOT_MESSAGE_TOPIC, {"n": n})
            await ack(ws, await next_frame(ws, "CALLBACK"), {"response": None})
            await wait_until(lambda n=n: connection.acks == n + 1, "the ack")
        connections = (await request("GET", server.url + "/_sandbox/stream/connections")).json()
        frames = (await request("GET", server.url + "/_sandbox/stream/frames")).json()["frames"]
        after = {"after": frames[1]["seq"], "limit": 2}
        paged = await request("GET", server.url + "/_sandbox/stream/frames", params=after)
        page = paged.json()["frames"]
    [listed] = connections["connections"]
    assert (listed["app_key"], listed["acks"], listed["ua"]) == (
        APP.app_key,
        3,
        "dingkit-tests",
    )
    assert [f["kind"] for f in frames] == ["open", "down", "up", "down", "up", "down", "up"]
    assert [f["seq"] for f in page] == [frames[2]["seq"], frames[3]["seq"]]
    for bad in ({"after": "-1"}, {"limit": "x"}, {"after": "9" * 40}):
        answer = await request("GET", server.url + "/_sandbox/stream/frames", params=bad)
        assert answer.status_code == 400


async def test_the_admin_routes_are_guarded(serve: Any) -> None:
    server = serve()
    url = server.url + "/_sandbox/stream/disconnect"
    assert (await request("POST", url, content=b"{}")).status_code == 415  # not JSON
    foreign = {"Origin": "http://evil.example"}
    assert (await request("POST", url, json={}, headers=foreign)).status_code == 403
    assert (await request("POST", url, json={"app_key": 5})).status_code == 400
    assert (await request("POST", url, json=[1])).status_code == 400


async def test_an_event_in_flight_when_the_gateway_stops_is_pushed_again_after(
    serve: Any,
) -> None:
    """Pushed, never acked, the gateway stopped and started again (the same sandbox): the
    next connection gets the event, as DingTalk re-pushes what was not acknowledged."""
    server = serve(stream_event_timeout=60)  # no timed re-push within the test
    stream = server.sandbox.stream
    async with await open_stream(server) as ws:
        message_id = stream.push_event(APP.app_key, "user_add_org", {"userId": ["u1"]})
        await next_frame(ws, "EVENT")  # received, not acked
        server.stop()
    again = SandboxServer(server.sandbox, port=server.port).start()
    try:
        async with await open_stream(again) as ws:
            frame = await next_frame(ws, "EVENT")
            await ack(ws, frame, {"status": "SUCCESS"})
    finally:
        again.stop()
    assert frame["headers"]["messageId"] == message_id


async def test_an_app_whose_events_go_over_stream_gets_the_organisation_s_events(
    make_sandbox: Any,
) -> None:
    """[[app]] events = "stream": the hub pushes an org change as an EVENT frame with the
    same eventId its HTTP subscriptions get; dingkit's reader turns it back into the event."""
    from dingkit.callback.stream_events import event_from_stream

    app = APP.model_copy(update={"events": "stream"})
    sandbox = make_sandbox(config=stream_config().model_copy(update={"apps": (app, OTHER)}))
    server = SandboxServer(sandbox).start()
    try:
        async with await open_stream(server) as ws:
            sandbox.callbacks.emit("user_add_org", {"userId": ["u-new"]})
            frame = await next_frame(ws, "EVENT")
            await ack(ws, frame, {"status": "SUCCESS"})
    finally:
        server.stop()
    event, _ = event_from_stream(frame["headers"], frame["data"])
    assert event.event_type == "user_add_org"
    assert event.raw["userId"] == ["u-new"]
    assert frame["headers"]["eventCorpId"] == sandbox.config.corp_id
    assert sandbox.stream.pending_events() == []  # none queued for OTHER, an HTTP app
