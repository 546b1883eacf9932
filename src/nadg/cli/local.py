"""`nadg demo` and `nadg up`: a grid of workers on this machine's loopback."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console

from nadg.cli.common import DbOption, app, load_settings
from nadg.cli.progress import ProgressView
from nadg.cli.render import print_run
from nadg.client import WorkerClient
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.examples import primes_plan
from nadg.fleet import add_worker
from nadg.grid import connect
from nadg.orchestrator import default_options
from nadg.registry import Registry
from nadg.registry.models import RunDetail, Worker, WorkerState

stdout = Console()
stderr = Console(stderr=True)

DEMO_LIMIT = 1_500_000


def with_token(settings: Settings, token: str) -> Settings:
    return settings.model_copy(update={"auth_token": SecretStr(token)})


async def register_local(registry: Registry, client: WorkerClient, urls: list[str]) -> list[Worker]:
    """Add each local worker, just started, to the registry as active."""
    added = [await add_worker(registry, client, url, activate=True) for url in urls]
    return [entry.worker for entry in added]


async def mark_offline(registry: Registry, workers: list[Worker]) -> None:
    for worker in workers:
        await registry.set_worker_status(worker.id, WorkerState.OFFLINE)


def wall_seconds(run: RunDetail) -> float:
    if run.created_at is None or run.finished_at is None:
        return 0.0
    return (run.finished_at - run.created_at).total_seconds()


@app.command()
def demo(
    workers: Annotated[int, typer.Option("--workers", min=1, max=32)] = 4,
    db: DbOption = None,
) -> None:
    """Start a local grid, count primes across it with a combining step, print the answer."""
    settings = load_settings(db)
    token = secrets.token_urlsafe(32)
    settings = with_token(settings, token)
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stderr.print(f"Starting a local grid of {workers} workers on 127.0.0.1 ...")
    cluster = LocalCluster(
        workers, token=token, max_concurrency=1, log_dir=log_dir, name_prefix="demo"
    )
    with cluster:
        stderr.print(f"  up in {time.perf_counter() - started:.1f} s: {', '.join(cluster.urls)}")
        run, alone, labels = asyncio.run(_demo_run(settings, cluster.urls))
    print_run(stdout, run, labels)
    grid_s, alone_s = wall_seconds(run), wall_seconds(alone)
    stdout.print(
        f"\nSpeed-up: {alone_s / grid_s:.2f}x over one worker ({alone_s:.1f} s alone, "
        f"{grid_s:.1f} s on {workers} workers; this machine has {os.cpu_count()} CPU cores)."
    )
    stdout.print(
        "Next: `nadg ui` shows this run and the fleet; `nadg runs show "
        f"{run.id}` shows every subtask; `nadg up` keeps a local grid running."
    )
    if run.status != "completed":
        raise typer.Exit(1)


async def _demo_run(
    settings: Settings, urls: list[str]
) -> tuple[RunDetail, RunDetail, dict[int, str]]:
    """The example across the grid, then the same work on one worker alone, for the speed-up."""
    options = default_options(settings, use_cache=False, synthesize=False)
    command = f"Count the primes below {DEMO_LIMIT:,} in parallel, then add up the parts"
    async with connect(settings) as orchestrator:
        registry = orchestrator.registry
        async with WorkerClient(token=settings.client_token()) as client:
            local = await register_local(registry, client, urls)
        try:
            with ProgressView(stderr) as view:
                orchestrator.on_event = view
                run = await orchestrator.submit(
                    command,
                    plan=primes_plan(DEMO_LIMIT, len(urls)),
                    planner="example",
                    options=options,
                )
            orchestrator.on_event = None
            stderr.print("Measuring the same work on one worker alone ...")
            alone = await orchestrator.submit(
                f"{command} (one worker, for comparison)",
                plan=primes_plan(DEMO_LIMIT, 1),
                planner="example",
                options=options,
            )
        finally:
            await mark_offline(registry, local)
    return run, alone, {worker.id: worker.label for worker in local}


@app.command()
def up(
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 4,
    max_concurrency: Annotated[int, typer.Option("--max-concurrency", min=1)] = 2,
    db: DbOption = None,
) -> None:
    """Start N workers on loopback, register them, and keep their heartbeat until Ctrl-C."""
    settings = load_settings(db)
    token = settings.token() or _fresh_local_token(settings.local_token_path)
    settings = with_token(settings, token)
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(workers, token=token, max_concurrency=max_concurrency, log_dir=log_dir)
    with cluster:
        for url in cluster.urls:
            stderr.print(f"worker {url}")
        every = settings.heartbeat_interval
        stderr.print(f"Registered; heartbeat every {every:g} s. Ctrl-C stops the grid.")
        try:
            asyncio.run(_serve(settings, cluster.urls))
        except KeyboardInterrupt:
            stderr.print("stopping the local grid ...")


async def _serve(settings: Settings, urls: list[str]) -> None:
    from nadg.heartbeat import Heartbeat

    registry = await Registry.open(settings)
    local: list[Worker] = []
    try:
        async with WorkerClient(token=settings.client_token()) as client:
            local = await register_local(registry, client, urls)
            await Heartbeat(registry, client, settings).run_forever()
    finally:
        await asyncio.shield(mark_offline(registry, local))
        await registry.close()


def _fresh_local_token(path: Path) -> str:
    """A new token for the local grid, kept where `nadg run` finds it (readable by you only)."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token
