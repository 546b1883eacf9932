"""Take docs/{fleet,run,history,metrics}.png from a populated demo registry (not a test).

NADG_TEST_CHROMIUM=$(command -v chromium) .venv/bin/python tests/ui/take_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nadg.cli.local import register_local
from nadg.client import WorkerClient
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.examples import primes_plan
from nadg.grid import connect
from nadg.heartbeat import Heartbeat
from nadg.orchestrator import default_options
from nadg.registry.models import WorkerState
from ui.browser import chromium, new_page, served_app, wait_idle

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUN_PAGE_COMMAND = (
    "1. print(sum(k * k for k in range(1, 1001)))\n"
    "2. import math; print(math.factorial(20))\n"
    "3. print(' '.join(sorted('the quick brown fox'.split())))"
)
RUNS = [
    "1. print(sum(i * i for i in range(10**6)))\n2. print(max(len(w) for w in 'a bb ccc'.split()))",
    "1. print(1 / 0)\n2. print('this one works')",
]


async def populate(settings: Settings, urls: list[str]) -> str:
    async with connect(settings) as orchestrator:
        registry = orchestrator.registry
        async with WorkerClient(token=settings.client_token()) as client:
            workers = await register_local(registry, client, urls)
            await registry.upsert_worker("http://127.0.0.1:9", name="laptop-gone")
            beat = Heartbeat(registry, client, settings)
            for _ in range(3):
                await beat.run_once()
        options = default_options(settings, use_cache=False)
        for command in RUNS:
            await orchestrator.submit(command, planner="rules", options=options)
        primes = await orchestrator.submit(
            "Count the primes below 600,000 in parallel, then add up the parts",
            plan=primes_plan(600_000, 4),
            planner="example",
            options=options,
        )
        await registry.set_worker_status(workers[-1].id, WorkerState.DRAINING)
    return primes.id


def shoot(base: str, executable: str, profile: Path) -> None:
    with chromium(executable, profile) as browser:
        page = new_page(browser)
        page.set_viewport_size({"width": 1600, "height": 1300})
        for name in ("fleet", "history", "metrics"):
            page.goto(f"{base}/{'' if name == 'fleet' else name}")
            page.get_by_role("heading", name=name.title()).wait_for()
            wait_idle(page)
            page.wait_for_timeout(3000)  # charts and late widgets draw after the script ends
            page.screenshot(path=str(DOCS / f"{name}.png"))
        page.set_viewport_size({"width": 1600, "height": 1900})
        page.goto(f"{base}/run")
        page.get_by_role("heading", name="Run").wait_for()
        wait_idle(page)
        page.get_by_label("Command").fill(RUN_PAGE_COMMAND)
        page.get_by_label("Command").press("Control+Enter")
        wait_idle(page)
        page.get_by_role("button", name="Plan").click()
        page.get_by_text("Planned by").wait_for()
        wait_idle(page)
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Answer", exact=True).wait_for()
        wait_idle(page)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(DOCS / "run.png"))


def main() -> None:
    executable = os.environ.get("NADG_TEST_CHROMIUM", "/usr/bin/chromium")
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        token = secrets.token_urlsafe(24)
        settings = Settings(
            home=home / "home",
            database_url=f"sqlite:///{home / 'demo.db'}",
            auth_token=SecretStr(token),
        )
        with LocalCluster(4, token=token, max_concurrency=2, name_prefix="demo") as cluster:
            asyncio.run(populate(settings, cluster.urls))
            env = {
                "NADG_HOME": str(settings.home),
                "NADG_DATABASE_URL": settings.resolved_database_url(),
                "NADG_AUTH_TOKEN": token,
            }
            with served_app(env, home / "ui.log") as base:
                shoot(base, executable, home / "profile")


if __name__ == "__main__":
    main()
