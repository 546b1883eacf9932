"""How one run looks, live or finished; shared by the Run and History pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from nadg.config import Settings
from nadg.registry import Registry
from nadg.registry.models import RunDetail
from nadg.ui import bridge
from nadg.ui.bridge import Job
from nadg.ui.state import POLL_SECONDS, registry_call, status_table
from nadg.ui.views import badge, colored, is_finished, progress, run_cost, run_dot, subtask_table


@dataclass(frozen=True)
class RunView:
    run: RunDetail
    labels: dict[int, str]


def load(config: Settings, run_id: str) -> RunView:
    """The run and the names of the workers, read fresh from the registry."""

    async def read(registry: Registry) -> RunView:
        run = await registry.get_run(run_id)
        workers = await registry.list_workers()
        return RunView(run, {worker.id: worker.label for worker in workers})

    return registry_call(lambda: bridge.with_registry(config, read))


def subtasks(run: RunDetail, labels: Mapping[int, str]) -> None:
    st.dataframe(
        status_table(subtask_table(run, labels, datetime.now(UTC))),
        hide_index=True,
        width="stretch",
        column_config={"elapsed s": st.column_config.NumberColumn(format="%.2f")},
    )


def live(view: RunView) -> None:
    """A run still in flight: progress, each subtask's state, worker and elapsed time."""
    run = view.run
    ended, total = progress(run)
    st.progress(
        ended / total if total else 0.0,
        text=f"{colored(run.status.value)} · {ended}/{total} subtasks ended",
    )
    subtasks(run, view.labels)
    st.graphviz_chart(run_dot(run))


def finished(view: RunView, config: Settings) -> None:
    """A run that ended: the answer, timings, tokens and cost, and every subtask's output."""
    run = view.run
    st.markdown(f"#### {badge(run.status.value)} · run `{run.id}`")
    if run.error:
        st.warning(run.error)
    st.markdown("**Answer**")
    st.markdown(run.result or "_no answer_")
    _numbers(run, config)
    subtasks(run, view.labels)
    with st.expander("Dependency graph"):
        st.graphviz_chart(run_dot(run))
    for row in run.subtasks:
        title = f"{colored(row.status.value)} {row.key}" + (f" — {row.title}" if row.title else "")
        with st.expander(title):
            st.caption(
                f"{row.kind} · attempts {row.attempts}" + (" · cached" if row.cached else "")
            )
            st.code(row.task_description, language="python" if row.kind == "python" else None)
            if row.output:
                st.markdown("Output")
                st.code(row.output, language=None)
            if row.error:
                st.markdown("Error")
                st.code(row.error, language=None)


def _numbers(run: RunDetail, config: Settings) -> None:
    created, ended = run.created_at, run.finished_at
    wall = (ended - created).total_seconds() if created and ended else None
    busy = sum(row.duration_ms or 0.0 for row in run.subtasks if not row.cached) / 1000.0
    cost = run_cost(run, config)
    columns = st.columns(4)
    columns[0].metric("Wall time", "-" if wall is None else f"{wall:.2f} s")
    columns[1].metric("Worker time", f"{busy:.2f} s")
    columns[2].metric("Tokens (in / out)", f"{run.input_tokens:,} / {run.output_tokens:,}")
    label = "Cost" if run.cost_usd else "Estimated cost"
    columns[3].metric(label, "unknown" if cost is None else f"${cost:.4f}")


def watch(config: Settings, run_id: str | None, job: Job | None) -> None:
    """Show a run: live (refreshed from the registry every second) until it ends, then final."""
    if run_id is None:
        if job is not None and job.error:
            st.error(f"The run could not start: {job.error}")
        elif job is not None:
            st.info("Starting the run ...")
            _poll_start(job)
        return
    view = load(config, run_id)
    if _settled(view.run, job):
        if job is not None and job.error:
            st.error(f"The run stopped: {job.error}")
        finished(view, config)
        return

    @st.fragment(run_every=POLL_SECONDS)
    def refresh() -> None:
        fresh = load(config, run_id)
        if _settled(fresh.run, job):
            st.rerun()
        live(fresh)

    refresh()


def _settled(run: RunDetail, job: Job | None) -> bool:
    """Nothing more will change: our own job ended, or (no job here) the run is finished."""
    if job is not None:
        return not job.running
    return is_finished(run)


def _poll_start(job: Job) -> None:
    @st.fragment(run_every=POLL_SECONDS / 2)
    def starting() -> None:
        if job.run_id is not None or not job.running:
            st.rerun()

    starting()
