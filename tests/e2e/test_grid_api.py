"""The Python API a program uses: Grid(...).run(command) and Grid(...).map(func, items)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from fixtures.grid import register_cluster
from nadg import Grid
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.errors import NoWorkers, RunError
from nadg.registry import Registry


def triple(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return 3 * x


def test_run_and_map_on_the_registered_fleet(
    cluster_factory: Callable[..., LocalCluster], grid_settings: Settings
) -> None:
    cluster = cluster_factory(2)
    asyncio.run(_register(grid_settings, cluster))
    grid = Grid(grid_settings)

    run = grid.run("1. print(6 * 7)\n2. print(2 ** 10)")
    tripled = grid.map(triple, range(50), chunks=3)

    assert run.status == "completed" and run.planner == "rules"
    assert [row.output.strip() for row in run.subtasks] == ["42", "1024"]  # type: ignore[union-attr]
    assert tripled == [3 * x for x in range(50)]
    with pytest.raises(RunError, match=r"1 item\(s\) failed; item 2: ValueError: negative"):
        grid.map(triple, [1, 2, -3], chunks=2)


def test_a_grid_without_workers_says_how_to_get_one(grid_settings: Settings) -> None:
    with pytest.raises(NoWorkers, match="nadg up"):
        Grid(grid_settings).run("print(1)")


async def _register(settings: Settings, cluster: LocalCluster) -> None:
    registry = await Registry.open(settings)
    try:
        await register_cluster(registry, cluster)
    finally:
        await registry.close()
