"""How much a worker adds to a bare interpreter spawn, and how many trivial tasks/s it sustains.

    .venv/bin/python bench/worker_overhead.py [--tasks 300]

Starts one real `nadg worker` (2 slots) on loopback, sends `print(1)` tasks one at a time, and
compares the median round trip with the median bare `python -I -c "print(1)"` spawn of the same
interpreter by absolute path. Then sends the same number of tasks from 2 clients at once.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300)
    args = parser.parse_args()
    python = os.path.abspath(sys.executable)
    token = secrets.token_urlsafe(16)
    with (
        tempfile.TemporaryDirectory() as logs,
        LocalCluster(1, token=token, max_concurrency=2, log_dir=Path(logs)) as cluster,
    ):
        url = cluster.urls[0]
        isolation = httpx.get(f"{url}/status").json()["isolation"]
        round_trips(url, token, 10)  # warm up
        bare_spawns(python, 10)
        inside: list[float] = []
        worker = statistics.median(round_trips(url, token, args.tasks, inside))
        bare = statistics.median(bare_spawns(python, args.tasks))
        system = statistics.median(bare_spawns("/usr/bin/python3", 50))
        rate = asyncio.run(throughput(url, token, args.tasks, clients=2))
    print(f"isolation in force        {isolation}")
    print(f"interpreter               {python}")
    print(f"median worker round trip  {worker:7.1f} ms  ({args.tasks} tasks, one at a time)")
    print(
        f"  of which sandboxed run  {statistics.median(inside):7.1f} ms  (bwrap, setpriv, python)"
    )
    print(f"median bare spawn         {bare:7.1f} ms  (python -I -c 'print(1)')")
    print(f"worker adds               {worker - bare:7.1f} ms  (target <= 10 ms)")
    print(f"ratio worker / bare       {worker / bare:7.2f}")
    print(f"reference /usr/bin/python3 spawn {system:5.1f} ms")
    print(f"throughput, 2 slots       {rate:7.1f} tasks/s  (target >= 60)")


if __name__ == "__main__":
    main()
