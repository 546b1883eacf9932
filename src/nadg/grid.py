"""The Python API, and the one place that wires registry, worker client and orchestrator.

from nadg import Grid
run = Grid().run("1. print(6 * 7)\\n2. print(sum(range(10)))")
squares = Grid().map(square, range(100), chunks=4)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from nadg.client import WorkerClient
from nadg.config import Settings
from nadg.errors import RunError
from nadg.events import EventSink
from nadg.mapping import ItemResult, collect_results, map_plan, portable_source
from nadg.orchestrator import Orchestrator, default_options
from nadg.planner import Plan
from nadg.registry import Registry
from nadg.registry.models import RunDetail
from nadg.scheduling import RunOptions


@asynccontextmanager
async def connect(
    settings: Settings, *, on_event: EventSink | None = None
) -> AsyncIterator[Orchestrator]:
    """An orchestrator over the configured registry, closed (with its pools) on exit."""
    registry = await Registry.open(settings)
    try:
        async with WorkerClient(token=settings.client_token()) as client:
            yield Orchestrator(settings, registry, client, on_event=on_event)
    finally:
        await registry.close()


class Grid:
    """Run commands and map functions on the registered fleet, from a program."""

    def __init__(self, settings: Settings | None = None, *, db: str | None = None) -> None:
        self.settings = settings or Settings()
        if db:
            self.settings = self.settings.model_copy(update={"database_url": db})

    def run(
        self,
        command: str,
        *,
        planner: str = "auto",
        plan: Plan | None = None,
        max_subtasks: int | None = None,
        on_event: EventSink | None = None,
        **options: Any,
    ) -> RunDetail:
        """Plan and run `command` (or the given plan); returns the finished run."""
        return asyncio.run(
            self.arun(
                command,
                planner=planner,
                plan=plan,
                max_subtasks=max_subtasks,
                on_event=on_event,
                **options,
            )
        )

    async def arun(
        self,
        command: str,
        *,
        planner: str = "auto",
        plan: Plan | None = None,
        max_subtasks: int | None = None,
        on_event: EventSink | None = None,
        **options: Any,
    ) -> RunDetail:
        run_options = default_options(self.settings, **options)
        async with connect(self.settings, on_event=on_event) as orchestrator:
            return await orchestrator.submit(
                command,
                planner=planner,
                plan=plan,
                max_subtasks=max_subtasks,
                options=run_options,
            )

    def map(
        self, function: Callable[[Any], Any], items: Iterable[Any], *, chunks: int = 4
    ) -> list[Any]:
        """`[function(item) for item in items]`, computed on the fleet; raises on any error."""
        results = asyncio.run(self.amap(function, items, chunks=chunks))
        errors = [result for result in results if not result.ok]
        if errors:
            first = errors[0]
            raise RunError(f"{len(errors)} item(s) failed; item {first.index}: {first.error}")
        return [result.value for result in results]

    async def amap(
        self,
        function: Callable[[Any], Any] | str,
        items: Iterable[Any],
        *,
        chunks: int = 4,
        source: str | None = None,
        filename: str = "<map>",
        on_event: EventSink | None = None,
        options: RunOptions | None = None,
    ) -> list[ItemResult]:
        """Each item's result or error, in item order."""
        values = list(items)
        if isinstance(function, str):
            if source is None:
                raise RunError("map by name needs the module's source")
            name, code = function, source
        else:
            name, code = function.__name__, source or portable_source(function)
        plan = map_plan(code, filename, name, values, chunks)
        async with connect(self.settings, on_event=on_event) as orchestrator:
            run = await orchestrator.submit(
                f"map {name} over {len(values)} items",
                plan=plan,
                planner="map",
                options=options or default_options(self.settings, synthesize=False),
            )
        return collect_results(run, len(values))
