"""Config errors in the user's words: pydantic's locations turned into ``route "prod":
rules[0].match``, one line per problem."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
)

from ..._exceptions import ConfigurationError
from .auth_kinds import AUTH_KINDS
from .fields import MAX_PROBLEMS, NAME_RE
from .relay import RelayConfig

# Error messages: pydantic's locations turned into `route "prod": rules[0].match`.


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _field(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def _known_keys(loc: tuple[str | int, ...]) -> str | None:
    """The keys allowed next to the unknown key at ``loc``."""
    model: type[BaseModel] = RelayConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in AUTH_KINDS and issubclass(AUTH_KINDS[part], BaseModel):
            model = AUTH_KINDS[part]
            continue
        info = _field(model, part)
        models = _models_in(info.annotation) if info else []
        if len(models) == 1:
            model = models[0]
        elif not models:
            return None
    return ", ".join(info.alias or name for name, info in model.model_fields.items())


def _where(raw: Mapping[str, Any], loc: tuple[str | int, ...]) -> tuple[str, list[str | int]]:
    """``route "prod"`` (or ``route[2]``) for the table, and the path inside it."""
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        tables = raw.get(loc[0]) if isinstance(raw, Mapping) else None
        name = None
        if isinstance(tables, list) and loc[1] < len(tables) and isinstance(tables[loc[1]], dict):
            name = tables[loc[1]].get("name")
        if isinstance(name, str) and NAME_RE.fullmatch(name):
            return f'{loc[0]} "{name}"', list(loc[2:])
        return f"{loc[0]}[{loc[1]}]", list(loc[2:])
    if loc and loc[0] == "relay":
        return "[relay]", list(loc[1:])
    if loc and loc[0] == "owners":
        return "[owners]", list(loc[1:])
    return "", list(loc)


def _path(parts: list[str | int]) -> str:
    text = ""
    previous: str | int | None = None
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif previous == "auth" and part in AUTH_KINDS:
            continue  # the union's tag, already said by `kind`
        elif "[" in part or part.startswith("function-"):
            continue  # pydantic's names for validator layers
        else:
            text += f".{part}" if text else part
        previous = part
    return text


# pydantic's wording names Python types ("a valid tuple", "instance of RouteConfig").
_PLAIN = {
    "tuple_type": "expected a list",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "int_type": "expected a whole number",
}


def problem(raw: Mapping[str, Any], error: Any) -> str:
    loc = tuple(error["loc"])
    table, inner = _where(raw, loc)
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _PLAIN:
        message = _PLAIN[kind]
    elif kind == "union_tag_not_found":
        message = f"give kind: one of {', '.join(AUTH_KINDS)}"
    elif kind == "union_tag_invalid":
        tag = str((error.get("ctx") or {}).get("tag", ""))[:40]
        message = f'unknown kind "{tag}" (known: {", ".join(AUTH_KINDS)})'
    elif kind == "extra_forbidden":
        known = _known_keys(loc)
        message = "unknown key" + (f" (known: {known})" if known else "")
    elif kind == "missing" and loc in (("robot",), ("route",)):
        return f"no [[{loc[0]}]] table: declare at least one"
    elif kind == "missing":
        message = "missing: this key is required"
    elif kind == "timezone_aware":
        message = "give an offset (RFC 3339), e.g. 2026-12-06T02:00:00+08:00"
    path = _path(inner)
    parts = [part for part in (table, path) if part]
    if not parts:
        return message
    return f"{': '.join(parts)}: {message}"


def raise_problems(where: str, problems: list[str]) -> typing.NoReturn:
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    text = "; ".join(shown) + (f"; and {more} more" if more else "")
    raise ConfigurationError(f"{where}{text}")
