from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dingkit.relay.markdown import clip, format_time, md, safe_url


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("[a](https://x.example)", "［a］(https://x.example)"),
        ("![](https://x.example/p.png)", "!［］(https://x.example/p.png)"),
        ("<font color=#FF0000>red</font>", "‹font color=#FF0000›red‹/font›"),
        ("**bold** *it*", "∗∗bold∗∗ ∗it∗"),
        ("@all ping @13800000000", "＠all ping ＠13800000000"),
        ("# title", "＃ title"),
        ("- item", "－ item"),
        ("+ item", "＋ item"),
        ("12. item", "12． item"),
        ("3) item", "3） item"),
        ("line1\n> quote\n\n# h", "line1 › quote # h"),
        ("a\u202eb\u200bc\x00d", "abcd"),
        # Ordinary text is left as it is.
        ("cpu_usage_high > 90%", "cpu_usage_high › 90%"),
        ("-5 degrees, 1.5 GB, #123", "-5 degrees, 1.5 GB, #123"),
        ("  spaced   out  ", "spaced out"),
        (42, "42"),
    ],
)
def test_md_leaves_text_inert(text: object, shown: str) -> None:
    assert md(text) == shown


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        (
            "https://grafana.example/d/x?orgId=1&viewPanel=2",
            "https://grafana.example/d/x?orgId=1&viewPanel=2",
        ),
        ("http://h:9090/graph?g0.expr=a+%3E+0", "http://h:9090/graph?g0.expr=a+%3E+0"),
        ("https://x.example/a b)(c]<d>", "https://x.example/a%20b%29%28c%5D%3Cd%3E"),
        ("javascript:alert(1)", ""),
        ("JAVASCRIPT://x.example/%0aalert(1)", ""),
        ("/relative/path", ""),
        ("ftp://x.example/file", ""),
        ("https://", ""),
        ("http://[::1", ""),
    ],
)
def test_safe_url(url: str, safe: str) -> None:
    assert safe_url(url) == safe


def test_clip() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert clip("abc", 4) == "abc"


def test_format_time_prints_the_offset_not_an_ambiguous_abbreviation() -> None:
    moment = datetime(2024, 1, 15, 0, 30, tzinfo=UTC)
    assert format_time(moment, ZoneInfo("Asia/Shanghai")) == "2024-01-15 08:30:00 (UTC+08:00)"
    assert format_time(moment, ZoneInfo("America/New_York")) == "2024-01-14 19:30:00 (UTC-05:00)"
    assert format_time(moment, ZoneInfo("UTC")) == "2024-01-15 00:30:00 (UTC)"
    assert format_time(None, ZoneInfo("UTC")) == ""
