"""Forged, misaddressed, cross-body and replayed pushes against a live receiver, as
properties (issue 10, part 2): a push whose signature does not cover its body is refused and
stores nothing; one sealed for another receiver is refused; a replay of a genuine push is
acknowledged again (DingTalk re-pushes) and still stored once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dingkit.callback.crypto import CallbackCrypto, new_aes_key
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver

from . import figures
from .hostile import examples
from .test_hostile_routes import served

TOKEN = "forgery-token"
AES_KEY = new_aes_key()
CORP_ID = "dingforgerycorp"

events = st.builds(
    lambda event_id, user: {"EventType": "user_add_org", "eventId": event_id, "UserId": [user]},
    st.uuids().map(str),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20),
)


def _push(client: httpx.Client, query: dict[str, str], encrypt: str) -> httpx.Response:
    return client.post("/", params=query, content=json.dumps({"encrypt": encrypt}).encode())


def test_forged_misaddressed_cross_body_and_replayed_pushes(tmp_path: Path) -> None:
    inbox = SQLiteInbox(tmp_path / "inbox.sqlite3")
    receiver = CallbackReceiver(TOKEN, AES_KEY, CORP_ID, inbox=inbox, dispatch=False)
    genuine = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    other_receiver = CallbackCrypto(TOKEN, AES_KEY, "dingsomeoneelse")
    other_token = CallbackCrypto("another-token", AES_KEY, CORP_ID)
    answers: list[int] = []
    stored: set[str] = set()

    with served(receiver) as client:

        @settings(
            max_examples=max(20, examples() // 4),
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(first=events, second=events, flip=st.integers(min_value=0, max_value=26))
        def case(first: dict[str, Any], second: dict[str, Any], flip: int) -> None:
            before = inbox.counts()["pending"]
            a = genuine.seal(json.dumps(first))
            b = genuine.seal(json.dumps(second))
            query = {"signature": a.signature, "timestamp": a.timestamp, "nonce": a.nonce}
            refused = []
            # Forged: one character of the signature changed.
            forged = a.signature[:flip] + ("0" if a.signature[flip] != "0" else "1")
            forged += a.signature[flip + 1 :]
            refused.append(_push(client, {**query, "signature": forged}, a.encrypt))
            # Cross-body: a's signature over b's body.
            refused.append(_push(client, query, b.encrypt))
            # Another nonce or timestamp than the one signed.
            refused.append(_push(client, {**query, "nonce": a.nonce + "x"}, a.encrypt))
            refused.append(_push(client, {**query, "timestamp": a.timestamp + "1"}, a.encrypt))
            # Signed with another subscription's token.
            c = other_token.seal(json.dumps(first))
            refused.append(
                _push(
                    client,
                    {"signature": c.signature, "timestamp": c.timestamp, "nonce": c.nonce},
                    c.encrypt,
                )
            )
            # Correctly signed, but sealed for another receiver id.
            d = other_receiver.seal(json.dumps(first))
            refused.append(
                _push(
                    client,
                    {"signature": d.signature, "timestamp": d.timestamp, "nonce": d.nonce},
                    d.encrypt,
                )
            )
            for response in refused:
                answers.append(response.status_code)
                assert response.status_code in (400, 403), response.text
            assert inbox.counts()["pending"] == before  # nothing stored
            # The genuine push, then its replay: both acknowledged, one event.
            for _ in range(2):
                response = _push(client, query, a.encrypt)
                answers.append(response.status_code)
                assert response.status_code == 200, response.text
                reply = response.json()
                acked = genuine.open(
                    reply["msg_signature"], reply["timeStamp"], reply["nonce"], reply["encrypt"]
                )
                assert acked == b"success"
            stored.add(first["eventId"])
            assert inbox.counts()["pending"] == len(stored)

        case()
    inbox.close()
    figures.record("forgery", "forged, misaddressed, cross-body and replayed pushes", answers)
