"""One command line: a short flag means the same thing in every command (issue 11)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import typer.main

from dingkit.cli import app


def _commands(command: Any, path: str = "dingkit") -> list[tuple[str, Any]]:
    """Every command under ``command`` (typer's own click classes: checked by shape)."""
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, f"{path} {name}")
    return found


def test_every_short_flag_has_one_meaning() -> None:
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if param.param_type_name != "option":
                continue
            names = [*param.opts, *param.secondary_opts]
            longs = sorted(name for name in names if name.startswith("--"))
            for short in (name for name in names if len(name) == 2 and name[0] == "-"):
                meanings[short][longs[0] if longs else short].append(path)
    clashes = {short: dict(uses) for short, uses in meanings.items() if len(uses) > 1}
    assert clashes == {}
