"""`nadg ui`: serve the Streamlit control room over the configured registry."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from nadg.cli.common import DbOption, app, load_settings

APP_SCRIPT = Path(__file__).resolve().parent.parent / "ui" / "app.py"


def streamlit_command(port: int, host: str) -> list[str]:
    """The `streamlit run` command line: no setting, and so no secret, goes on it."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def ui_environment(base: Mapping[str, str], database_url: str | None) -> dict[str, str]:
    """The app's environment: ours, with `--db` passed as NADG_DATABASE_URL."""
    env = dict(base)
    if database_url:
        env["NADG_DATABASE_URL"] = database_url
    return env


@app.command()
def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    db: DbOption = None,
) -> None:
    """Open the web UI: the fleet, runs (live), history and metrics."""
    load_settings(db)  # fail here, with a clear message, on a broken configuration
    env = ui_environment(os.environ, db)
    sys.stderr.write(f"NADG UI on http://{host}:{port} (Ctrl-C to stop)\n")
    sys.stderr.flush()
    # Become Streamlit rather than wait on it: a signal meant for `nadg ui` (Ctrl-C, a
    # supervisor's SIGTERM) then reaches the server itself, and no orphan is left behind.
    command = streamlit_command(port, host)
    os.execve(command[0], command, env)
