"""History page: past runs with filters, a run's subtasks, and re-run or resume."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import streamlit as st

from nadg.config import Settings
from nadg.orchestrator import default_options
from nadg.registry import Registry
from nadg.registry.models import Run, RunState
from nadg.ui import bridge, runview
from nadg.ui.state import flash, jobs, registry_call, settings, show_flash, status_table
from nadg.ui.views import plan_of_run, run_table

ALL = "all"


def _filters() -> dict[str, Any]:
    columns = st.columns([1, 1, 2])
    status = columns[0].selectbox("Status", [ALL, *(s.value for s in RunState)], key="h_status")
    since = columns[1].date_input("Since", value=None, key="h_since")
    text = columns[2].text_input("Command contains", key="h_text")
    return {
        "status": None if status == ALL else RunState(status),
        "since": datetime.combine(since, time.min, tzinfo=UTC) if isinstance(since, date) else None,
        "text": text.strip() or None,
    }


def _runs(config: Settings, chosen: dict[str, Any]) -> list[Run]:
    async def read(registry: Registry) -> list[Run]:
        return await registry.list_runs(limit=200, **chosen)

    return registry_call(lambda: bridge.with_registry(config, read))


def _rerun(config: Settings, view: runview.RunView) -> None:
    run = view.run
    options = default_options(config, **run.options)
    job = jobs().submit(
        config, run.command, plan=plan_of_run(run), planner=run.planner, options=options
    )
    _go_watch(job, f"Re-running `{run.command[:60]}` as a new run.")


def _resume(config: Settings, run_id: str) -> None:
    job = jobs().resume(config, run_id)
    _go_watch(job, f"Resuming run {run_id}: completed subtasks are not run again.")


def _go_watch(job: bridge.Job, message: str) -> None:
    st.session_state["job_id"] = job.id
    st.session_state["run_id"] = job.run_id
    flash(message)
    st.switch_page("run.py")


def _detail(config: Settings, run_id: str) -> None:
    view = runview.load(config, run_id)
    run = view.run
    columns = st.columns(2)
    if columns[0].button("Re-run", icon=":material/replay:", key="h_rerun"):
        _rerun(config, view)
    # A run left "running" by a master that died is resumable too.
    resumable = run.status != RunState.COMPLETED
    if columns[1].button(
        "Resume", icon=":material/resume:", disabled=not resumable, key="h_resume"
    ):
        _resume(config, run.id)
    job = jobs().get(st.session_state.get("job_id"))
    runview.watch(config, run.id, job if job is not None and job.run_id == run.id else None)


def render() -> None:
    config = settings()
    st.title("History")
    show_flash()
    runs = _runs(config, _filters())
    if not runs:
        st.info("No runs match. Start one on the Run page, or with `nadg run` in a terminal.")
        return
    st.dataframe(status_table(run_table(runs)), hide_index=True, width="stretch")
    labels = {f"{run.id} · {run.status.value} · {run.command[:60]}": run.id for run in runs}
    choice = st.selectbox("Run", list(labels), key="h_run")
    st.divider()
    _detail(config, labels[choice])


if __name__ == "__main__":
    render()
