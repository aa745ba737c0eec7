"""``dingkit sandbox`` in the foreground: Ctrl-C is a clean stop whenever it comes."""

from __future__ import annotations

import socket

import pytest

from dingkit.sandbox import Sandbox
from dingkit.sandbox.server import run_foreground


@pytest.mark.parametrize("interrupted_at", [1, 2, 5], ids=["first-line", "warning", "later"])
def test_ctrl_c_while_the_banner_is_written_stops_the_server_cleanly(interrupted_at):
    """A script that waits for one banner line may interrupt before the rest is written (CI
    once saw exit 130 there); the server stops and its port is released either way."""
    sandbox = Sandbox.from_settings()
    written: list[str] = []

    def announce(line: str) -> None:
        written.append(line)
        if len(written) == interrupted_at:
            raise KeyboardInterrupt

    try:
        run_foreground(sandbox, host="0.0.0.0", port=0, announce=announce, data_dir=None)
    finally:
        sandbox.close()
    assert len(written) == interrupted_at
    port = int(written[0].split("  ")[0].rsplit(":", 1)[1])
    with socket.socket() as probe:  # nothing listens any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
