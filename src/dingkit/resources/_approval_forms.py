"""Approval forms: what a template's form asks for, and form values written as DingTalk reads
them. No I/O.

Values (§3.1): :func:`form_component_values` turns ``{label: value}`` into
``formComponentValues``, every value a string, JSON-encoded when structured.

The schema:

``GET /v1.0/workflow/forms/schemas/processCodes?processCode=<code>[&appUuid=...]``, permission
``Workflow.Form.Read``, answers ``{"result": {"formCode", "name", "schemaContent": {"title",
"items": [{"componentName", "props": {"id", "label", "required", "options", "format", "unit",
...}, "children": [...]}]}, ...}}`` [C, ``D:obtain-the-form-schema`` (read in the
``apolloyyu/kb-dingtalk-open-platform`` mirror, 2026-06-03) and ``GOTEA:workflow_1_0/client.go``
``QuerySchemaByProcessCodeResponseBody*``]. Errors (HTTP 400): ``formNotExist``,
``invalidParameter``, ``noPermission``, ``aflowProcessCodeIsError``, ``internalError``; 500
``systemError`` [C, same page].

How each component takes its value in ``formComponentValues`` is the reference's §3.1;
:func:`value_format` says it in words, for people and for the sandbox's ``formConverterError``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from .._wire import parse_json_strict
from ._approval_models import FormComponentValue
from ._models import CamelModel, guaranteed

__all__ = [
    "DATE_FORMATS",
    "DEFAULT_DATE_FORMAT",
    "MAX_FORM_COMPONENTS",
    "MAX_VALUE_CHARS",
    "Form",
    "FormField",
    "FormFieldProps",
    "FormSchema",
    "SchemaContent",
    "form_component_values",
    "form_schema",
    "value_format",
]

MAX_VALUE_CHARS = 65535  # a form value (§3.1)
MAX_FORM_COMPONENTS = 150  # formComponentValues (§3.1)

#: DingTalk's ``props.format`` of date components → how a value is written. The page lists
#: ``format`` for DDDateField and DDDateRangeField with ``yyyy-MM-dd`` as its example [C]; the
#: minute form is the picker's other setting [I].
DATE_FORMATS = {"yyyy-MM-dd": "YYYY-MM-DD", "yyyy-MM-dd HH:mm": "YYYY-MM-DD HH:mm"}
DEFAULT_DATE_FORMAT = "yyyy-MM-dd"
_DATED = ("DDDateField", "DDDateRangeField")


def _date_pattern(date_format: str | None) -> str:
    return DATE_FORMATS.get(date_format or DEFAULT_DATE_FORMAT, date_format or "YYYY-MM-DD")


def value_format(
    component_name: str,
    *,
    date_format: str | None = None,
    options: tuple[str, ...] = (),
    list_options: bool = True,
) -> str:
    """How a value of ``component_name`` is written in ``formComponentValues`` (§3.1: always a
    string, JSON-encoded when structured); a select's options are listed unless
    ``list_options`` is false (when they are shown beside it)."""
    listed = " | ".join(options) if list_options else ""
    match component_name:
        case "DDDateField":
            return _date_pattern(date_format)
        case "DDDateRangeField":
            pattern = _date_pattern(date_format)
            return f'["{pattern}","{pattern}"], a JSON list of start and end, end not before start'
        case "DDSelectField":
            return f"one of: {listed}" if listed else "one of the options"
        case "DDMultiSelectField":
            example = json.dumps(list(options[:1]) or ["A"], ensure_ascii=False)
            among = f"; options: {listed}" if listed else ""
            return f"a JSON list of options, e.g. {example}{among}"
        case "NumberField" | "StarRatingField":
            return "a number, e.g. 2 or 1.5"
        case "MoneyField":
            return "an amount, e.g. 35.5"
        case "TextField" | "TextareaField":
            return "text"
        case "PhoneField":
            return "a phone number, mainland, with or without +86"
        case "InnerContactField":
            return 'a JSON list of userIds, e.g. ["manager0001"]'
        case "DepartmentField":
            return "department ids, comma-separated"
        case "AddressField":
            return "province,city,district"
        case "DDPhotoField":
            return "a JSON list of image URLs"
        case "RelateField":
            return "a JSON list of approval instance ids"
        case "DDAttachment":
            return "a JSON list of {spaceId, fileName, fileSize, fileType, fileId}"
        case "TableField":
            return 'a JSON list of rows, each a list of {"name", "value"}'
        case "TextNote":
            return "none: a note shown on the form"
    return "a string"


def _option(item: Any) -> str:
    # The page types options as strings [C]; live forms are also seen sending each option as a
    # {"key", "value"} object or as that object JSON-encoded [O: third-party schema readers
    # handle both]. Keep the text a request must send: the value.
    if isinstance(item, str) and item.startswith("{"):
        with contextlib.suppress(ValueError):  # not JSON after all: the text itself
            item = parse_json_strict(item)
    if isinstance(item, dict):
        return str(item.get("value", item.get("key", "")))
    return str(item)


class FormFieldProps(CamelModel):
    """A component's ``props``; the many others DingTalk sends stay in ``model_extra``.

    ``label`` is a string, except that a date range with a start and an end label names both:
    ``["开始时间", "结束时间"]`` [I: so the form-template API writes it; this page types label
    as a string].
    """

    id: str | None = None
    label: str | list[str] | None = None
    biz_alias: str | None = None
    required: bool = False
    placeholder: str | None = None
    options: list[str] = Field(default_factory=list)
    format: str | None = None
    unit: str | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, value: Any) -> Any:
        return [_option(item) for item in value] if isinstance(value, list) else value


class FormField(CamelModel):
    """One component of a template's form, with what a request needs to fill it in.

    ``name`` is what ``formComponentValues[].name`` must be (the label; for a two-label date
    range the JSON list of both, §3.1); ``value_format`` how its value is written.
    """

    component_name: str
    props: FormFieldProps
    children: list[FormField] = Field(default_factory=list)

    @property
    def type(self) -> str:
        return self.component_name

    @property
    def id(self) -> str | None:
        return self.props.id

    @property
    def labels(self) -> tuple[str, ...]:
        label = self.props.label
        if isinstance(label, list):
            return tuple(label)
        if label and label.startswith("[") and self.type == "DDDateRangeField":
            try:  # the two labels as a JSON string [I]
                parsed = parse_json_strict(label)
            except ValueError:
                parsed = None
            if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
                return tuple(parsed)
        return (label,) if label else ()

    @property
    def label(self) -> str:
        """The label as a person reads it (a two-label range: ``开始时间 ~ 结束时间``)."""
        return " ~ ".join(self.labels)

    @property
    def name(self) -> str:
        labels = self.labels
        if len(labels) > 1:
            return json.dumps(list(labels), ensure_ascii=False, separators=(",", ":"))
        return labels[0] if labels else ""

    @property
    def required(self) -> bool:
        return self.props.required

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(self.props.options)

    @property
    def format(self) -> str | None:
        """The date format (``yyyy-MM-dd`` unless the template says otherwise) of a date or a
        date range; ``None`` for other components."""
        if self.type in _DATED:
            return self.props.format or DEFAULT_DATE_FORMAT
        return self.props.format

    @property
    def value_format(self) -> str:
        """How the value is written (a select's options are in :attr:`options`)."""
        return value_format(
            self.type, date_format=self.format, options=self.options, list_options=False
        )


class SchemaContent(CamelModel):
    title: str | None = None
    icon: str | None = None
    items: list[FormField]


class FormSchema(CamelModel):
    """A template's form (``client.approval.template(code)``).

        schema = client.approval.template("PROC-LEAVE")
        for field in schema.fields:
            print(field.label, field.type, field.required, field.options, field.value_format)

    Dumped with ``by_alias=True`` it has DingTalk's key names.
    """

    form_code: str  # the process code
    name: str | None = None
    form_uuid: str | None = None
    memo: str | None = None
    status: str | None = None
    schema_content: SchemaContent

    @property
    def fields(self) -> list[FormField]:
        return self.schema_content.items

    def field(self, name: str) -> FormField | None:
        """The field a request names ``name`` (its label, or a two-label range's JSON list);
        a range's display label (``开始时间 ~ 结束时间``) is accepted too."""
        for found in self.fields:
            if name in (found.name, found.label):
                return found
        return None


def _item(data: Any) -> dict[str, Any]:
    guaranteed(data, "componentName", str)
    guaranteed(data, "props", dict)
    item = dict(data)
    if isinstance(item.get("children"), list):
        item["children"] = [_item(child) for child in item["children"]]
    return item


def form_schema(data: Any, process_code: str) -> FormSchema:
    """The form of a success answer. ``result``, its ``schemaContent``, the ``items`` and each
    item's ``componentName`` and ``props`` are what every form has; missing, the answer is
    malformed (``ValueError`` naming the field, raised by the client as ``ServerError``)."""
    result: dict[str, Any] = guaranteed(data, "result", dict)
    content = result.get("schemaContent")
    if isinstance(content, str):  # a JSON string in some answers [I]
        try:
            content = parse_json_strict(content)
        except ValueError:
            content = None
    content = guaranteed({"schemaContent": content}, "schemaContent", dict)
    items = guaranteed(content, "items", list)
    return FormSchema.model_validate(
        {
            **result,
            "formCode": result.get("formCode") or process_code,
            "schemaContent": {**content, "items": [_item(item) for item in items]},
        }
    )


# -- form values (§3.1: every value is a string, JSON-encoded when structured) --


def _scalar(value: Any, label: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"form field {label!r}: pass a string (the option's text), not a bool")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()  # yyyy-MM-dd
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _encode(value: Any, label: str) -> str:
    if isinstance(value, list | tuple):
        # Multi-select, contacts, images, related approvals, tables, attachments.
        items = [
            item if isinstance(item, dict | list | tuple) else _scalar(item, label)
            for item in value
        ]
        return json.dumps(items, ensure_ascii=False, default=lambda v: _scalar(v, label))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=lambda v: _scalar(v, label))
    scalar = _scalar(value, label)
    if not isinstance(scalar, str):
        raise ValueError(f"form field {label!r}: cannot encode {type(value).__name__}")
    return scalar


