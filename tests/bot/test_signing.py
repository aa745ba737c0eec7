from __future__ import annotations

import hmac
from typing import Any

import pytest

from dingkit.bot import sign, verify
from dingkit.bot import signing as bot_signing
from dingkit.robot.signing import generate_signature

# §8.1's derived vector: the doc's sample input, same numbers as the custom robot's (§2.4).
TIMESTAMP = 1577262236757
SECRET = "this is a secret"
SIGN = "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA="
HOUR_MS = 60 * 60 * 1000


def test_the_reference_vector_signs_and_verifies() -> None:
    assert sign(TIMESTAMP, SECRET) == SIGN
    assert sign(str(TIMESTAMP), SECRET) == SIGN
    check = verify(str(TIMESTAMP), SIGN, SECRET, now_ms=TIMESTAMP)
    assert check.ok
    assert check
    assert check.reason is None


def test_the_sign_is_the_custom_robot_construction_not_url_encoded() -> None:
    secret = "this is secret"  # §2.4's second vector: its sign holds a '+'
    assert sign(TIMESTAMP, secret) == "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="
    assert sign(TIMESTAMP, secret) == generate_signature(secret, TIMESTAMP)


def test_vectors_file_agrees(vectors: dict[str, Any]) -> None:
    for case in vectors["robot_sign"]:
        assert sign(case["timestamp"], case["secret"]) == case["sign"]


@pytest.mark.parametrize("skew", [0, HOUR_MS, -HOUR_MS, 59 * 60 * 1000])
def test_within_an_hour_either_way_passes(skew: int) -> None:
    assert verify(TIMESTAMP, SIGN, SECRET, now_ms=TIMESTAMP + skew)


@pytest.mark.parametrize(("skew", "side"), [(HOUR_MS + 1, "old"), (-HOUR_MS - 1, "future")])
def test_more_than_an_hour_either_way_is_stale(skew: int, side: str) -> None:
    check = verify(TIMESTAMP, SIGN, SECRET, now_ms=TIMESTAMP + skew)
    assert not check
    assert check.reason == "stale"
    assert side in check.detail


def test_the_window_is_a_parameter() -> None:
    assert not verify(TIMESTAMP, SIGN, SECRET, now_ms=TIMESTAMP + 1001, tolerance_ms=1000)


@pytest.mark.parametrize("timestamp", [None, ""])
def test_a_missing_timestamp_is_named(timestamp: str | None) -> None:
    assert verify(timestamp, SIGN, SECRET, now_ms=TIMESTAMP).reason == "missing_timestamp"


@pytest.mark.parametrize(
    "timestamp", ["abc", "-1577262236757", "1577262236757.0", "1e12", "²", "١٥٧٧", "9" * 40, True]
)
def test_a_timestamp_that_is_not_milliseconds_is_bad(timestamp: Any) -> None:
    assert verify(timestamp, SIGN, SECRET, now_ms=TIMESTAMP).reason == "bad_timestamp"


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_sign_is_named(signature: str | None) -> None:
    assert verify(TIMESTAMP, signature, SECRET, now_ms=TIMESTAMP).reason == "missing_sign"


@pytest.mark.parametrize(
    "forged",
    [
        sign(TIMESTAMP, "another app's secret"),
        sign(TIMESTAMP + 1, SECRET),  # a real sign replayed with a fresher timestamp
        SIGN.rstrip("="),
        SIGN.lower(),
        "DJrE6qdyVGCQz9z5r2MDuNcNAhwYnuAkyj13cx169CA%3D",  # URL-encoded: headers are not
        "签名",
    ],
)
def test_a_forged_sign_is_a_mismatch(forged: str) -> None:
    check = verify(TIMESTAMP, forged, SECRET, now_ms=TIMESTAMP)
    assert check.reason == "mismatch"
    assert SECRET not in check.detail


def test_a_stale_timestamp_fails_before_the_sign_is_even_computed() -> None:
    assert verify(TIMESTAMP, "forged", SECRET, now_ms=TIMESTAMP + 2 * HOUR_MS).reason == "stale"


def test_signs_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(bot_signing.hmac, "compare_digest", spy)
    assert verify(TIMESTAMP, SIGN, SECRET, now_ms=TIMESTAMP)
    assert calls == [(SIGN.encode(), SIGN.encode())]
