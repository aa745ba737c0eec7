"""``dingkit sandbox``: a local DingTalk under uvicorn. The server stack is imported here,
inside the command, so that other commands start fast."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .._config import data_dir as default_data_dir
from .._exceptions import ConfigurationError
from ._output import fail


class Errcodes(StrEnum):
    doc = "doc"
    observed = "observed"


def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8765,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the sandbox keeps its SQLite history. "
            "Default: <platform data dir>/dingkit/sandbox.",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Proxies (comma-separated addresses) whose X-Forwarded-For names the client "
            "for the IP allow-lists. Default: none; the peer's own address counts.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="TOML file with [[robot]], [[group]] and [[app]] tables and settings."
        ),
    ] = None,
    errcodes: Annotated[
        Errcodes | None,
        typer.Option(
            help="Answer with the documented errcodes or those observed from the live service "
            "in 2026 (overrides the config file)."
        ),
    ] = None,
    no_limits: Annotated[
        bool,
        typer.Option(
            "--no-limits",
            help="Switch off the 20-messages-a-minute robot limit and the server APIs' "
            "20-calls-a-second limit.",
        ),
    ] = False,
    org_size: Annotated[
        int | None,
        typer.Option(
            "--org-size",
            help="People in the generated organisation (overrides the config; default 300).",
            min=1,
            max=1_000_000,
        ),
    ] = None,
    org_depth: Annotated[
        int | None,
        typer.Option(
            "--org-depth",
            help="Department levels under the company (0: everyone directly in department 1; "
            "overrides the config; default 3).",
            min=0,
            max=3,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the generated organisation and attendance (overrides the config; "
            "default 42)."
        ),
    ] = None,
) -> None:
    """Run a local DingTalk: robot webhooks with DingTalk's rules, a chat page at /, and the
    server APIs (tokens, contacts, attendance) over a generated organisation."""
    from ..sandbox.config import load_config
    from ..sandbox.core import Sandbox
    from ..sandbox.server import run_foreground

    directory = data_dir or default_data_dir() / "sandbox"
    try:
        instance = Sandbox.from_settings(
            config=load_config(config) if config else None,
            data_dir=directory,
            errcodes=errcodes.value if errcodes else None,
            limits=False if no_limits else None,
            org_size=org_size,
            org_depth=org_depth,
            seed=seed,
        )
        run_foreground(
            instance,
            host=host,
            port=port,
            announce=typer.echo,
            data_dir=directory,
            forwarded_allow_ips=forwarded_allow_ips,
        )
    except ConfigurationError as error:
        fail(error)
    except OSError as error:
        fail(
            ConfigurationError(
                f"cannot serve on {host}:{port}: {error.strerror or error}; pick another --port"
            )
        )
