"""How much a worker adds to a bare interpreter spawn, and how many trivial tasks/s it sustains.

    .venv/bin/python bench/worker_overhead.py [--tasks 300]

Starts one real `nadg worker` (2 slots) on loopback, sends `print(1)` tasks one at a time, and
compares the median round trip with the median bare `python -I -c "print(1)"` spawn of the same
interpreter by absolute path. Then sends the same number of tasks from 2 clients at once. Does
it all twice: with the warm pool (the default), and with a cold spawn per task
(`NADG_SANDBOX_WARM=0`), so the figures show what the pool buys.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from nadg.cluster import LocalCluster
from nadg.protocol import AUTH_HEADER


def bare_spawns(python: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run([python, "-I", "-c", "print(1)"], check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def round_trips(url: str, token: str, count: int, inside: list[float] | None = None) -> list[float]:
    """Round trips in ms; the worker's own figure for the sandboxed run goes to `inside`."""
    times = []
    with httpx.Client(headers={AUTH_HEADER: token}, timeout=30) as http:
        for n in range(count):
            body = {"task_id": f"bench-{n}-{secrets.token_hex(4)}", "task": "print(1)"}
            started = time.perf_counter()
            result = http.post(f"{url}/execute", json=body).json()
            times.append((time.perf_counter() - started) * 1000)
            assert result["stdout"] == "1\n", result
            if inside is not None:
                inside.append(result["duration_ms"])
    return times


async def throughput(url: str, token: str, count: int, clients: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            body = {"task_id": f"tput-{n}-{secrets.token_hex(4)}", "task": "print(1)"}
            response = await http.post(f"{url}/execute", json=body)
            assert response.status_code == 200, response.text

    async with httpx.AsyncClient(headers={AUTH_HEADER: token}, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return count / (time.perf_counter() - started)


@dataclass
class Figures:
    """What one worker configuration measured."""

    isolation: str
    round_trip: float  # median ms, one task at a time
    inside: float  # median ms the worker reports for the sandboxed run
    rate: float  # tasks/s from 2 clients


def measure(python: str, tasks: int, env: dict[str, str]) -> Figures:
    """Start one worker (2 slots) with `env`, warm it up, then time it."""
    token = secrets.token_urlsafe(16)
    with (
        tempfile.TemporaryDirectory() as logs,
        LocalCluster(1, token=token, max_concurrency=2, env=env, log_dir=Path(logs)) as cluster,
    ):
        url = cluster.urls[0]
        isolation = httpx.get(f"{url}/status").json()["isolation"]
        round_trips(url, token, 10)  # warm up (and let the pool fill)
        inside: list[float] = []
        worker = statistics.median(round_trips(url, token, tasks, inside))
        rate = asyncio.run(throughput(url, token, tasks, clients=2))
    return Figures(isolation, worker, statistics.median(inside), rate)


def report(name: str, figures: Figures, bare: float) -> None:
    worker = figures.round_trip
    print(f"{name}")
    print(f"  median worker round trip  {worker:7.1f} ms  (one at a time)")
    print(f"    of which sandboxed run  {figures.inside:7.1f} ms  (as the worker reports it)")
    print(f"  worker adds               {worker - bare:7.1f} ms  (target <= 10 ms)")
    print(f"  ratio worker / bare       {worker / bare:7.2f}")
    print(f"  throughput, 2 slots       {figures.rate:7.1f} tasks/s  (target >= 60)")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300)
    args = parser.parse_args()
    python = os.path.abspath(sys.executable)
    load = _load()
    bare_spawns(python, 10)
    bare = statistics.median(bare_spawns(python, args.tasks))
    warm = measure(python, args.tasks, {})
    cold = measure(python, args.tasks, {"NADG_SANDBOX_WARM": "0"})
    system = statistics.median(bare_spawns("/usr/bin/python3", 50))
    print(f"isolation in force        {warm.isolation}")
    print(f"interpreter               {python}")
    print(f"tasks per measure         {args.tasks}")
    print(f"median bare spawn         {bare:7.1f} ms  (python -I -c 'print(1)')")
    print(f"reference /usr/bin/python3 spawn {system:5.1f} ms")
    report("warm pool (default: one ready sandbox per slot)", warm, bare)
    report("cold spawn per task (NADG_SANDBOX_WARM=0)", cold, bare)
    print(f"load average              {load} before, {_load()} after (2 cores)")


if __name__ == "__main__":
    main()
