"""Dispatch benchmark: throughput, makespan and speed-up of a local grid, measured in one run.

    .venv/bin/python bench/dispatch.py [--repeat 3]

1. 400 trivial subtasks over 4 workers: subtasks/s and overhead per subtask, beside
   ProcessPoolExecutor(4) on the same work (target: >= 80 subtasks/s, sandbox included).
2. 32 subtasks of time.sleep(0.5) over 4 workers with 8 slots each: makespan / ideal 0.5 s
   (target: <= 1.4).
3. Counting primes below 2,000,000 in 8 chunks on 2 workers: speed-up over one process
   (target: >= 1.6 on a 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydantic import SecretStr

from nadg.client import WorkerClient
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.examples import COUNT_PRIMES, primes_plan
from nadg.orchestrator import Orchestrator, default_options
from nadg.planner import Plan, PlanSubtask
from nadg.protocol import TaskKind
from nadg.registry import Registry
from nadg.registry.models import RunDetail, RunState, WorkerState


def trivial_plan(count: int, code: str) -> Plan:
    # A distinct comment per subtask keeps every one a real send (no cache, no dedupe).
    return Plan(
        subtasks=[
            PlanSubtask(id=f"t{i}", kind=TaskKind.PYTHON, task=f"{code}  # {i}")
            for i in range(count)
        ]
    )


async def run_plan(settings: Settings, cluster: LocalCluster, plan: Plan) -> float:
    """Register the cluster in a fresh registry, run the plan, return the wall time."""
    registry = await Registry.open(settings)
    try:
        for worker in cluster.workers:
            await registry.upsert_worker(
                worker.url,
                name=worker.worker_id,
                capabilities=["python"],
                max_concurrency=cluster.max_concurrency,
                status=WorkerState.ACTIVE,
            )
        options = default_options(settings, use_cache=False, synthesize=False)
        async with WorkerClient(token=settings.token()) as client:
            orchestrator = Orchestrator(settings, registry, client)
            started = time.perf_counter()
            run: RunDetail = await orchestrator.submit("bench", plan=plan, options=options)
            wall = time.perf_counter() - started
        if run.status != RunState.COMPLETED:
            raise SystemExit(f"bench run {run.id} ended {run.status}: {run.error}")
        return wall
    finally:
        await registry.close()


def settings_for(workdir: Path, token: str, name: str) -> Settings:
    return Settings(
        home=workdir / "home",
        database_url=f"sqlite:///{workdir / name}.db",
        auth_token=SecretStr(token),
    )


def measure(workdir: Path, token: str, workers: int, slots: int, plan: Plan, repeat: int) -> float:
    """Median wall time of `repeat` runs of the plan on a fresh local grid."""
    walls = []
    with LocalCluster(workers, token=token, max_concurrency=slots, log_dir=workdir) as cluster:
        for attempt in range(repeat):
            settings = settings_for(workdir, token, f"r{len(plan.subtasks)}-{slots}-{attempt}")
            walls.append(asyncio.run(run_plan(settings, cluster, plan)))
    return statistics.median(walls)


def _print_one() -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        exec("print(1)", {})


def spawn_ceiling(count: int) -> float:
    """Fresh interpreters per second, 2 at a time: what one process per subtask costs here."""

    async def spawn_all() -> float:
        slots = asyncio.Semaphore(os.cpu_count() or 2)

        async def one() -> None:
            async with slots:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-S", "-c", "print(1)", stdout=subprocess.DEVNULL
                )
                await proc.wait()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)

    return asyncio.run(spawn_all())


def pool_wall(count: int, repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        with ProcessPoolExecutor(4) as pool:
            list(pool.map(_noop, range(count)))
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def _noop(_: int) -> None:
    _print_one()


def one_process_primes(limit: int, repeat: int) -> float:
    code = f"{COUNT_PRIMES}\nprint(count_primes(0, {limit}))\n"
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-c", code], check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="nadg-bench-") as tmp:
        workdir = Path(tmp)
        count = 400
        grid = measure(workdir, token, 4, 2, trivial_plan(count, "print(1)"), args.repeat)
        pool = pool_wall(count, args.repeat)
        print(f"1. {count} trivial subtasks, 4 workers x 2 slots (median of {args.repeat}):")
        print(f"   grid: {count / grid:7.1f} subtasks/s, {grid / count * 1000:6.2f} ms per subtask")
        per_task = pool / count * 1000
        print(f"   ProcessPoolExecutor(4): {count / pool:7.1f} tasks/s, {per_task:6.3f} ms a task")
        print(f"   ratio grid/pool per task: {grid / pool:.1f}x   (target: >= 80 subtasks/s)")
        ceiling = spawn_ceiling(count)
        print(f"   for scale: bare `python -I -S` spawns, one per core at a time: {ceiling:.1f}/s")

        sleeps = measure(
            workdir, token, 4, 8, trivial_plan(32, "import time; time.sleep(0.5)"), args.repeat
        )
        print(
            f"2. 32 x sleep(0.5), 4 workers x 8 slots: makespan {sleeps:.2f} s, "
            f"{sleeps / 0.5:.2f}x the ideal 0.5 s   (target: <= 1.4)"
        )

        limit = 2_000_000
        one = one_process_primes(limit, args.repeat)
        split = measure(workdir, token, 2, 1, primes_plan(limit, 8), args.repeat)
        print(
            f"3. primes below {limit:,}: one process {one:.2f} s, 8 chunks on 2 workers "
            f"{split:.2f} s, speed-up {one / split:.2f}x   (target: >= 1.6)"
        )


if __name__ == "__main__":
    main()
