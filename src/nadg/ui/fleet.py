"""Fleet page: every worker, its health and load, and the actions an operator takes on it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from nadg.config import Settings
from nadg.errors import InvalidInput, NadgError
from nadg.registry import Registry
from nadg.registry.models import Worker, WorkerState
from nadg.ui import bridge
from nadg.ui.state import flash, registry_call, settings, show_flash, status_table
from nadg.ui.views import load_distribution, worker_table

LOAD_COLORS: Any = ["#3c9d4e", "#d9534f"]  # completed, failed (Any: streamlit types it invariantly)
NO_WORKERS = (
    "No workers registered yet. Add one below by its URL, or start a local grid with "
    "`nadg up` (it registers its workers here)."
)


def _add_form(config: Settings) -> None:
    with st.form("add_worker", clear_on_submit=False):
        st.markdown("**Add a worker**")
        url = st.text_input("Worker URL", placeholder="https://my-worker.hf.space", key="add_url")
        name = st.text_input("Name (optional)", key="add_name")
        submitted = st.form_submit_button("Add worker")
    if not submitted:
        return
    try:
        worker, answered = bridge.add_worker(config, url, name.strip() or None)
    except InvalidInput as exc:
        st.error(exc.message)
        return
    except NadgError as exc:
        st.error(f"Could not add the worker: {exc.message}")
        return
    seen = "it answered /status" if answered else "it did not answer /status; added as given"
    flash(f"Worker {worker.id} {worker.vm_url} registered ({seen}).")
    st.rerun()


def _change(config: Settings, worker: Worker, action: str) -> None:
    async def apply(registry: Registry) -> None:
        if action == "remove":
            await registry.remove_worker(worker.id)
            return
        target = WorkerState.DRAINING if action == "drain" else WorkerState.ACTIVE
        await registry.set_worker_status(worker.id, target)

    registry_call(lambda: bridge.with_registry(config, apply))
    done = {"remove": "removed", "drain": "draining", "undrain": "active again"}[action]
    flash(f"Worker {worker.id} ({worker.label}) {done}.")
    st.rerun()


def _actions(config: Settings, workers: list[Worker]) -> None:
    st.markdown("**Act on a worker**")
    labels = {f"{w.id} · {w.label} ({w.status.value})": w for w in workers}
    choice = st.selectbox("Worker", list(labels), key="fleet_worker")
    worker = labels[choice]
    columns = st.columns(3)
    if columns[0].button("Drain", disabled=worker.status == WorkerState.DRAINING):
        _change(config, worker, "drain")
    if columns[1].button("Undrain", disabled=worker.status != WorkerState.DRAINING):
        _change(config, worker, "undrain")
    if columns[2].button("Remove", type="secondary"):
        _change(config, worker, "remove")


def _ping(config: Settings) -> None:
    with st.spinner("Probing every worker's /health ..."):
        report = registry_call(lambda: bridge.ping_now(config))
    moved = ", ".join(f"{t.vm_url}: {t.before} → {t.after}" for t in report.transitions)
    flash(
        f"Pinged {len(report.workers)} workers in {report.duration_s:.2f} s: "
        f"{report.ok} ok, {report.failed} failed." + (f" Changes: {moved}." if moved else "")
    )
    st.rerun()


def _table(workers: list[Worker], snapshot: bridge.FleetSnapshot) -> None:
    rows = worker_table(workers, snapshot.uptime, snapshot.trends, datetime.now(UTC))
    st.dataframe(
        status_table(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "isolation": st.column_config.TextColumn("isolation", width="small"),
            "capabilities": st.column_config.TextColumn("capabilities", width="small"),
            "trend": st.column_config.LineChartColumn(
                "uptime trend (24h→1h)", y_min=0, y_max=100, width="small"
            ),
            "uptime 24h %": st.column_config.ProgressColumn(
                "uptime 24h", min_value=0, max_value=100, format="%.1f %%"
            ),
        },
    )


def render() -> None:
    config = settings()
    st.title("Fleet")
    show_flash()
    snapshot = registry_call(lambda: bridge.fleet(config))
    workers = snapshot.workers
    if st.button("Ping now", icon=":material/network_ping:"):
        _ping(config)
    if not workers:
        st.info(NO_WORKERS)
    else:
        active = sum(1 for w in workers if w.status == WorkerState.ACTIVE)
        st.caption(f"{len(workers)} workers, {active} active")
        _table(workers, snapshot)
        st.markdown("**Load distribution** (subtasks run per worker)")
        st.bar_chart(
            load_distribution(workers),
            x="worker",
            y=["completed", "failed"],
            color=LOAD_COLORS,
            horizontal=True,
        )
    left, right = st.columns(2)
    with left:
        _add_form(config)
    with right:
        if workers:
            _actions(config, workers)


if __name__ == "__main__":
    render()
