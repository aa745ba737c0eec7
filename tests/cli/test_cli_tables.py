"""Tables (cli/_server.py): one style, no id or time ever broken across lines, a list layout
when the terminal is too narrow, moments as China wall-clock time."""

from __future__ import annotations

import pytest

from dingkit.cli._server import Format, emit, emit_one

ROWS = [
    {
        "userId": f"user-with-a-long-id-{n:04d}",
        "workDate": 1764518400000,  # 2025-12-01 00:00 China time
        "userCheckTime": 1764550536000 + n * 1000,
        "name": "唐伟",
    }
    for n in range(3)
]


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch):
    def set_width(width: int | None) -> None:
        if width is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", str(width))

    return set_width


def test_a_table_that_fits_keeps_every_cell_on_one_line(columns, capsys) -> None:
    columns(200)
    emit(ROWS, Format.table)
    lines = capsys.readouterr().out.splitlines()
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == len(ROWS)  # one line per row: nothing folded
    for row, line in zip(ROWS, body, strict=True):
        assert f"│ {row['userId']} │ 2025-12-01 │ 2025-12-01 08:55:" in line
    assert lines[1].replace("┃", " ").split() == ["userId", "workDate", "userCheckTime", "name"]


def test_a_narrow_terminal_gets_a_list_with_whole_values(columns, capsys) -> None:
    columns(40)
    emit(ROWS, Format.table)
    out = capsys.readouterr().out
    assert "│" not in out
    blocks = out.strip().split("\n\n")
    assert len(blocks) == len(ROWS)
    assert blocks[0].splitlines() == [
        "userId         user-with-a-long-id-0000",
        "workDate       2025-12-01",
        "userCheckTime  2025-12-01 08:55:36",
        "name           唐伟",
    ]


def test_piped_output_is_as_wide_as_it_needs(columns, capsys) -> None:
    columns(None)  # not a terminal under pytest, and no COLUMNS
    wide = [{**row, "address": "浙江省杭州市余杭区文一西路969号 " + "x" * 20} for row in ROWS]
    emit(wide, Format.table)
    body = [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert len(body) == len(ROWS)
    assert all(len(line) > 100 for line in body)


def test_one_object_reads_the_same_way_and_json_keeps_dingtalk_s_values(columns, capsys) -> None:
    columns(200)
    emit_one({"userid": "manager0001", "hired_date": 1325347200000, "active": True}, Format.table)
    out = capsys.readouterr().out
    assert "│ hired_date │ 2012-01-01  │" in out
    assert "│ active     │ true        │" in out
    emit_one({"hired_date": 1325347200000}, Format.json)
    assert '"hired_date": 1325347200000' in capsys.readouterr().out
