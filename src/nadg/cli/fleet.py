"""`nadg` commands: workers (add, list, remove, drain, undrain), db upgrade and heartbeat."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import httpx
import typer

from nadg.cli.common import DbOption, JsonOption, app, exit_code_for, fail, load_settings
from nadg.cli.fleet_view import print_report, print_workers, worker_rows
from nadg.client import WorkerClient
from nadg.config import Settings
from nadg.errors import NadgError
from nadg.fleet import AddedWorker, add_worker
from nadg.heartbeat import Heartbeat, SweepReport
from nadg.registry.models import Worker, WorkerState
from nadg.registry.store import Registry, upgrade_database
from nadg.registry.urls import normalize_worker_url

T = TypeVar("T")

workers_app = typer.Typer(help="The registered workers.", no_args_is_help=True)
db_app = typer.Typer(help="The registry database.", no_args_is_help=True)
app.add_typer(workers_app, name="workers")
app.add_typer(db_app, name="db")

RefArgument = Annotated[str, typer.Argument(help="Worker id or URL.", show_default=False)]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a NadgError becomes one line on stderr and an exit code."""
    try:
        return asyncio.run(coroutine)
    except NadgError as exc:
        raise fail(exc.message, exit_code_for(exc)) from exc


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


# --- workers ---------------------------------------------------------------------------------


async def _add(
    settings: Settings, url: str, name: str | None, caps: list[str], slots: int | None, t: float
) -> AddedWorker:
    async with (
        await Registry.open(settings) as registry,
        WorkerClient(token=settings.client_token(), connect_timeout=t) as client,
    ):
        return await add_worker(
            registry, client, url, name=name, capabilities=caps, max_concurrency=slots, timeout=t
        )


@workers_app.command("add")
def workers_add(
    url: Annotated[str, typer.Argument(help="The worker's base URL (http or https).")],
    name: Annotated[str | None, typer.Option(help="A name to show instead of the URL.")] = None,
    capability: Annotated[
        list[str] | None,
        typer.Option("--capability", "-c", help="A capability (repeatable): python, llm..."),
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(min=1, help="Subtasks it may run at once.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for its /status.")] = 3.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a worker, or update the one with that URL; asks its /status for the details."""
    try:
        url = normalize_worker_url(url)
    except NadgError as exc:
        raise fail(exc.message, exit_code_for(exc)) from exc
    settings = load_settings(db)
    added = run(_add(settings, url, name, capability or [], max_concurrency, timeout))
    worker = added.worker
    if as_json:
        _out(json.dumps(worker.model_dump(mode="json")))
        return
    verb = "added" if added.created else "updated"
    seen = "answered /status" if added.status else "did not answer /status; added as given"
    _out(f"{verb} worker {worker.id} {worker.vm_url} ({worker.status}; {seen})")


async def _list(settings: Settings, status: WorkerState | None) -> tuple[list[Worker], Any]:
    async with await Registry.open(settings) as registry:
        workers = await registry.list_workers(status)
        uptime = await registry.uptime(datetime.now(UTC) - timedelta(hours=24))
    return workers, uptime


@workers_app.command("list")
def workers_list(
    status: Annotated[WorkerState | None, typer.Option(help="Only workers in this status.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The registered workers, with last ping, latency and uptime over 24 h."""
    workers, uptime = run(_list(load_settings(db), status))
    now = datetime.now(UTC)
    if as_json:
        _out(json.dumps(worker_rows(workers, uptime), indent=2))
    else:
        print_workers(workers, uptime, now)


async def _change(settings: Settings, ref: str, action: str) -> Worker:
    async with await Registry.open(settings) as registry:
        if action == "remove":
            return await registry.remove_worker(ref)
        target = WorkerState.DRAINING if action == "drain" else WorkerState.ACTIVE
        return await registry.set_worker_status(ref, target)


@workers_app.command("remove")
def workers_remove(ref: RefArgument, db: DbOption = None) -> None:
    """Forget a worker (its past subtasks stay in the history)."""
    worker = run(_change(load_settings(db), ref, "remove"))
    _out(f"removed worker {worker.id} {worker.vm_url}")


@workers_app.command("drain")
def workers_drain(ref: RefArgument, db: DbOption = None) -> None:
    """Give a worker no new subtasks; it keeps being checked."""
    worker = run(_change(load_settings(db), ref, "drain"))
    _out(f"worker {worker.id} {worker.vm_url} is draining")


@workers_app.command("undrain")
def workers_undrain(ref: RefArgument, db: DbOption = None) -> None:
    """Let a drained worker take subtasks again."""
    worker = run(_change(load_settings(db), ref, "undrain"))
    _out(f"worker {worker.id} {worker.vm_url} is active")


# --- db --------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the registry's tables (a seed database is adopted in place)."""
    where, changed = run(upgrade_database(load_settings(db)))
    _out(f"{where}: {'migrated to the newest revision' if changed else 'already up to date'}")


# --- heartbeat -------------------------------------------------------------------------------


async def _heartbeat(settings: Settings, every: float | None, as_json: bool) -> None:
    def show(report: SweepReport) -> None:
        if as_json:
            _out(json.dumps(report.to_dict(), default=str))
        else:
            print_report(report)
        sys.stdout.flush()

    limits = httpx.Limits(
        max_connections=settings.heartbeat_concurrency,
        max_keepalive_connections=min(settings.heartbeat_concurrency, 100),
    )
    async with (
        await Registry.open(settings) as registry,
        httpx.AsyncClient(limits=limits) as http,
    ):
        client = WorkerClient(http, token=settings.client_token())
        beat = Heartbeat(registry, client, settings, http=http)
        if every is None:
            show(await beat.run_once())
        else:
            await beat.run_forever(every, show)


@app.command()
def heartbeat(
    every: Annotated[
        float | None, typer.Option(min=0.1, help="Sweep every S seconds instead of once.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds per probe (default NADG_HEARTBEAT_TIMEOUT).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Probes in flight at once.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Probe every worker's /health, update their status, and print alerts."""
    settings = load_settings(db, heartbeat_timeout=timeout, heartbeat_concurrency=concurrency)
    try:
        run(_heartbeat(settings, every, as_json))
    except KeyboardInterrupt:
        return
