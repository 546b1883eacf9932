"""Run page: a command, its plan (editable, with a dependency graph), and the run, live."""

from __future__ import annotations

from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import streamlit as st

from nadg.config import Settings
from nadg.errors import NadgError, PlanError
from nadg.orchestrator import default_options
from nadg.planner import PLANNER_NAMES, Plan, capabilities_of
from nadg.registry import Registry
from nadg.registry.models import Run, RunState, Worker, WorkerState
from nadg.ui import bridge, runview
from nadg.ui.state import jobs, registry_call, settings, show_flash
from nadg.ui.views import llm_facts, plan_dot, plan_from_rows, plan_rows

EDITOR = "plan_editor"
PLACEHOLDER = "1. print(sum(range(10**6)))\n2. Summarize the result in one sentence"
NO_ACTIVE = (
    "No active worker: a run needs at least one. Add or undrain one on the Fleet page, "
    "or start a local grid with `nadg up`."
)


def _active_and_running(config: Settings) -> tuple[list[Worker], list[Run]]:
    async def read(registry: Registry) -> tuple[list[Worker], list[Run]]:
        workers = await registry.list_workers(WorkerState.ACTIVE)
        running = await registry.list_runs(limit=20, status=RunState.RUNNING)
        return workers, running

    return registry_call(lambda: bridge.with_registry(config, read))


def _inputs() -> dict[str, Any]:
    command = st.text_area(
        "Command",
        key="run_command",
        height=140,
        placeholder=PLACEHOLDER,
    )
    columns = st.columns(3)
    planner = columns[0].selectbox("Planner", PLANNER_NAMES, key="run_planner")
    max_subtasks = columns[1].number_input(
        "Max subtasks", min_value=1, max_value=200, value=16, key="run_max_subtasks"
    )
    retries = columns[2].number_input(
        "Retries", min_value=0, max_value=10, value=0, key="run_retries"
    )
    return {
        "command": command,
        "planner": planner,
        "max_subtasks": int(max_subtasks),
        "retries": int(retries),
    }


def _make_plan(config: Settings, chosen: dict[str, Any]) -> None:
    if not chosen["command"].strip():
        st.error("Write a command first.")
        return
    try:
        with st.spinner("Planning ..."):
            planned = bridge.plan_command(
                config, chosen["command"], chosen["planner"], chosen["max_subtasks"]
            )
    except NadgError as exc:
        st.error(f"Planning failed: {exc.message}")
        return
    st.session_state.pop(EDITOR, None)  # a new plan: forget the old table's edits
    st.session_state["plan"] = {
        "rows": plan_rows(planned.plan),
        "titles": {s.id: s.title for s in planned.plan.subtasks if s.title},
        "planner": planned.planner,
        "command": chosen["command"],
        "tokens": planned.usage.input_tokens + planned.usage.output_tokens,
        "spent": planned.spent,  # counted in the run it becomes
    }


def _editor(state: dict[str, Any], workers: list[Worker], max_subtasks: int) -> Plan | None:
    """The editable plan table; the validated Plan, or None after showing what is wrong."""
    used = f"Planned by **{state['planner']}**"
    if state["tokens"]:
        used += f" ({state['tokens']:,} tokens)"
    st.markdown(used + ". Edit kinds, tasks and dependencies (comma-separated ids) below.")
    edited = st.data_editor(
        pd.DataFrame(state["rows"], columns=["id", "kind", "task", "depends_on"]),
        key=EDITOR,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "id": st.column_config.TextColumn("id", required=True, width="small"),
            "kind": st.column_config.SelectboxColumn(
                "kind", options=["python", "prompt"], required=True, width="small"
            ),
            "task": st.column_config.TextColumn("task", width="large"),
            "depends_on": st.column_config.TextColumn("depends on", width="small"),
        },
    )
    caps = capabilities_of(workers) if workers else None
    try:
        plan = plan_from_rows(
            edited.to_dict("records"),
            titles=state["titles"],
            capabilities=caps,
            max_subtasks=max_subtasks,
        )
    except PlanError as exc:
        st.error(f"**This plan cannot run.** {exc.message}")
        return None
    st.graphviz_chart(plan_dot(plan))
    return plan


def _start(config: Settings, state: dict[str, Any], plan: Plan, retries: int) -> None:
    options = default_options(config, retries=retries)
    job = jobs().submit(
        config,
        state["command"],
        plan=plan,
        planner=state["planner"],
        options=options,
        spent=state.get("spent"),
    )
    st.session_state["job_id"] = job.id
    st.session_state["run_id"] = None
    st.query_params.pop("run", None)
    st.rerun()


def _current() -> tuple[str | None, bridge.Job | None]:
    """The run this session watches: its job's, else the one in the URL (a refresh, a tab)."""
    job = jobs().get(st.session_state.get("job_id"))
    run_id = job.run_id if job is not None else st.session_state.get("run_id")
    run_id = run_id or st.query_params.get("run")
    if run_id and st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id
    return run_id, job


def _in_flight(running: list[Run], current: str | None) -> None:
    others = [run for run in running if run.id != current]
    if not others:
        return
    with st.expander(f"Runs in flight ({len(others)})", expanded=current is None):
        for run in others:
            if st.button(f"Watch {run.id} · {run.command[:60]}", key=f"watch_{run.id}"):
                st.session_state["job_id"] = None
                st.session_state["run_id"] = run.id
                st.query_params["run"] = run.id
                st.rerun()


def render() -> None:
    config = settings()
    st.title("Run")
    show_flash()
    workers, running = _active_and_running(config)
    if not workers:
        st.warning(NO_ACTIVE)
    provider, _ = llm_facts(config)
    if provider is None:
        st.info(
            "No LLM configured (GEMINI_API_KEY or NADG_OPENAI_BASE_URL): the offline "
            "rules planner is used; it makes one subtask per list item, python or prompt."
        )
    chosen = _inputs()
    if st.button("Plan", type="primary", icon=":material/account_tree:"):
        _make_plan(config, chosen)
    state = st.session_state.get("plan")
    if state:
        plan = _editor(state, workers, chosen["max_subtasks"])
        blocked = plan is None or not workers
        if st.button("Run", type="primary", disabled=blocked, icon=":material/play_arrow:"):
            assert plan is not None
            _start(config, state, plan, chosen["retries"])
    run_id, job = _current()
    _in_flight(running, run_id)
    if run_id or job:
        st.divider()
        runview.watch(config, run_id, job)


if __name__ == "__main__":
    render()
