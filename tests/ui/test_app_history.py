"""The History and Metrics pages under AppTest, over runs recorded in a real registry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.registry import Registry
from nadg.registry.models import (
    HeartbeatRecord,
    RunDetail,
    RunState,
    SubtaskSpec,
    SubtaskState,
    SubtaskUpdate,
)
from ui.helpers import button, open_page, point_env, register, texts, wait_for


async def record_partial_run(settings: Settings, worker_id: int) -> RunDetail:
    """A run as a dead master leaves it: one subtask completed, one failed."""
    async with await Registry.open(settings) as registry:
        run = await registry.create_run(
            "squares and a typo",
            "rules",
            [
                SubtaskSpec("s1", "python", "print(7 * 7)"),
                SubtaskSpec("s2", "python", "print('fixed later')"),
            ],
        )
        now = datetime.now(UTC)
        first, second = run.subtasks
        await registry.update_subtasks(
            [
                SubtaskUpdate(
                    first.id, SubtaskState.COMPLETED, worker_id=worker_id, attempts=1,
                    output="49\n", started_at=now, completed_at=now, duration_ms=120.0,
                ),
                SubtaskUpdate(
                    second.id, SubtaskState.FAILED, worker_id=worker_id, attempts=1,
                    error="NameError: name 'x' is not defined", duration_ms=80.0,
                ),
            ]
        )  # fmt: skip
        await registry.set_run_status(
            run.id,
            RunState.PARTIAL,
            result="49",
            error="not completed: s2",
            finished_at=now + timedelta(seconds=1),
            input_tokens=1200,
            output_tokens=300,
        )
        await registry.record_heartbeats(
            [HeartbeatRecord(worker_id, now, True, 3.0), HeartbeatRecord(worker_id, now, False)],
            failures_threshold=3,
        )
        return await registry.get_run(run.id)


@pytest.fixture
def recorded(
    grid_settings: Settings,
    cluster_factory: Callable[..., LocalCluster],
    monkeypatch: pytest.MonkeyPatch,
) -> RunDetail:
    ids = register(grid_settings, cluster_factory(1))
    point_env(monkeypatch, grid_settings)
    return asyncio.run(record_partial_run(grid_settings, next(iter(ids.values()))))


def test_history_shows_a_run_its_subtasks_outputs_and_errors(recorded: RunDetail) -> None:
    at = open_page("history")
    page = texts(at)
    assert recorded.id in page and "squares and a typo" in page
    assert "49" in page and "NameError" in page and "not completed: s2" in page
    assert "Estimated cost" in page  # tokens but no recorded cost: estimated, or unknown


def test_history_filters_by_status_and_text(recorded: RunDetail) -> None:
    at = open_page("history")
    at.selectbox(key="h_status").select("completed").run()
    assert any("No runs match" in info.value for info in at.info)
    at.selectbox(key="h_status").select("partial").run()
    at.text_input(key="h_text").input("TYPO").run()
    assert recorded.id in texts(at)
    at.text_input(key="h_text").input("nothing like it").run()
    assert any("No runs match" in info.value for info in at.info)
    at.text_input(key="h_text").input("").run()
    today = datetime.now(UTC).date()
    at.date_input(key="h_since").set_value(today).run()
    assert recorded.id in texts(at)
    at.date_input(key="h_since").set_value(today + timedelta(days=1)).run()
    assert any("No runs match" in info.value for info in at.info)


def test_resume_finishes_only_what_did_not_complete(
    recorded: RunDetail, grid_settings: Settings
) -> None:
    at = open_page("history")
    button(at, "Resume").click().run()
    assert not at.exception, at.exception
    # The page says it is resuming, unless the resume already finished before it rendered.
    assert "Resuming run" in texts(at) or "fixed later" in texts(at)
    wait_for(at, lambda page: "fixed later" in texts(page) and "Answer" in texts(page))

    async def reread() -> RunDetail:
        async with await Registry.open(grid_settings) as registry:
            return await registry.get_run(recorded.id)

    run = asyncio.run(reread())
    assert run.status == RunState.COMPLETED
    assert run.subtasks[0].attempts == 1  # s1 was not run again


def test_metrics_are_measured_from_the_registry(recorded: RunDetail) -> None:
    at = open_page("metrics")
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Fleet uptime"] == "50.0 %"
    assert metrics["Success rate"] == "50.0%"
    assert metrics["Avg subtask time"] == "0.10 s"
    assert metrics["LLM tokens in"] == "1,200" and metrics["LLM tokens out"] == "300"
    assert "Database in use: **sqlite**" in texts(at)
