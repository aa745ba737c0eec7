"""The receiver as an ASGI app: verify, decrypt, commit, ack; handlers from the inbox; bad input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from dingkit import ConfigurationError, RetryPolicy
from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.callback.events import BpmsInstanceChange, CallbackEvent
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver

from .conftest import Served

TOKEN = "callback-token"
AES_KEY = new_aes_key()
CORP_ID = "dingcorp0001"
APP_KEY = "dingappkey0001"
pytestmark = pytest.mark.anyio

FAST = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.01, jitter=0)

INSTANCE_FINISHED = {
    "EventType": "bpms_instance_change",
    "eventId": "ev-1",
    "EventTime": 1700000000000,
    "CorpId": CORP_ID,
    "processInstanceId": "inst-1",
    "processCode": "PROC-LEAVE",
    "type": "finish",
    "result": "agree",
    "staffId": "manager0001",
    "title": "请假",
}


def push_args(
    message: dict[str, Any] | str, *, receiver_id: str = CORP_ID, token: str = TOKEN
) -> tuple[dict[str, str], bytes]:
    """Query parameters and body of a push, as DingTalk sends it."""
    crypto = CallbackCrypto(token, AES_KEY, receiver_id)
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    sealed = crypto.seal(text)
    query = {"signature": sealed.signature, "timestamp": sealed.timestamp, "nonce": sealed.nonce}
    return query, json.dumps({"encrypt": sealed.encrypt}).encode()


@pytest.fixture
def receiver(tmp_path: Path) -> CallbackReceiver:
    return CallbackReceiver(
        TOKEN,
        AES_KEY,
        inbox=SQLiteInbox(tmp_path / "inbox.sqlite3"),
        environ={"DINGTALK_APP_KEY": APP_KEY, "DINGTALK_CORP_ID": CORP_ID},
        handler_retry=FAST,
        dispatch=False,
    )


@pytest.fixture
async def client(receiver: CallbackReceiver) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        yield http


Post = Callable[..., Any]


async def post(client: httpx.AsyncClient, message: Any, **options: Any) -> httpx.Response:
    query, body = push_args(message, **options)
    return await client.post("/", params=query, content=body)


def assert_success(
    response: httpx.Response, timestamp: str | None = None, receiver_id: str = CORP_ID
) -> None:
    assert response.status_code == 200, response.text
    reply = response.json()
    crypto = CallbackCrypto(TOKEN, AES_KEY, receiver_id)
    assert (
        crypto.open(reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"])
        == b"success"
    )
    if timestamp is not None:
        assert reply["timeStamp"] == timestamp


async def test_a_push_is_committed_acknowledged_and_handled(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    got: list[CallbackEvent] = []

    @receiver.on("bpms_instance_change")
    async def finished(event: CallbackEvent) -> None:
        got.append(event)

    query, body = push_args(INSTANCE_FINISHED)
    response = await client.post("/", params=query, content=body)
    assert_success(response, timestamp=query["timestamp"])
    assert receiver.inbox.counts()["pending"] == 1  # committed before the ack
    await receiver.dispatcher.drain()
    assert len(got) == 1
    assert isinstance(got[0], BpmsInstanceChange)
    assert (got[0].process_instance_id, got[0].result) == ("inst-1", "agree")
    assert receiver.inbox.counts()["done"] == 1


async def test_sync_async_fallback_and_every_event_handlers_run(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    calls: list[str] = []
    receiver.on("user_add_org")(lambda event: calls.append("sync"))

    @receiver.on("user_add_org")
    async def second(event: CallbackEvent) -> None:
        calls.append("async")

    @receiver.on()  # the fallback, as the README has it: every other event
    def other(event: CallbackEvent) -> None:
        calls.append(f"other:{event.event_type}")

    @receiver.on_every()
    async def every(event: CallbackEvent) -> None:
        calls.append(f"every:{event.event_type}")

    await post(client, {"EventType": "user_add_org", "eventId": "u1", "userId": ["u9"]})
    await post(client, {"EventType": "some_new_event", "eventId": "n1", "foo": 1})
    await receiver.dispatcher.drain()
    assert sorted(calls) == sorted(
        ["sync", "async", "every:user_add_org", "other:some_new_event", "every:some_new_event"]
    )


async def test_the_same_push_twice_is_handled_once(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    handled: list[str] = []
    receiver.on("bpms_instance_change")(lambda event: handled.append(event.event_id or ""))
    query, body = push_args(INSTANCE_FINISHED)
    for _ in range(2):
        assert_success(await client.post("/", params=query, content=body))
    again = {**INSTANCE_FINISHED}  # DingTalk's retry: a new envelope, the same event
    assert_success(await post(client, again))
    await receiver.dispatcher.drain()
    assert handled == ["ev-1"]
    assert receiver.metrics.duplicates == 2


async def test_a_push_without_an_id_is_deduplicated_by_its_content(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    classic = {"EventType": "user_leave_org", "TimeStamp": "1700000000000", "UserId": ["a"]}
    assert_success(await post(client, classic))
    assert_success(await post(client, classic))
    assert receiver.inbox.counts()["pending"] == 1


async def test_the_other_parameter_spellings_are_accepted(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    query, body = push_args(INSTANCE_FINISHED)
    spelled = {
        "msg_signature": query["signature"],
        "timeStamp": query["timestamp"],
        "nonce": query["nonce"],
    }
    assert_success(await client.post("/", params=spelled, content=body))


@pytest.mark.parametrize("receiver_id", [CORP_ID, APP_KEY])
async def test_either_configured_receiver_id_is_accepted(
    receiver: CallbackReceiver, client: httpx.AsyncClient, receiver_id: str
) -> None:
    response = await post(client, INSTANCE_FINISHED, receiver_id=receiver_id)
    assert_success(response, receiver_id=receiver_id)  # the reply is sealed for the same id


async def test_url_checks_are_answered_and_not_stored(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    assert_success(await post(client, {"EventType": "check_url"}))
    suite = {"EventType": "check_create_suite_url", "Random": "LPIdSnlF", "TestSuiteKey": "s"}
    assert_success(await post(client, suite))
    assert receiver.inbox.entries() == []


def _tamper_signature(query: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    return {**query, "signature": "0" * 40}, body


BAD_INPUTS: list[Any] = [
    pytest.param(lambda q, b: (q, b"not json"), 400, "json", id="not JSON"),
    pytest.param(lambda q, b: (q, b"[1, 2]"), 400, "encrypt", id="JSON but not an object"),
    pytest.param(lambda q, b: (q, b'{"other": 1}'), 400, "encrypt", id="no encrypt"),
    pytest.param(lambda q, b: (q, b'{"encrypt": 5}'), 400, "encrypt", id="encrypt not a string"),
    pytest.param(_tamper_signature, 403, "signature", id="wrong signature"),
    pytest.param(
        lambda q, b: ({k: v for k, v in q.items() if k != "nonce"}, b), 400, "query", id="no nonce"
    ),
    # Issue 10, defect 3: these gave a 500 and a traceback.
    pytest.param(lambda q, b: (q, b"[" * 5000 + b"]" * 5000), 400, "json", id="deeply nested"),
    pytest.param(lambda q, b: (q, b'{"encrypt": "\\ud800abc"}'), 400, "json", id="lone surrogate"),
    pytest.param(lambda q, b: (q, b'{"encrypt": NaN}'), 400, "json", id="NaN"),
    pytest.param(lambda q, b: (q, b'{"encrypt": "\xff\xfe"}'), 400, "json", id="not UTF-8"),
]


@pytest.mark.parametrize(("tamper", "status", "reason"), BAD_INPUTS)
async def test_bad_input_gets_a_4xx_with_a_reason_and_stores_nothing(
    receiver: CallbackReceiver,
    client: httpx.AsyncClient,
    tamper: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]],
    status: int,
    reason: str,
) -> None:
    query, body = tamper(*push_args(INSTANCE_FINISHED))
    response = await client.post("/", params=query, content=body)
    assert response.status_code == status
    assert response.json()["error"] == reason
    assert response.json()["message"]
    assert receiver.inbox.entries() == []
    assert receiver.metrics.rejected[reason] == 1


async def test_garbage_base64_is_refused_after_a_valid_signature(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    for encrypt, reason in (("%%%not-base64%%%", "decrypt"), ("QUJD", "decrypt")):
        signature = crypto.sign("1", "n", encrypt)
        params = {"signature": signature, "timestamp": "1", "nonce": "n"}
        response = await client.post("/", params=params, json={"encrypt": encrypt})
        assert (response.status_code, response.json()["error"]) == (400, reason)
    assert receiver.inbox.entries() == []


async def test_a_push_for_another_receiver_is_refused(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    response = await post(client, INSTANCE_FINISHED, receiver_id="dingsomeoneelse")
    assert (response.status_code, response.json()["error"]) == (400, "receiver_id")
    assert "dingsomeoneelse" not in response.text or "another receiver" in response.text
    assert receiver.inbox.entries() == []


async def test_a_decrypted_message_that_is_not_an_event_is_refused(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    for message in ("not json", "[1]", '{"no": "type"}'):
        response = await post(client, message)
        assert (response.status_code, response.json()["error"]) == (400, "payload")
    assert receiver.inbox.entries() == []


async def test_an_oversized_body_is_refused_with_413(tmp_path: Path) -> None:
    small = CallbackReceiver(
        TOKEN,
        AES_KEY,
        CORP_ID,
        inbox=SQLiteInbox(tmp_path / "i.sqlite3"),
        max_body=256,
        dispatch=False,
    )
    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        query, body = push_args({**INSTANCE_FINISHED, "title": "x" * 500})
        response = await http.post("/", params=query, content=body)
    assert (response.status_code, response.json()["error"]) == (413, "size")
    assert small.inbox.entries() == []


async def test_a_failing_handler_is_retried_then_dead_lettered_and_can_be_replayed(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    attempts: list[int] = []
    healthy = False

    @receiver.on("bpms_instance_change")
    def flaky(event: CallbackEvent) -> None:
        attempts.append(1)
        if not healthy:
            raise RuntimeError("downstream is down")

    await post(client, INSTANCE_FINISHED)
    await receiver.dispatcher.drain()
    assert len(attempts) == FAST.max_attempts
    (failed,) = receiver.inbox.entries("failed")
    assert "downstream is down" in (failed.last_error or "")
    assert receiver.metrics.failed["bpms_instance_change"] == 1
    healthy = True
    assert receiver.inbox.replay(failed.id)
    await receiver.dispatcher.drain()
    assert receiver.inbox.counts()["done"] == 1
    assert len(attempts) == FAST.max_attempts + 1


async def test_metrics_and_health(receiver: CallbackReceiver, client: httpx.AsyncClient) -> None:
    await post(client, INSTANCE_FINISHED)
    await client.post("/", params={"signature": "x", "timestamp": "1", "nonce": "n"}, content=b"x")
    metrics = (await client.get("/metrics")).text
    assert 'dingkit_callback_events_received_total{type="bpms_instance_change"} 1' in metrics
    assert 'dingkit_callback_events_rejected_total{reason="json"} 1' in metrics
    assert 'dingkit_callback_inbox_events{state="pending"} 1' in metrics
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["inbox"]["pending"] == 1


async def test_mounted_in_starlette_it_takes_pushes_under_the_mount(tmp_path: Path) -> None:
    receiver = CallbackReceiver(
        TOKEN, AES_KEY, CORP_ID, inbox=SQLiteInbox(tmp_path / "i.sqlite3"), handler_retry=FAST
    )
    got: list[str] = []
    receiver.on("bpms_instance_change")(lambda event: got.append(event.event_type))
    app = Starlette(routes=[Mount("/dingtalk", app=receiver)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        query, body = push_args(INSTANCE_FINISHED)
        assert_success(await http.post("/dingtalk/", params=query, content=body))
        # Mounted apps get no lifespan: the first push started the dispatcher itself.
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
    await receiver.stop()
    assert got == ["bpms_instance_change"]


def test_missing_configuration_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DINGTALK_CALLBACK_TOKEN") as caught:
        CallbackReceiver(environ={}, data_dir=tmp_path)
    assert "DINGTALK_CALLBACK_AES_KEY" in str(caught.value)
    assert "DINGTALK_APP_KEY or DINGTALK_CORP_ID" in str(caught.value)


def test_the_repr_shows_no_secret(receiver: CallbackReceiver) -> None:
    assert TOKEN not in repr(receiver)
    assert AES_KEY not in repr(receiver)


async def test_other_paths_and_methods_get_404_and_405(client: httpx.AsyncClient) -> None:
    missing = await client.post("/elsewhere", content=b"{}")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong = await client.get("/")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")


async def test_an_inbox_outage_is_a_503_and_no_ack(tmp_path: Path) -> None:
    class Down(SQLiteInbox):
        def add_many(self, events: Any) -> list[str | None]:
            raise OSError("disk full")

    down = CallbackReceiver(
        TOKEN, AES_KEY, CORP_ID, inbox=Down(tmp_path / "i.sqlite3"), dispatch=False
    )
    transport = httpx.ASGITransport(app=down)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        query, body = push_args(INSTANCE_FINISHED)
        response = await http.post("/", params=query, content=body)
    assert (response.status_code, response.json()["error"]) == (503, "inbox")
    assert "encrypt" not in response.json()  # no success: DingTalk will push it again


async def test_the_lifespan_starts_and_stops_the_handlers(tmp_path: Path) -> None:
    receiver = CallbackReceiver(
        TOKEN, AES_KEY, CORP_ID, inbox=SQLiteInbox(tmp_path / "i.sqlite3"), handler_retry=FAST
    )
    got: list[str] = []
    receiver.on()(lambda event: got.append(event.event_type))
    async with receiver.lifespan():
        assert receiver._worker is not None
        transport = httpx.ASGITransport(app=receiver)
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
            await post(http, INSTANCE_FINISHED)
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
    assert got == ["bpms_instance_change"]
    assert receiver._worker is None


def test_the_readme_example_mounts_with_its_lifespan(tmp_path: Path) -> None:
    from dingkit.callback import BpmsInstanceChange as Exported
    from dingkit.callback import CallbackReceiver as ExportedReceiver

    receiver = ExportedReceiver(
        TOKEN, AES_KEY, CORP_ID, inbox=SQLiteInbox(tmp_path / "i.sqlite3"), handler_retry=FAST
    )
    got: list[str] = []

    @receiver.on(Exported)
    async def approval_changed(event: Exported) -> None:
        got.append(event.result or "")

    @receiver.on()  # every other event, sync or async
    def anything(event) -> None: ...

    app = Starlette(routes=[Mount("/dingtalk", app=receiver)], lifespan=receiver.lifespan)
    served = Served(app)  # uvicorn runs the lifespan, which starts the handlers
    try:
        query, body = push_args(INSTANCE_FINISHED)
        assert_success(httpx.post(f"{served.url}/dingtalk/", params=query, content=body))
        assert httpx.get(f"{served.url}/dingtalk/healthz").json()["status"] == "ok"
        for _ in range(500):
            if got:
                break
            time.sleep(0.01)
    finally:
        served.stop()
    assert got == ["agree"]


async def test_the_dispatcher_outlives_an_inbox_that_fails_for_a_while(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Flaky(SQLiteInbox):
        failures = 3

        def claim(self, owner: str, lease: float) -> Any:
            if self.failures:
                self.failures -= 1
                raise OSError("database is locked")
            return super().claim(owner, lease)

    inbox = Flaky(tmp_path / "i.sqlite3")
    receiver = CallbackReceiver(
        TOKEN, AES_KEY, CORP_ID, inbox=inbox, handler_retry=FAST, dispatch=False
    )
    got: list[str] = []
    receiver.on()(lambda event: got.append(event.event_type))
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        assert_success(await post(http, INSTANCE_FINISHED))
    await receiver.dispatcher.drain()
    assert got == ["bpms_instance_change"]
    assert inbox.failures == 0
    assert "cannot read the inbox (OSError: database is locked)" in caplog.text


async def test_a_flood_of_bad_pushes_is_logged_once_per_reason(
    receiver: CallbackReceiver, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    query, _ = push_args(INSTANCE_FINISHED)
    with caplog.at_level("WARNING", logger="dingkit.callback"):
        for _ in range(50):
            response = await client.post("/", params=query, content=b"[" * 5000 + b"]" * 5000)
            assert response.status_code == 400
        await client.post("/", params=query, content=b"not json")
    refusals = [r for r in caplog.records if "refused a push" in r.getMessage()]
    assert len(refusals) == 1  # one line for the reason "json", however many came
    assert "Traceback" not in caplog.text
    assert receiver.metrics.rejected["json"] == 51  # every one counted


async def test_two_different_events_with_the_same_fields_are_both_handled(
    receiver: CallbackReceiver, client: httpx.AsyncClient
) -> None:
    # Issue 10, defect 1: the second was acknowledged and never handled.
    assert_success(await post(client, INSTANCE_FINISHED))
    assert_success(await post(client, {**INSTANCE_FINISHED, "eventId": "ev-2"}))
    assert_success(await post(client, {**INSTANCE_FINISHED, "eventId": "ev-2"}))  # re-push
    assert len(receiver.inbox.entries()) == 2
    assert receiver.metrics.duplicates == 1


async def test_the_running_dispatcher_prunes_the_inbox_to_its_retention(tmp_path: Path) -> None:
    # Issue 10, defect 7: a receiver that runs for months keeps a bounded inbox.
    clock = [1_700_000_000.0]
    inbox = SQLiteInbox(tmp_path / "i.sqlite3", clock=lambda: clock[0])
    receiver = CallbackReceiver(
        TOKEN,
        AES_KEY,
        CORP_ID,
        inbox=inbox,
        handler_retry=FAST,
        retention=3600,
        clock=lambda: clock[0],
    )
    got: list[str] = []
    receiver.on()(lambda event: got.append(event.event_type))
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        await receiver.start()
        try:
            assert_success(await post(http, INSTANCE_FINISHED))
            await receiver.dispatcher.drain()
            assert inbox.counts()["done"] == 1
        finally:
            await receiver.stop()
        clock[0] += 3601
        await receiver.start()  # a dispatcher prunes as it starts, then hourly
        try:
            deadline = time.monotonic() + 30
            while inbox.counts()["done"]:
                assert time.monotonic() < deadline, "the dispatcher did not prune"
                await asyncio.sleep(0.01)
        finally:
            await receiver.stop()
    assert got == ["bpms_instance_change"]
    # Its keys went with it: the same push, past retention, is a new event (documented).
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
        assert_success(await post(http, INSTANCE_FINISHED))
    assert inbox.counts()["pending"] == 1
