"""What an app may call, checked before any endpoint runs: its IP allow-list, the permission
point the endpoint needs, and its monthly quota (§9.3). Pure but for the call counter.

    refusal = check_grants(app, endpoint, client_ip="203.0.113.7")
    # Refusal(kind="scope", detail="qyapi_get_member") -> 60011 / 403 AccessTokenPermissionDenied

The order is [I]: DingTalk documents none. The address comes first (a gateway sees it before
anything else), then the permission, then the quota, which counts only calls that got that
far. The visible range of the contacts is the contacts rules' own check (50002/50004).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from ..._request import Endpoint
from ..._wire import CHINA
from ..allowlists import allows
from ..config import AppConfig
from .records import AppRecords

__all__ = ["Refusal", "check_grants", "check_quota", "quota_month"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an app may not make a call: its address, a permission it lacks, or its quota."""

    kind: Literal["ip", "scope", "quota"]
    detail: str  # the caller's address, the missing permission point, the quota


def check_grants(app: AppConfig, endpoint: Endpoint, *, client_ip: str | None) -> Refusal | None:
    """The first grant the call lacks, or ``None``."""
    if app.ip_allowlist and not allows(app.ip_allowlist, client_ip):
        return Refusal("ip", client_ip or "unknown")
    if not app.grants(endpoint.scope):
        assert endpoint.scope is not None
        return Refusal("scope", endpoint.scope)
    return None


def quota_month(now: float) -> str:
    """The China-time month a call at ``now`` (epoch seconds) counts in: ``"2026-12"``."""
    return dt.datetime.fromtimestamp(now, CHINA).strftime("%Y-%m")


def check_quota(
    app: AppConfig, endpoint: Endpoint, records: AppRecords, *, now: float
) -> Refusal | None:
    """Count the call against the app's monthly quota; a refusal once it is used up.
    Exempt endpoints (tokens, identity, contacts, §9.3) neither count nor get refused."""
    if app.monthly_quota is None or endpoint.quota_exempt:
        return None
    if records.count_call(app.app_key, quota_month(now)) > app.monthly_quota:
        return Refusal("quota", str(app.monthly_quota))
    return None
