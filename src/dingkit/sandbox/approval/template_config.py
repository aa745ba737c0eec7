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


class FormComponentConfig(_Strict):
    """One component of a template's form. A ``DDDateRangeField`` has two labels (start and
    end), which the request names as a JSON array string (§3.1)."""

    label: str | tuple[str, str]
    type: ComponentType
    required: bool = False
    options: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> FormComponentConfig:
        labels = (self.label,) if isinstance(self.label, str) else self.label
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be blank")
        if (self.type == "DDDateRangeField") != isinstance(self.label, tuple):
            raise ValueError("a DDDateRangeField, and only it, takes two labels: [start, end]")
        selects = self.type in ("DDSelectField", "DDMultiSelectField")
        if selects and not self.options:
            raise ValueError(f"a {self.type} needs options")
        if not selects and self.options:
            raise ValueError(f"a {self.type} takes no options")
        return self

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
