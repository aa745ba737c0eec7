"""A client that declares a body and never sends it is answered 408 and let go (issue 10,
defect 10), on DingTalk's paths and the sandbox's own alike, and by the callback receiver."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import httpx
import pytest

from callback.conftest import Served
from dingkit.callback import CallbackReceiver
from dingkit.callback.crypto import new_aes_key
from dingkit.callback.inbox import SQLiteInbox
from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import SandboxConfig


@pytest.mark.parametrize(
    "path",
    ["/v1.0/oauth2/accessToken", "/robot/send?access_token=x", "/_sandbox/org/users"],
)
def test_a_body_that_never_comes_is_answered_408(path: str) -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(body_timeout=0.3))
    with SandboxServer(sandbox) as server:
        answer = _stall(server.port, path)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_the_callback_receiver_answers_a_stalled_push_408_and_closes(tmp_path: Path) -> None:
    receiver = CallbackReceiver(
        "token",
        new_aes_key(),
        "dingcorp",
        inbox=SQLiteInbox(tmp_path / "inbox.sqlite3"),
        body_timeout=0.3,
        dispatch=False,
    )
    server = Served(receiver)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        answer = _stall(port, "/?signature=s&timestamp=1&nonce=n")
    finally:
        server.stop()
    head, _, _ = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"connection: close" in head.lower()
    assert receiver.metrics.rejected["slow"] == 1


def test_an_oversized_request_head_is_refused_and_let_go() -> None:
    with SandboxServer(Sandbox.from_settings()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection:
            connection.sendall(
                f"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode()
                + b"X-Filler: "
                + b"a" * 200_000
                + b"\r\n\r\n"
            )
            answer = b""
            # The server answers 400 and closes; with our bytes still unread, the kernel may
            # turn that close into a reset before the answer is read. Either way: let go.
            with contextlib.suppress(ConnectionResetError):
                while chunk := connection.recv(4096):
                    answer += chunk
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert httpx.get(f"{server.url}/_sandbox/health").status_code == 200


def _stall(port: int, path: str) -> bytes:
    """Declare a 100-byte body, send one byte, and read what comes back until the server
    closes the connection (or 20 s pass: then the test fails on what it got)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer
