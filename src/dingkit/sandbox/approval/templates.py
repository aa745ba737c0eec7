"""Approval templates (审批模板) and the check of a form against one (§3.1). Pure.

Templates come from the config's ``[[process]]`` tables or, without any, from
:data:`DEFAULT_PROCESSES`: leave (请假), expense (报销) and purchase (采购), with the stable
codes the README uses (``PROC-LEAVE``...).

    template = processes_of(config)[LEAVE_CODE]
    values = check_form(template, [{"name": "请假类型", "value": "年假"}, ...])

A value that does not fit its component raises :class:`FormError` naming the component's
label, which the API answers as ``formConverterError`` "表单数据校验失败，失败控件：<label>",
followed by the format the component expects.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..._wire import parse_json_strict
from ...resources import approval as api
from ..config import SandboxConfig
from .template_config import FormComponentConfig, ProcessConfig

__all__ = [
    "DEFAULT_PROCESSES",
    "EXPENSE_CODE",
    "LEAVE_CODE",
    "PURCHASE_CODE",
    "FormError",
    "check_form",
    "component_id",
    "expected_value",
    "processes_of",
]

#: The default templates' codes; real ones look like ``PROC-<8>-<...>``, these stay readable.
LEAVE_CODE = "PROC-LEAVE"
EXPENSE_CODE = "PROC-EXPENSE"
PURCHASE_CODE = "PROC-PURCHASE"
MAX_VALUE_CHARS = api.MAX_VALUE_CHARS
MAX_COMPONENTS = api.MAX_FORM_COMPONENTS

#: A date's exact shape per format (strptime alone takes "2026-1-5"), then its parse.
_DATES = {
    "yyyy-MM-dd": (re.compile(r"\d{4}-\d{2}-\d{2}"), "%Y-%m-%d"),
    "yyyy-MM-dd HH:mm": (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"), "%Y-%m-%d %H:%M"),
}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _component(
    label: str | tuple[str, str],
    kind: str,
    *,
    required: bool = True,
    options: tuple[str, ...] = (),
    unit: str | None = None,
) -> FormComponentConfig:
    return FormComponentConfig.model_validate(
        {"label": label, "type": kind, "required": required, "options": options, "unit": unit}
    )


DEFAULT_PROCESSES: tuple[ProcessConfig, ...] = (
    ProcessConfig(
        code=LEAVE_CODE,
        name="请假",
        form=(
            _component(
                "请假类型",
                "DDSelectField",
                options=("年假", "事假", "病假", "调休", "婚假", "产假", "陪产假", "丧假"),
            ),
            _component("请假时间", "DDDateRangeField", unit="天"),
            _component("请假天数", "NumberField", unit="天"),
            _component("请假事由", "TextareaField"),
        ),
    ),
    ProcessConfig(
        code=EXPENSE_CODE,
        name="报销",
        form=(
            _component(
                "报销类型",
                "DDSelectField",
                options=("差旅费", "交通费", "餐费", "招待费", "办公用品", "其他"),
            ),
            _component("报销金额（元）", "MoneyField"),
            _component("费用日期", "DDDateField"),
            _component("费用明细", "TextareaField", required=False),
            _component(
                "费用归属",
                "DDMultiSelectField",
                required=False,
                options=("研发", "产品", "销售", "市场", "行政"),
            ),
        ),
    ),
    ProcessConfig(
        code=PURCHASE_CODE,
        name="采购",
        form=(
            _component("采购事由", "TextField"),
            _component(
                "物品类别",
                "DDMultiSelectField",
                options=("电脑设备", "办公家具", "办公用品", "软件服务", "其他"),
            ),
            _component("数量", "NumberField"),
            _component("预计金额（元）", "MoneyField"),
            _component("期望交付日期", "DDDateField"),
            _component("备注", "TextareaField", required=False),
        ),
    ),
)


def processes_of(config: SandboxConfig) -> dict[str, ProcessConfig]:
    """The templates by code: the config's, or the defaults when it declares none."""
    return {process.code: process for process in config.processes or DEFAULT_PROCESSES}


class FormError(ValueError):
    """A form value that does not fit the template; ``label`` names the component,
    ``expected`` says what would fit."""

    def __init__(self, label: str, expected: str | None = None) -> None:
        # DingTalk's text (§3.1); what the component expects is the sandbox's addition [I].
        text = f"表单数据校验失败，失败控件：{label}"
        super().__init__(f"{text} (expected: {expected})" if expected else text)
        self.label = label
        self.expected = expected
        self.message = str(self)