Form = Mapping[str | tuple[str, str], Any] | Iterable[Mapping[str, Any] | FormComponentValue]


def form_component_values(form: Form) -> list[dict[str, Any]]:
    """``formComponentValues`` from ``{label: value}``, encoded by §3.1's rules.

    - strings as they are; numbers as strings; dates as ``yyyy-MM-dd``;
    - lists (multi-select, contacts, images...) as a JSON array string, even for one item;
    - a date range as a pair of dates, ``{"请假时间": (d1, d2)}``, or under a pair of labels
      when it has two: ``{("开始时间", "结束时间"): (d1, d2)}``;
    - ``None`` leaves the field out.

    A list of ready ``{"name", "value", ...}`` items is passed through as it is.
    """
    values: list[dict[str, Any]] = []
    if not isinstance(form, Mapping):
        for item in form:
            if isinstance(item, FormComponentValue):
                values.append(item.model_dump(by_alias=True, exclude_none=True))
            else:
                values.append(dict(item))
        return values
    for label, value in form.items():
        if value is None:
            continue
        if isinstance(label, tuple):
            name = json.dumps(list(label), ensure_ascii=False)
            encoded = _encode(list(value), name)
        else:
            name, encoded = label, _encode(value, label)
        if len(encoded) > MAX_VALUE_CHARS:
            raise ValueError(f"form field {name!r} is over {MAX_VALUE_CHARS} characters")
        values.append({"name": name, "value": encoded})
    if len(values) > MAX_FORM_COMPONENTS:
        raise ValueError(f"at most {MAX_FORM_COMPONENTS} form fields per instance")
    return values
