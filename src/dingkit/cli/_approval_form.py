"""Approval forms on the command line: ``--form``/``--form-json`` turned into a form (a date
range may be written ``START..END``), and a template's form printed for people.

A date range's value is a JSON list string (§3.1), awkward to type in a shell; ``请假时间=
2026-12-10..2026-12-11`` (or ``~`` between the dates) is sent as ``["2026-12-10",
"2026-12-11"]`` when the template's form (read from the form-schema endpoint) says the field
is a ``DDDateRangeField``. An app that may not read forms gets the conversion wherever both
ends are dates.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import typer

from .._exceptions import PermissionDeniedError
from ._params import parse_pairs, read_json

if TYPE_CHECKING:
    from .._client import DingTalk
    from ..resources.approval import FormField, FormSchema

__all__ = ["encode_ranges", "merge_form", "print_schema", "read_form"]

_RANGE = re.compile(r"\s*(\S.*?)\s*(?:\.\.|~)\s*(\S.*?)\s*")
_DATED = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?")


def read_form(pairs: list[str] | None, form_json: str | None) -> tuple[Any, list[tuple[str, str]]]:
    """``--form-json`` (an object label → value, or DingTalk's list of ``{"name", "value"}``)
    and the ``--form Label=value`` pairs, checked but not merged yet."""
    base: Any = {}
    if form_json is not None:
        base = read_json(form_json, "--form-json")
        valid_list = isinstance(base, list) and all(
            isinstance(item, dict) and isinstance(item.get("name"), str) and "value" in item
            for item in base
        )
        if not isinstance(base, dict) and not valid_list:
            raise typer.BadParameter(
                '--form-json: expected an object {"Label": value, ...} or a list of '
                '{"name": ..., "value": ...}'
            )
    return base, parse_pairs(pairs, "--form")


def merge_form(base: Any, given: list[tuple[str, str]]) -> Any:
    """Every ``--form`` pair over ``--form-json``."""
    if isinstance(base, dict):
        return {**base, **dict(given)}
    replaced = {name for name, _ in given}
    items = [item for item in base if item["name"] not in replaced]
    return items + [{"name": name, "value": value} for name, value in given]


def _range(value: str) -> tuple[str, str] | None:
    if value.lstrip().startswith("["):
        return None  # already DingTalk's JSON list
    found = _RANGE.fullmatch(value)
    return (found[1], found[2]) if found else None


def _range_names(client: DingTalk, process: str) -> set[str] | None:
    """The names of the template's date-range fields; ``None`` when the app may not read
    forms (Workflow.Form.Read), which need not stop it starting an approval."""
    try:
        schema = client.approval.template(process)
    except PermissionDeniedError:
        return None
    ranges = [field for field in schema.fields if field.type == "DDDateRangeField"]
    return {name for field in ranges for name in (field.name, field.label)}


def encode_ranges(
    client: DingTalk, process: str, given: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``given`` with each ``START..END`` of a date-range field as its JSON list string."""
    if not any(_range(value) for _, value in given):
        return given  # nothing to convert: no need to read the form
    names = _range_names(client, process)
    encoded = []
    for name, value in given:
        parts = _range(value)
        if parts is not None and (
            name in names if names is not None else all(_DATED.fullmatch(p) for p in parts)
        ):
            value = json.dumps(list(parts), ensure_ascii=False)
        encoded.append((name, value))
    return encoded


# -- printing a form ------------------------------------------------------------------------


def _field_lines(field: FormField, indent: str) -> list[str]:
    need = "required" if field.required else "optional"
    lines = [f"{indent}{field.label or '(no label)'}  {need}"]
    rows: list[tuple[str, str]] = [("type", field.type), ("id", field.id or "-")]
    if field.name != field.label:
        rows.append(("name", field.name))  # a two-label range is named by both
    if field.options:
        rows.append(("options", " | ".join(field.options)))
    if field.format:
        rows.append(("format", field.format))
    if field.props.unit:
        rows.append(("unit", field.props.unit))
    rows.append(("value", field.value_format))
    if field.type == "DDDateRangeField":
        from ..resources.approval import DATE_FORMATS

        pattern = DATE_FORMATS.get(field.format or "", "YYYY-MM-DD")
        rows.append(("--form", f"'{field.name}={pattern}..{pattern}'"))
    # One "key: value" per line, never wrapped or cut: ids and names stay whole.
    lines += [f"{indent}  {key + ':':<9} {value}" for key, value in rows]
    for child in field.children:
        lines += _field_lines(child, indent + "    ")
    return lines


def print_schema(schema: FormSchema) -> None:
    fields = schema.fields
    title = schema.name or schema.schema_content.title
    count = f"{len(fields)} field" + ("" if len(fields) == 1 else "s")
    typer.echo("  ".join(part for part in (schema.form_code, title, f"({count})") if part))
    for field in fields:
        typer.echo("")
        typer.echo("\n".join(_field_lines(field, "")))