def expected_value(component: FormComponentConfig) -> str:
    """How ``component``'s value is written, in the words of the SDK's form schema."""
    return api.value_format(
        component.type, date_format=component.date_format, options=component.options
    )


def component_id(process: ProcessConfig, component: FormComponentConfig) -> str:
    """A stable component id in DingTalk's ``<Type>-<8 characters>`` style [I]."""
    digest = zlib.crc32(f"{process.code}\0{component.name}".encode())
    return f"{component.type}-{digest:08X}"


def _key(name: str) -> str | tuple[str, ...]:
    # A date range is named by a JSON array string of its two labels (§3.1); compare the
    # labels, not the spelling of the JSON.
    if name.startswith("["):
        try:
            parsed = parse_json_strict(name)  # bounded: a name is caller text
        except ValueError:
            return name
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return tuple(parsed)
    return name


def _is_date(text: str, date_format: str) -> bool:
    shape, parse = _DATES[date_format]
    if not shape.fullmatch(text):
        return False
    try:
        datetime.strptime(text, parse)
    except ValueError:
        return False
    return True


def _json_strings(text: str) -> list[str] | None:
    try:
        parsed = parse_json_strict(text)
    except ValueError:
        return None
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        return None
    return parsed


def _fits(component: FormComponentConfig, value: str) -> bool:
    """Whether a non-empty ``value`` is what ``component`` takes (§3.1)."""
    kind = component.type
    if kind in ("NumberField", "MoneyField"):
        if not _NUMBER.fullmatch(value.strip()):
            return False
        try:
            Decimal(value.strip())
        except InvalidOperation:
            return False
        return True
    if kind == "DDSelectField":
        return value in component.options
    if kind == "DDMultiSelectField":
        # A JSON array string even for one item (§3.1).
        items = _json_strings(value)
        return items is not None and all(item in component.options for item in items)
    date_format = component.date_format or api.DEFAULT_DATE_FORMAT
    if kind == "DDDateField":
        return _is_date(value, date_format)
    if kind == "DDDateRangeField":
        # A JSON list of two dates, start first (§3.1); same format, so text order is time order.
        items = _json_strings(value)
        return (
            items is not None
            and len(items) == 2
            and all(_is_date(item, date_format) for item in items)
            and items[0] <= items[1]
        )
    return True  # TextField, TextareaField: any text


def check_form(process: ProcessConfig, values: Any) -> list[dict[str, Any]]:
    """``formComponentValues`` checked against ``process``; the values as the instance keeps
    them (``id``, ``name``, ``value``, ``componentType``, ``bizAlias``, ``extValue``), in the
    template's order. Empty values of optional components are left out.

    Raises:
        FormError: a value does not fit (unknown label, a required one missing, bad value).
        ValueError: ``formComponentValues`` is not a list of ``{name, value}`` objects.
    """
    if not isinstance(values, list):
        raise ValueError("formComponentValues 必须是数组")
    if len(values) > MAX_COMPONENTS:
        raise ValueError(f"formComponentValues 最多{MAX_COMPONENTS}项")
    by_key = {_key(component.name): component for component in process.form}
    given: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for index, item in enumerate(values):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ValueError(f"formComponentValues[{index}].name 必须是字符串")
        name, value = item["name"], item.get("value")
        component = by_key.get(_key(name))
        if component is None:
            names = ", ".join(c.name for c in process.form)
            raise FormError(name, f"one of the template's fields: {names}")
        if component.name in given:
            raise FormError(name, "each field once")
        if value is None:
            value = ""
        if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
            limit = f"a string of at most {MAX_VALUE_CHARS} characters"
            raise FormError(name, f"{expected_value(component)}, as {limit}")
        given[component.name] = (value, item)
    kept: list[dict[str, Any]] = []
    for component in process.form:
        value, item = given.get(component.name, ("", {}))
        if not value.strip() or (
            component.type == "DDMultiSelectField" and _json_strings(value) == []
        ):
            if component.required:
                raise FormError(component.name, f"required, {expected_value(component)}")
            continue
        if not _fits(component, value):
            raise FormError(component.name, expected_value(component))
        kept.append(
            {
                "id": component_id(process, component),
                "name": component.name,
                "value": value,
                "componentType": component.type,
                "bizAlias": str(item.get("bizAlias") or ""),
                **({"extValue": item["extValue"]} if isinstance(item.get("extValue"), str) else {}),
            }
        )
    return kept
