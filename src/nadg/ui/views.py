"""Pure data shaping for the UI: tables, plan edits, the dependency graph, costs, config facts.

No Streamlit and no I/O here; `now` is passed in, so every function is easy to test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from nadg.config import Settings
from nadg.errors import PlanError
from nadg.fleet import format_age
from nadg.llm import resolve_provider
from nadg.llm.usage import estimate_cost
from nadg.planner import Plan, PlanSubtask, validate_plan
from nadg.protocol import TokenUsage
from nadg.registry.models import Run, RunDetail, RunState, Subtask, Worker

COLORS = {
    "active": "green",
    "offline": "red",
    "draining": "orange",
    "pending": "gray",
    "running": "blue",
    "completed": "green",
    "partial": "orange",
    "failed": "red",
    "cancelled": "gray",
}
CELL_BACKGROUNDS = {
    "green": "#d3f4d1",
    "red": "#ffd6d6",
    "orange": "#ffe7c2",
    "blue": "#d6e8ff",
    "gray": "#ececec",
}
GRAPH_COLORS = {
    "pending": "#eeeeee",
    "running": "#9ecbff",
    "completed": "#a8e6a3",
    "failed": "#ff9e9e",
    "cancelled": "#cccccc",
}
FINISHED_RUNS = {RunState.COMPLETED, RunState.PARTIAL, RunState.FAILED, RunState.CANCELLED}
PLAN_COLUMNS = ("id", "kind", "task", "depends_on")


def badge(status: str) -> str:
    """A colored badge in Streamlit markdown: `:green-badge[completed]`."""
    return f":{COLORS.get(status, 'gray')}-badge[{status}]"


def colored(status: str) -> str:
    """The status in color, for labels that take no badges."""
    return f":{COLORS.get(status, 'gray')}[{status}]"


def status_css(status: object) -> str:
    """The CSS of a status cell in a table (tables show no markdown)."""
    color = COLORS.get(str(status))
    return f"background-color: {CELL_BACKGROUNDS[color]}" if color else ""


def aware(moment: datetime | None) -> datetime | None:
    """A naive timestamp (SQLite gives those) read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def is_finished(run: Run) -> bool:
    return run.status in FINISHED_RUNS


# --- plans -----------------------------------------------------------------------------------


def plan_rows(plan: Plan) -> list[dict[str, str]]:
    """The plan as editable rows; dependencies as a comma list."""
    return [
        {
            "id": subtask.id,
            "kind": subtask.kind.value,
            "task": subtask.task,
            "depends_on": ", ".join(subtask.depends_on),
        }
        for subtask in plan.subtasks
    ]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _row_subtask(number: int, row: Mapping[str, Any], titles: Mapping[str, str]) -> PlanSubtask:
    ident = _cell(row.get("id")) or f"t{number}"
    depends = [part.strip() for part in _cell(row.get("depends_on")).split(",") if part.strip()]
    task = "" if row.get("task") is None else str(row.get("task"))
    try:
        return PlanSubtask(
            id=ident,
            kind=_cell(row.get("kind")) or "python",
            task=task if task.strip() else "",
            depends_on=depends,
            title=titles.get(ident),
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise PlanError(f"invalid plan: row {number} ({ident}): {problems}") from exc


def plan_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    titles: Mapping[str, str] | None = None,
    capabilities: set[str] | None = None,
    max_subtasks: int | None = None,
) -> Plan:
    """The edited table as a validated Plan; PlanError names what is wrong. Blank rows skipped."""
    kept = [row for row in rows if any(_cell(row.get(column)) for column in PLAN_COLUMNS)]
    subtasks = [_row_subtask(n, row, titles or {}) for n, row in enumerate(kept, 1)]
    return validate_plan(
        Plan(subtasks=subtasks), capabilities=capabilities, max_subtasks=max_subtasks
    )


def plan_of_run(run: RunDetail) -> Plan:
    """A finished run's subtasks as a plan, to run it again."""
    return Plan(
        subtasks=[
            PlanSubtask(
                id=row.key,
                kind=row.kind,
                task=row.task_description,
                depends_on=list(row.depends_on),
                title=row.title,
            )
            for row in run.subtasks
        ]
    )


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dependency_dot(
    nodes: Sequence[tuple[str, str, Sequence[str]]], states: Mapping[str, str] | None = None
) -> str:
    """Graphviz DOT for (id, kind, depends_on) nodes; edges go from a dependency to its user."""
    lines = [
        "digraph plan {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fillcolor="#eeeeee"];',
    ]
    for ident, kind, _ in nodes:
        state = (states or {}).get(ident)
        label = f"{ident}\\n{kind}" + (f"\\n{state}" if state else "")
        color = GRAPH_COLORS.get(state or "pending", "#eeeeee")
        lines.append(f'  {_quoted(ident)} [label="{label}", fillcolor="{color}"];')
    for ident, _, depends_on in nodes:
        lines.extend(f"  {_quoted(dep)} -> {_quoted(ident)};" for dep in depends_on)
    lines.append("}")
    return "\n".join(lines)


