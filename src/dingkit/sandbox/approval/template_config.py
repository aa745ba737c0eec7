"""The ``[[process]]`` tables of the sandbox's config: approval templates (审批模板) and the
components of their forms (§3.1). Checked when the config is read; the rules that hold a form
to its template are in :mod:`.templates`.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...resources import approval as api

__all__ = ["COMPONENT_TYPES", "ComponentType", "FormComponentConfig", "ProcessConfig"]

#: The form component types a ``[[process]]`` form may use (DingTalk's names, §3.1).
COMPONENT_TYPES = (
    "TextField",
    "TextareaField",
    "NumberField",
    "MoneyField",
    "DDSelectField",
    "DDMultiSelectField",
    "DDDateField",
    "DDDateRangeField",
)
ComponentType = Literal[
    "TextField",
    "TextareaField",
    "NumberField",
    "MoneyField",
    "DDSelectField",
    "DDMultiSelectField",
    "DDDateField",
    "DDDateRangeField",
]


class _Strict(BaseModel):
    # As the rest of the config: unknown keys are mistakes, and settings do not change.
    model_config = ConfigDict(extra="forbid", frozen=True)


_DATED = ("DDDateField", "DDDateRangeField")
#: Components with a unit (天, 小时): "数字组件/日期区间组件单位属性" [C, D:obtain-the-form-schema].
_UNITS = ("NumberField", "DDDateRangeField")


class FormComponentConfig(_Strict):
    """One component of a template's form, as the form-schema endpoint describes it.

    A ``DDDateRangeField`` has one label (``请假时间``) or two, start and end, which a request
    names as a JSON array string (§3.1); its value is the JSON list of both dates. ``format``
    (dates only) is ``yyyy-MM-dd`` (the default) or ``yyyy-MM-dd HH:mm``.
    """

    label: str | tuple[str, str]
    type: ComponentType
    required: bool = False
    options: tuple[str, ...] = ()
    format: Literal["yyyy-MM-dd", "yyyy-MM-dd HH:mm"] | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _shape(self) -> FormComponentConfig:
        labels = (self.label,) if isinstance(self.label, str) else self.label
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be blank")
        if isinstance(self.label, tuple) and self.type != "DDDateRangeField":
            raise ValueError("only a DDDateRangeField takes two labels: [start, end]")
        selects = self.type in ("DDSelectField", "DDMultiSelectField")
        if selects and not self.options:
            raise ValueError(f"a {self.type} needs options")
        if not selects and self.options:
            raise ValueError(f"a {self.type} takes no options")
        if self.format is not None and self.type not in _DATED:
            raise ValueError(f"a {self.type} takes no format (dates and date ranges do)")
        if self.unit is not None and self.type not in _UNITS:
            raise ValueError(f"a {self.type} takes no unit (numbers and date ranges do)")
        return self

    @property
    def date_format(self) -> str | None:
        """The format of a date or a date range's values (DingTalk's spelling)."""
        if self.type not in _DATED:
            return None
        return self.format or api.DEFAULT_DATE_FORMAT

    @property
    def date_pattern(self) -> str | None:
        """:attr:`date_format` as people write it (``YYYY-MM-DD``)."""
        return api.DATE_FORMATS[self.date_format] if self.date_format else None

    @property
    def name(self) -> str:
        """The ``name`` a request gives this component (§3.1: a date range's is a JSON array
        string of its two labels)."""
        if isinstance(self.label, str):
            return self.label
        return json.dumps(list(self.label), ensure_ascii=False, separators=(",", ":"))


class ProcessConfig(_Strict):
    """An approval template (审批模板): its code, name and form."""

    code: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=64)
    form: tuple[FormComponentConfig, ...] = Field(default=(), max_length=api.MAX_FORM_COMPONENTS)

    @model_validator(mode="after")
    def _unique_labels(self) -> ProcessConfig:
        names = [component.name for component in self.form]
        if len(set(names)) != len(names):
            raise ValueError("form labels must be unique within a template")
        return self
