"""A client that declares a body and never sends it is answered 408 and let go (issue 10,
defect 10), on DingTalk's paths and the sandbox's own alike."""

from __future__ import annotations

import socket

import pytest

from dingkit.sandbox import Sandbox, SandboxServer
from dingkit.sandbox.config import SandboxConfig


@pytest.mark.parametrize(
    "path",
    ["/v1.0/oauth2/accessToken", "/robot/send?access_token=x", "/_sandbox/org/users"],
)
def test_a_body_that_never_comes_is_answered_408(path: str) -> None:
    sandbox = Sandbox.from_settings(config=SandboxConfig(body_timeout=0.3))
    with (
        SandboxServer(sandbox) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=20) as connection,
    ):
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