def plan_dot(plan: Plan) -> str:
    return dependency_dot([(s.id, s.kind.value, s.depends_on) for s in plan.subtasks])


def run_dot(run: RunDetail) -> str:
    nodes = [(row.key, row.kind, row.depends_on) for row in run.subtasks]
    return dependency_dot(nodes, {row.key: row.status.value for row in run.subtasks})


# --- workers ---------------------------------------------------------------------------------


def worker_table(
    workers: Sequence[Worker],
    uptime: Mapping[int, float],
    trends: Mapping[int, list[float]],
    now: datetime,
) -> list[dict[str, Any]]:
    """One row per worker, as the Fleet page shows it."""
    return [
        {
            "id": worker.id,
            "name": worker.name or "",
            "url": worker.vm_url,
            "status": worker.status.value,
            "capabilities": ", ".join(worker.capabilities),
            "isolation": worker.isolation or "unknown",
            "slots": worker.max_concurrency,
            "tasks": worker.total_tasks,
            "failures": worker.failed_tasks,
            "last ping": format_age(aware(worker.last_ping), now),
            "latency ms": None if worker.last_latency_ms is None else round(worker.last_latency_ms),
            "uptime 24h %": None if worker.id not in uptime else round(uptime[worker.id], 1),
            "trend": trends.get(worker.id, []),
        }
        for worker in workers
    ]


def load_distribution(workers: Sequence[Worker]) -> dict[str, list[Any]]:
    """Subtasks per worker (completed and failed), for a bar chart."""
    return {
        "worker": [worker.label for worker in workers],
        "completed": [worker.total_tasks - worker.failed_tasks for worker in workers],
        "failed": [worker.failed_tasks for worker in workers],
    }


# --- runs ------------------------------------------------------------------------------------


def elapsed_s(row: Subtask, now: datetime) -> float | None:
    """Seconds a subtask took, or has been running so far."""
    if row.duration_ms is not None:
        return round(row.duration_ms / 1000.0, 2)
    started = aware(row.started_at)
    if row.status == "running" and started is not None:
        return round(max(0.0, (now - started).total_seconds()), 1)
    return None


def subtask_table(run: RunDetail, labels: Mapping[int, str], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "id": row.key,
            "title": row.title or "",
            "kind": row.kind,
            "status": row.status.value,
            "worker": labels.get(row.worker_id, str(row.worker_id)) if row.worker_id else "",
            "attempts": row.attempts,
            "elapsed s": elapsed_s(row, now),
            "cached": row.cached,
        }
        for row in run.subtasks
    ]


def run_table(runs: Sequence[Run]) -> list[dict[str, Any]]:
    return [
        {
            "id": run.id,
            "status": run.status.value,
            "command": run.command if len(run.command) <= 80 else run.command[:77] + "...",
            "planner": run.planner,
            "created": _stamp(aware(run.created_at)),
            "wall s": wall_seconds(run),
            "tokens": run.input_tokens + run.output_tokens,
        }
        for run in runs
    ]


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def wall_seconds(run: Run) -> float | None:
    created, finished = aware(run.created_at), aware(run.finished_at)
    if created is None or finished is None:
        return None
    return round((finished - created).total_seconds(), 2)


def progress(run: RunDetail) -> tuple[int, int]:
    """(subtasks ended, subtasks in all)."""
    ended = sum(1 for row in run.subtasks if row.status.finished)
    return ended, len(run.subtasks)


def configured_model(settings: Settings) -> str | None:
    provider = resolve_provider(settings)
    if provider is None:
        return None
    return settings.gemini_model if provider == "gemini" else settings.openai_model


def run_cost(run: Run, settings: Settings) -> float | None:
    """The run's cost in USD: as recorded, else estimated from its tokens and the price table."""
    if run.cost_usd:
        return run.cost_usd
    if not (run.input_tokens or run.output_tokens):
        return 0.0
    model = configured_model(settings)
    if model is None:
        return None
    usage = TokenUsage(input_tokens=run.input_tokens, output_tokens=run.output_tokens)
    return estimate_cost(model, usage, settings.llm_prices)


# --- configuration ---------------------------------------------------------------------------


def database_facts(url: str) -> tuple[str, str]:
    """(kind, where) of a database URL, never its password or user: ('postgresql', 'db:5432')."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "unknown", "unparseable URL"
    if parsed.get_backend_name() == "sqlite":
        return "sqlite", parsed.database or "memory"
    where = f"{parsed.host or 'localhost'}" + (f":{parsed.port}" if parsed.port else "")
    return "postgresql", f"{where}/{parsed.database or ''}"


def llm_facts(settings: Settings) -> tuple[str | None, str]:
    """(provider, a line saying what planning uses): never a key."""
    provider = resolve_provider(settings)
    if provider is None:
        return None, "No LLM configured: the offline rules planner is used."
    if provider == "gemini":
        return provider, f"Gemini, model {settings.gemini_model}"
    where = settings.openai_base_url or "api.openai.com"
    host = make_url_host(where)
    return provider, f"OpenAI-compatible, model {settings.openai_model} at {host}"


def make_url_host(url: str) -> str:
    """The host of an HTTP URL, dropping any credentials or path."""
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1]
