"""Metrics page: uptime, execution times, success rate, load, tokens, and the database in use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import streamlit as st

from nadg.config import Settings
from nadg.heartbeat import failure_rate
from nadg.registry import Registry
from nadg.registry.models import Run, RunDetail, Worker
from nadg.ui import bridge
from nadg.ui.fleet import LOAD_COLORS
from nadg.ui.state import registry_call, settings
from nadg.ui.views import database_facts, is_finished, load_distribution, run_cost, wall_seconds

WINDOWS = {"24 hours": 1, "7 days": 7, "30 days": 30}
DETAILED_RUNS = 25  # subtask timings are read from this many of the newest runs


@dataclass(frozen=True)
class Measures:
    workers: list[Worker]
    uptime: dict[int, float]
    stats: dict[str, int]
    runs: list[Run]
    details: list[RunDetail]
    kind: str


async def _measure(registry: Registry, since: datetime) -> Measures:
    workers = await registry.list_workers()
    uptime = await registry.uptime(since)
    stats = await registry.task_stats(since)
    runs = await registry.list_runs(limit=1000, since=since)
    details = [await registry.get_run(run.id) for run in runs[:DETAILED_RUNS]]
    return Measures(workers, uptime, stats, runs, details, registry.url_kind)


def _averages(measures: Measures) -> tuple[float | None, float | None]:
    """(mean wall seconds of finished runs, mean seconds of subtasks that ran)."""
    walls = [w for run in measures.runs if is_finished(run) if (w := wall_seconds(run)) is not None]
    times = [
        row.duration_ms / 1000.0
        for run in measures.details
        for row in run.subtasks
        if row.duration_ms is not None and not row.cached
    ]
    mean_wall = sum(walls) / len(walls) if walls else None
    mean_task = sum(times) / len(times) if times else None
    return mean_wall, mean_task


def _headline(measures: Measures) -> None:
    uptimes = list(measures.uptime.values())
    rate = failure_rate(measures.stats)
    mean_wall, mean_task = _averages(measures)
    columns = st.columns(4)
    columns[0].metric("Fleet uptime", f"{sum(uptimes) / len(uptimes):.1f} %" if uptimes else "-")
    columns[1].metric("Success rate", "-" if rate is None else f"{1 - rate:.1%}")
    columns[2].metric("Avg subtask time", "-" if mean_task is None else f"{mean_task:.2f} s")
    columns[3].metric("Avg run time", "-" if mean_wall is None else f"{mean_wall:.2f} s")


def _tokens(measures: Measures, config: Settings) -> None:
    tokens_in = sum(run.input_tokens for run in measures.runs)
    tokens_out = sum(run.output_tokens for run in measures.runs)
    costs = [run_cost(run, config) for run in measures.runs]
    known = [cost for cost in costs if cost is not None]
    columns = st.columns(3)
    columns[0].metric("LLM tokens in", f"{tokens_in:,}")
    columns[1].metric("LLM tokens out", f"{tokens_out:,}")
    unknown = " (some unpriced)" if len(known) < len(costs) else ""
    columns[2].metric("Estimated cost", f"${sum(known):.4f}{unknown}")


def _per_worker(measures: Measures) -> None:
    if not measures.workers:
        st.info("No workers registered yet.")
        return
    st.markdown("**Uptime per worker** (share of heartbeat probes answered)")
    st.bar_chart(
        {
            "worker": [w.label for w in measures.workers],
            "uptime %": [round(measures.uptime.get(w.id, 0.0), 1) for w in measures.workers],
        },
        x="worker",
        y="uptime %",
        horizontal=True,
    )
    st.markdown("**Load distribution** (subtasks run per worker)")
    st.bar_chart(
        load_distribution(measures.workers),
        x="worker",
        y=["completed", "failed"],
        color=LOAD_COLORS,
        horizontal=True,
    )


def render() -> None:
    config = settings()
    st.title("Metrics")
    window = st.selectbox("Window", list(WINDOWS), key="m_window")
    since = datetime.now(UTC) - timedelta(days=WINDOWS[window])
    measures = registry_call(lambda: bridge.with_registry(config, lambda r: _measure(r, since)))
    kind, where = database_facts(config.resolved_database_url())
    st.caption(f"Database in use: **{measures.kind}** ({where}). Window: the last {window}.")
    _headline(measures)
    st.markdown("**Subtasks by status**")
    st.bar_chart(
        {"status": list(measures.stats), "subtasks": list(measures.stats.values())},
        x="status",
        y="subtasks",
    )
    _tokens(measures, config)
    _per_worker(measures)
    st.caption(f"{len(measures.runs)} runs in the window ({kind}).")


if __name__ == "__main__":
    render()
