"""`dingkit callback events|replay|register|update|get|delete|keygen` as the user runs them."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import httpx
import pytest

from dingkit.callback.crypto import CallbackCrypto
from dingkit.callback.inbox import SQLiteInbox
from dingkit.callback.receiver import CallbackReceiver, inbox_path
from dingkit.sandbox import SandboxServer

from .conftest import AES_KEY, TOKEN, Served, cli_env, dingkit


@pytest.fixture
def filled(tmp_path: Path) -> dict[str, str]:
    """An inbox in tmp_path with one done, one failed and one pending event."""
    inbox = SQLiteInbox(inbox_path(tmp_path))
    ids = {}
    for name in ("done", "failed", "pending"):
        entry_id = inbox.add(
            "user_add_org", f'{{"EventType":"user_add_org","n":"{name}"}}'.encode(), [name]
        )
        assert entry_id is not None
        ids[name] = entry_id
    inbox.claim("w", lease=60)
    inbox.complete(ids["done"], "w")
    inbox.claim("w", lease=60)
    inbox.fail(ids["failed"], "w", "handler: RuntimeError: boom")
    inbox.close()
    return ids


def test_events_lists_the_inbox_and_the_dead_letters(
    tmp_path: Path, filled: dict[str, str]
) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path)
    listed = dingkit("callback", "events", "--json", "--data-dir", str(tmp_path), env=env)
    assert listed.returncode == 0, listed.stderr
    assert {row["id"]: row["state"] for row in json.loads(listed.stdout)} == {
        filled["done"]: "done",
        filled["failed"]: "failed",
        filled["pending"]: "pending",
    }
    failed = dingkit(
        "callback", "events", "--failed", "--json", "--data-dir", str(tmp_path), env=env
    )
    (row,) = json.loads(failed.stdout)
    assert (row["id"], row["last_error"]) == (filled["failed"], "handler: RuntimeError: boom")
    table = dingkit("callback", "events", "--failed", "--data-dir", str(tmp_path), env=env)
    assert filled["failed"][:8] in table.stdout
    assert "boom" in table.stdout


def test_events_prune_removes_done_events_past_retention(
    tmp_path: Path, filled: dict[str, str]
) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path)
    data = ["--data-dir", str(tmp_path)]
    kept = dingkit("callback", "events", "--prune", *data, env=env)
    assert kept.returncode == 0, kept.stderr
    assert "pruned 0 done events and 0 deduplication keys older than 7 days" in kept.stdout
    pruned = dingkit(
        "callback", "events", "--prune", "--retention-days", "0", "--json", *data, env=env
    )
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 1 done events and 1 deduplication keys older than 0 days" in pruned.stderr
    assert {row["state"] for row in json.loads(pruned.stdout)} == {"failed", "pending"}
    negative = dingkit("callback", "events", "--prune", "--retention-days", "-1", *data, env=env)
    assert negative.returncode == 2
    assert "--retention-days" in negative.stderr


def test_replay_makes_a_failed_event_pending_and_refuses_the_rest(
    tmp_path: Path, filled: dict[str, str]
) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path)
    data = ["--data-dir", str(tmp_path)]
    replayed = dingkit("callback", "replay", filled["failed"], *data, env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "pending again" in replayed.stdout
    entry = SQLiteInbox(inbox_path(tmp_path)).get(filled["failed"])
    assert entry is not None
    assert (entry.state, entry.attempts) == ("pending", 0)
    pending = dingkit("callback", "replay", filled["pending"], *data, env=env)
    assert pending.returncode == 2
    assert "only failed or done events" in pending.stderr
    unknown = dingkit("callback", "replay", "nope", *data, env=env)
    assert unknown.returncode == 2
    assert "no event 'nope'" in unknown.stderr
    assert "Traceback" not in pending.stderr + unknown.stderr


def test_events_with_a_bad_state_or_an_unreachable_redis_is_a_usage_error(tmp_path: Path) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path)
    bad = dingkit("callback", "events", "--state", "lost", "--data-dir", str(tmp_path), env=env)
    assert bad.returncode == 2
    assert "--state" in bad.stderr
    redis = dingkit("callback", "events", "--redis", "redis://127.0.0.1:1/0", env=env)
    assert redis.returncode == 2
    assert "cannot open the inbox" in redis.stderr
    assert "Traceback" not in bad.stderr + redis.stderr


def test_register_get_update_delete_the_subscription(
    sandbox_server: SandboxServer, live_receiver: CallbackReceiver, tmp_path: Path
) -> None:
    env = {**cli_env(sandbox_server.url, tmp_path), "DINGTALK_CALLBACK_TOKEN": TOKEN}
    served = Served(live_receiver)
    try:
        tags = ["--tag", "user_add_org", "--tag", "bpms_task_change"]
        keys = ["--aes-key", AES_KEY]
        registered = dingkit(
            "callback", "register", "--url", f"{served.url}/", *keys, *tags, env=env
        )
        assert registered.returncode == 0, registered.stderr
        shown = dingkit("callback", "get", "--json", env=env)
        assert json.loads(shown.stdout) == {
            "url": f"{served.url}/",
            "call_back_tag": ["user_add_org", "bpms_task_change"],
        }
        assert AES_KEY not in shown.stdout + shown.stderr
        assert TOKEN not in shown.stdout
        secrets = dingkit("callback", "get", "--show-secrets", "--json", env=env)
        assert json.loads(secrets.stdout)["aes_key"] == AES_KEY
        updated = dingkit(
            "callback",
            "update",
            "--url",
            f"{served.url}/",
            *keys,
            "--tag",
            "user_leave_org",
            env=env,
        )
        assert updated.returncode == 0, updated.stderr
        assert json.loads(dingkit("callback", "get", "--json", env=env).stdout)[
            "call_back_tag"
        ] == ["user_leave_org"]
        twice = dingkit("callback", "register", "--url", f"{served.url}/", *keys, *tags, env=env)
        assert twice.returncode == 1
        assert "71006" in twice.stderr
        # Dry runs send nothing and show no key: the subscription is as it was.
        dry = dingkit(
            "callback", "update", "--url", "http://x/", *keys, *tags, "--dry-run", env=env
        )
        assert dry.returncode == 0, dry.stderr
        assert "/call_back/update_call_back?access_token=***" in dry.stdout
        assert '"aes_key": "***"' in dry.stdout
        assert '"token": "***"' in dry.stdout
        assert AES_KEY not in dry.stdout + dry.stderr
        assert TOKEN not in dry.stdout + dry.stderr
        dry = dingkit("callback", "delete", "--dry-run", env=env)
        assert "/call_back/delete_call_back?access_token=***" in dry.stdout
        assert json.loads(dingkit("callback", "get", "--json", env=env).stdout)[
            "call_back_tag"
        ] == ["user_leave_org"]
        deleted = dingkit("callback", "delete", env=env)  # not a terminal: no question
        assert deleted.returncode == 0, deleted.stderr
        gone = dingkit("callback", "get", env=env)
        assert gone.returncode == 1
        assert "71007" in gone.stderr
    finally:
        served.stop()


def test_registering_a_url_that_does_not_answer_success_is_refused(
    sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    env = {**cli_env(sandbox_server.url, tmp_path), "DINGTALK_CALLBACK_TOKEN": TOKEN}
    wrong = CallbackReceiver(TOKEN, AES_KEY, "dingnotthecorp", data_dir=tmp_path, dispatch=False)
    served = Served(wrong)  # answers, but refuses pushes for the organisation's corpId
    try:
        result = dingkit(
            "callback", "register", "--url", f"{served.url}/", "--aes-key", AES_KEY,
            "--tag", "user_add_org", env=env,
        )  # fmt: skip
    finally:
        served.stop()
    assert result.returncode == 1
    assert "71009" in result.stderr
    # The receiver's own one-line reason, after DingTalk's text: what to set.
    corp_id = sandbox_server.sandbox.config.corp_id
    assert (
        f"返回文本非success：HTTP 400: receiver id mismatch: set receiver_id (--receiver-id) to "
        f"{corp_id} (the push is for another receiver than dingnotthecorp)"
    ) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert AES_KEY not in result.stderr
    assert TOKEN not in result.stderr


def test_keygen_prints_a_fresh_token_and_aes_key(tmp_path: Path) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path)
    first = dingkit("callback", "keygen", env=env)
    second = dingkit("callback", "keygen", "--json", env=env)

    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stderr == second.stderr == ""
    # Lines a shell can evaluate: `eval "$(dingkit callback keygen)"`.
    token_line, key_line = first.stdout.splitlines()
    token = token_line.removeprefix("export DINGTALK_CALLBACK_TOKEN=")
    aes_key = key_line.removeprefix("export DINGTALK_CALLBACK_AES_KEY=")
    keys = json.loads(second.stdout)
    assert set(keys) == {"token", "aes_key"}
    for made_token, made_key in ((token, aes_key), (keys["token"], keys["aes_key"])):
        # Both ways of registering take the token: the console 3-32 letters and digits,
        # register_call_back 6-63 characters (§7.1).
        assert re.fullmatch(r"[A-Za-z0-9]{32}", made_token)
        assert re.fullmatch(r"[A-Za-z0-9]{43}", made_key)
        crypto = CallbackCrypto(made_token, made_key, "dingcorp")
        envelope = crypto.seal("success")
        sealed = (envelope.signature, envelope.timestamp, envelope.nonce, envelope.encrypt)
        assert crypto.open(*sealed) == b"success"
    assert len({token, keys["token"]}) == 2  # fresh every time
    assert len({aes_key, keys["aes_key"]}) == 2


def test_keys_from_keygen_serve_and_register(sandbox_server: SandboxServer, tmp_path: Path) -> None:
    env = cli_env(sandbox_server.url, tmp_path)
    keys = json.loads(dingkit("callback", "keygen", "--json", env=env).stdout)
    corp_id = sandbox_server.sandbox.config.corp_id
    receiver = CallbackReceiver(
        environ={
            "DINGTALK_CALLBACK_TOKEN": keys["token"],
            "DINGTALK_CALLBACK_AES_KEY": keys["aes_key"],
            "DINGTALK_CORP_ID": corp_id,
        },
        data_dir=tmp_path,
        dispatch=False,
    )
    served = Served(receiver)
    try:
        env |= {
            "DINGTALK_CALLBACK_TOKEN": keys["token"],
            "DINGTALK_CALLBACK_AES_KEY": keys["aes_key"],
        }
        registered = dingkit(
            "callback", "register", "--url", f"{served.url}/", "--tag", "user_add_org", env=env
        )
    finally:
        served.stop()
    assert registered.returncode == 0, registered.stderr


@pytest.mark.anyio
async def test_refused_pushes_are_logged_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = CallbackReceiver(TOKEN, AES_KEY, "dingcorp", data_dir=tmp_path, dispatch=False)
    transport = httpx.ASGITransport(app=receiver)
    signature = "f" * 40
    with caplog.at_level(logging.WARNING, logger="dingkit.callback"):
        async with httpx.AsyncClient(transport=transport, base_url="http://r") as http:
            query = {"signature": signature, "timestamp": "1", "nonce": "n"}
            await http.post("/", params=query, json={"encrypt": "QUJD"})
    (record,) = [r for r in caplog.records if r.name == "dingkit.callback"]
    text = record.getMessage()
    assert "refused a push" in text
    assert "signature" in text
    for secret in (TOKEN, AES_KEY, signature, "QUJD"):
        assert secret not in text


def test_replay_with_exec_handles_the_event_here_and_now(
    tmp_path: Path, filled: dict[str, str]
) -> None:
    env = cli_env("http://127.0.0.1:9", tmp_path)
    out = tmp_path / "seen.jsonl"
    script = tmp_path / "handle.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'a').write(sys.stdin.read() + '\\n')\n")
    command = f"{sys.executable} {script}"
    data = ["--data-dir", str(tmp_path)]
    replayed = dingkit(
        "callback", "replay", filled["failed"], "--exec", command, "--json", *data, env=env
    )
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == {"id": filled["failed"], "state": "done"}
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    # The replayed event and the one that was pending: both handled once.
    assert sorted(event["event"]["n"] for event in seen) == ["failed", "pending"]
    failing = dingkit("callback", "replay", filled["done"], "--exec", "false", *data, env=env)
    assert failing.returncode == 1
    assert "handled here: failed" in failing.stdout
