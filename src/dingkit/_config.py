"""Where dingkit finds its endpoints, credentials and config file. No network I/O.

Constructor arguments win over environment variables; the environment is read when a client
is built, never at import time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_OAPI_BASE_URL",
    "api_base_url",
    "config_dir",
    "config_file",
    "data_dir",
    "oapi_base_url",
    "rate_limit_file",
    "redis_url",
]

DEFAULT_OAPI_BASE_URL = "https://oapi.dingtalk.com"
DEFAULT_API_BASE_URL = "https://api.dingtalk.com"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def oapi_base_url(environ: Mapping[str, str] | None = None) -> str:
    """The old-API family's base URL: ``DINGTALK_OAPI_BASE_URL`` or DingTalk's own."""
    value = _env(environ).get("DINGTALK_OAPI_BASE_URL", "").strip()
    return (value or DEFAULT_OAPI_BASE_URL).rstrip("/")


def api_base_url(environ: Mapping[str, str] | None = None) -> str:
    """The new-API family's base URL: ``DINGTALK_API_BASE_URL`` or DingTalk's own."""
    value = _env(environ).get("DINGTALK_API_BASE_URL", "").strip()
    return (value or DEFAULT_API_BASE_URL).rstrip("/")


def _platform_dir(kind: str, environ: Mapping[str, str]) -> Path:
    home = Path.home()
    if sys.platform == "win32":
        root = environ.get("APPDATA" if kind == "config" else "LOCALAPPDATA")
        return Path(root) if root else home / "AppData" / "Roaming"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support"
    xdg = "XDG_CONFIG_HOME" if kind == "config" else "XDG_DATA_HOME"
    default = home / ".config" if kind == "config" else home / ".local" / "share"
    value = environ.get(xdg, "").strip()
    return Path(value) if value else default


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The platform's config directory for dingkit (XDG on Linux)."""
    return _platform_dir("config", _env(environ)) / "dingkit"


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The platform's data directory for dingkit (XDG on Linux)."""
    return _platform_dir("data", _env(environ)) / "dingkit"


def config_file(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The config file: ``explicit``, else ``DINGKIT_CONFIG``, else ``<config dir>/config.toml``."""
    if explicit:
        return Path(explicit)
    env = _env(environ)
    if env.get("DINGKIT_CONFIG", "").strip():
        return Path(env["DINGKIT_CONFIG"].strip())
    return config_dir(env) / "config.toml"


def rate_limit_file(environ: Mapping[str, str] | None = None) -> Path:
    """The robots' shared rate-limit windows: ``<data dir>/rate-limits.json``, beside the CLI's
    token cache (``tokens.json``)."""
    return data_dir(environ) / "rate-limits.json"


def redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``DINGKIT_REDIS_URL``: the Redis that robots' rate-limit windows are shared through."""
    return _env(environ).get("DINGKIT_REDIS_URL", "").strip() or None
