"""The base of every response model: DingTalk's field names, unknown fields kept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["DingTalkModel"]


class DingTalkModel(BaseModel):
    # DingTalk adds fields over time: keep them (``model_extra``) rather than fail or drop.
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)
