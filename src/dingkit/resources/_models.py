"""The base of every response model: DingTalk's field names, unknown fields kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["CamelModel", "DingTalkModel", "guaranteed"]


class DingTalkModel(BaseModel):
    # DingTalk adds fields over time: keep them (``model_extra``) rather than fail or drop.
    # Its docs print numbers as strings and the reverse happens too: accept both (§0.3).
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, frozen=True, coerce_numbers_to_str=True
    )


class CamelModel(DingTalkModel):
    """A model of a camelCase answer (the new API, attendance): snake_case attributes, read
    from and dumped (``by_alias=True``) as DingTalk's camelCase names."""

    model_config = ConfigDict(alias_generator=to_camel)


def guaranteed(data: Any, name: str, kind: type[Any] | tuple[type[Any], ...]) -> Any:
    """``data[name]``, a field the reference guarantees in a success answer. Missing or of
    another type, the answer is malformed, not empty: ``ValueError`` naming the field, which
    the client raises as ``ServerError`` naming the endpoint (issue 10: never "no data")."""
    value = data.get(name) if isinstance(data, Mapping) else None
    if not isinstance(value, kind):
        shown = "missing" if value is None else f"a {type(value).__name__}"
        raise ValueError(f"the success answer's {name!r} is {shown}")
    return value
