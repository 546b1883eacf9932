"""How runs look on stdout: one JSON document for `--json`, or the answer and a summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from nadg.registry.models import Run, RunDetail, SubtaskState


def seconds_between(run: Run) -> float | None:
    if run.created_at is None or run.finished_at is None:
        return None
    return (run.finished_at - run.created_at).total_seconds()


def run_document(run: RunDetail, workers: Mapping[int, str]) -> dict[str, Any]:
    """A run as the `--json` document: id, status, answer, tokens, timings, subtasks."""
    busy_ms = sum(row.duration_ms or 0.0 for row in run.subtasks if not row.cached)
    return {
        "id": run.id,
        "command": run.command,
        "planner": run.planner,
        "status": run.status.value,
        "answer": run.result,
        "error": run.error,
        "tokens": {
            "input": run.input_tokens,
            "output": run.output_tokens,
            "total": run.input_tokens + run.output_tokens,
            "cost_usd": round(run.cost_usd, 6),
        },
        "timings": {
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "wall_s": seconds_between(run),
            "subtasks_s": round(busy_ms / 1000.0, 3),
        },
        "subtasks": [
            {
                "id": row.key,
                "title": row.title,
                "kind": row.kind,
                "status": row.status.value,
                "worker": workers.get(row.worker_id) if row.worker_id is not None else None,
                "attempts": row.attempts,
                "output": row.output,
                "error": row.error or None,
                "duration_ms": row.duration_ms,
                "cached": row.cached,
                "depends_on": row.depends_on,
            }
            for row in run.subtasks
        ],
    }


def runs_document(runs: list[Run]) -> list[dict[str, Any]]:
    return [
        {
            "id": run.id,
            "command": run.command,
            "planner": run.planner,
            "status": run.status.value,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "wall_s": seconds_between(run),
            "tokens": run.input_tokens + run.output_tokens,
        }
        for run in runs
    ]


def print_run(console: Console, run: RunDetail, workers: Mapping[int, str]) -> None:
    """The answer, then what failed, then the run id, timings and tokens."""
    if run.result:
        console.print(Markdown(run.result))
    failed = [row for row in run.subtasks if row.status != SubtaskState.COMPLETED]
    if failed:
        console.print()
        console.print(
            f"[bold red]{len(failed)} of {len(run.subtasks)} subtasks did not complete:[/]"
        )
        for row in failed:
            first = (row.error or "").strip().splitlines()
            console.print(
                f"  {row.key}: {row.status.value}: {first[-1] if first else ''}", markup=False
            )
    console.print()
    console.print(_summary(run, workers))


def _summary(run: RunDetail, workers: Mapping[int, str]) -> str:
    wall = seconds_between(run)
    busy = sum(row.duration_ms or 0.0 for row in run.subtasks if not row.cached) / 1000.0
    cached = sum(1 for row in run.subtasks if row.cached)
    used = {workers.get(row.worker_id, "?") for row in run.subtasks if row.worker_id is not None}
    parts = [
        f"run {run.id} {run.status.value}",
        f"{len(run.subtasks)} subtasks on {len(used)} workers"
        + (f" ({cached} cached)" if cached else ""),
        f"wall {wall:.2f} s, subtasks {busy:.2f} s"
        if wall is not None
        else f"subtasks {busy:.2f} s",
    ]
    tokens = run.input_tokens + run.output_tokens
    if tokens:
        parts.append(f"{tokens:,} tokens (~${run.cost_usd:.4f})")
    return " · ".join(parts)


def print_runs(console: Console, runs: list[Run]) -> None:
    table = Table("id", "status", "created", "wall", "command")
    for run in runs:
        wall = seconds_between(run)
        created = run.created_at.strftime("%Y-%m-%d %H:%M:%S") if run.created_at else ""
        table.add_row(
            run.id, run.status.value, created, f"{wall:.1f} s" if wall else "", run.command[:60]
        )
    console.print(table)


def print_subtasks(console: Console, run: RunDetail, workers: Mapping[int, str]) -> None:
    table = Table("id", "kind", "status", "worker", "tries", "ms", "output / error")
    for row in run.subtasks:
        text = row.output if row.status == SubtaskState.COMPLETED else row.error
        first = (text or "").strip().splitlines()
        worker = workers.get(row.worker_id, "") if row.worker_id is not None else ""
        duration = f"{row.duration_ms:.0f}" if row.duration_ms is not None else ""
        status = row.status.value + (" (cached)" if row.cached else "")
        table.add_row(
            row.key,
            row.kind,
            status,
            worker,
            str(row.attempts),
            duration,
            first[0][:60] if first else "",
        )
    console.print(table)
