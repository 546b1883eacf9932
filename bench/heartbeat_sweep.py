"""One heartbeat sweep over 1,000 registered workers: wall time vs timeout, database statements.

The workers are served by one helper process listening on many loopback ports: most answer
/health, some accept and never answer, and some ports are closed. Targets: the sweep takes at
most timeout + 2 s, and the number of database statements does not grow with the fleet.

    .venv/bin/python bench/heartbeat_sweep.py [--workers 1000] [--timeout 10] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from nadg.client import WorkerClient
from nadg.cluster import free_port
from nadg.config import Settings
from nadg.heartbeat import Heartbeat
from nadg.registry.store import Registry

SERVER = r"""
import asyncio, json, sys
from datetime import UTC, datetime

async def handle(reader, writer, hang):
    try:
        await reader.readuntil(b"\r\n\r\n")
        if hang:
            await asyncio.sleep(3600)
        body = json.dumps({"status": "healthy", "worker_id": "bench", "uptime_s": 1.0,
                           "timestamp": datetime.now(UTC).isoformat()}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     + b"content-length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()

async def main(healthy, hanging):
    ports = {}
    servers = []
    for kind, count in (("ok", healthy), ("hang", hanging)):
        for _ in range(count):
            server = await asyncio.start_server(
                lambda r, w, h=(kind == "hang"): handle(r, w, h), "127.0.0.1", 0, backlog=64)
            servers.append(server)
            ports.setdefault(kind, []).append(server.sockets[0].getsockname()[1])
    print(json.dumps(ports), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))


async def _register(registry: Registry, urls: list[str]) -> None:
    for url in urls:
        await registry.upsert_worker(url)


async def bench(args: argparse.Namespace, ports: dict[str, list[int]], closed: list[int]) -> None:
    settings = Settings(
        home=Path(args.home),
        database_url=args.db or f"sqlite:///{Path(args.home) / 'bench.db'}",
        heartbeat_timeout=args.timeout,
        heartbeat_concurrency=args.concurrency,
    )
    urls = [f"http://127.0.0.1:{port}" for port in ports["ok"] + ports["hang"] + closed]
    async with await Registry.open(settings) as registry:
        await _register(registry, urls)
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=100)
        async with httpx.AsyncClient(limits=limits) as http:
            beat = Heartbeat(registry, WorkerClient(http), settings)
            print(f"workers: {len(urls)} ({len(ports['ok'])} healthy, {len(ports['hang'])} "
                  f"never answering, {len(closed)} closed ports), concurrency "
                  f"{args.concurrency}, backend {registry.url_kind}")  # fmt: skip
            for name in ("first sweep (nothing known yet)", "steady state (second sweep)"):
                await _measure(name, beat, registry, args.timeout)


async def _measure(name: str, beat: Heartbeat, registry: Registry, timeout: float) -> None:
    before = registry.statements
    started = time.perf_counter()
    report = await beat.run_once()
    wall = time.perf_counter() - started
    statements = registry.statements - before
    target = timeout + 2.0
    print(f"{name}: {report.ok} ok, {report.failed} failed; wall {wall:.2f} s for a "
          f"{timeout:g} s timeout (ratio {wall / timeout:.2f}; target <= {target:g} s: "
          f"{'met' if wall <= target else 'MISSED'}); {statements} database statements "
          f"for {len(report.workers)} workers")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--db", help="registry URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    hanging, closed_count = args.workers // 10, args.workers // 10
    healthy = args.workers - hanging - closed_count
    _raise_fd_limit()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(healthy), str(hanging)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_raise_fd_limit,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        taken = {port for group in ports.values() for port in group}
        closed: list[int] = []
        while len(closed) < closed_count:
            port = free_port()
            if port not in taken and port not in closed:
                closed.append(port)
        with tempfile.TemporaryDirectory() as home:
            args.home = home
            asyncio.run(bench(args, ports, closed))
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
