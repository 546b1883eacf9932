"""`nadg worker`: run a worker node."""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated

import typer

from nadg.cli.common import EXIT_USAGE, DbOption, app, fail, load_settings
from nadg.config import Settings

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(settings: Settings) -> str | None:
    """Why this worker must not start as configured, or None."""
    if settings.auth_token is None and not settings.insecure and not is_loopback(settings.host):
        return (
            f"refusing to listen on {settings.host} without a token: set NADG_AUTH_TOKEN "
            "(or --token), or pass --insecure to run open to the network"
        )
    return None


@app.command()
def worker(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 7860).")] = None,
    token: Annotated[
        str | None, typer.Option(help="Auth token (prefer NADG_AUTH_TOKEN: ps shows options).")
    ] = None,
    worker_id: Annotated[str | None, typer.Option(help="Worker id (default: $WORKER_ID).")] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Tasks run at once; more get 429.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A capability tag (repeatable): nlp, cv...")
    ] = None,
    allow_network: Annotated[
        bool, typer.Option("--allow-network", help="Let tasks use the network.")
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback address without a token.")
    ] = False,
    register: Annotated[
        bool, typer.Option("--register", help="Add this worker to the registry on start.")
    ] = False,
    public_url: Annotated[
        str | None, typer.Option(help="URL the master uses (default: Space URL or host:port).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Run a worker node: an HTTP service that runs subtasks in a sandbox."""
    settings = load_settings(
        db,
        host=host,
        port=port,
        auth_token=token,
        worker_id=worker_id,
        max_concurrency=max_concurrency,
        tags=tag or None,
        allow_network=allow_network or None,
        insecure=insecure or None,
        register_self=register or None,
        public_url=public_url,
    )
    if reason := refusal(settings):
        raise fail(reason, EXIT_USAGE)
    serve(settings)


def serve(settings: Settings) -> None:
    """Run the worker app under uvicorn until SIGINT/SIGTERM."""
    import uvicorn

    from nadg.worker.app import create_app

    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=not quiet,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
