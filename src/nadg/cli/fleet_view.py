"""How the fleet looks on stdout: the workers table, their JSON, and heartbeat reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from nadg.fleet import format_age
from nadg.heartbeat import SweepReport
from nadg.registry.models import Worker


def format_uptime(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def worker_rows(workers: list[Worker], uptime: dict[int, float]) -> list[dict[str, Any]]:
    """Workers with the registry's column names, plus `uptime_24h` (percent, or null)."""
    rows = []
    for worker in workers:
        row = worker.model_dump(mode="json")
        row["uptime_24h"] = round(uptime[worker.id], 2) if worker.id in uptime else None
        rows.append(row)
    return rows


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 200  # a pipe or a file: do not squeeze URLs into 80 columns
    return console


def print_workers(workers: list[Worker], uptime: dict[int, float], now: datetime) -> None:
    console = _console()
    if not workers:
        console.print("no workers registered: add one with `nadg workers add URL`")
        return
    table = Table(
        "id", "name", "url", "status", "tasks", "failed", "last ping", "latency", "up 24h"
    )
    for worker in workers:
        latency = f"{worker.last_latency_ms:.0f} ms" if worker.last_latency_ms is not None else "-"
        table.add_row(
            str(worker.id),
            worker.name or "-",
            worker.vm_url,
            worker.status.value,
            str(worker.total_tasks),
            str(worker.failed_tasks),
            format_age(worker.last_ping, now),
            latency,
            format_uptime(uptime.get(worker.id)),
        )
    console.print(table)


def print_report(report: SweepReport) -> None:
    """One sweep for a human: a line per worker, the transitions, then the alerts."""
    console = _console()
    console.print(
        f"swept {len(report.workers)} workers in {report.duration_s:.2f} s: "
        f"{report.ok} ok, {report.failed} failed",
        markup=False,
    )
    for row in report.workers:
        outcome = f"ok {row['latency_ms']:.0f} ms" if row["ok"] else f"FAILED: {row['error']}"
        console.print(
            f"  {row['id']:>4} {row['vm_url']}  {outcome}  [{row['status']}]", markup=False
        )
    for change in report.transitions:
        console.print(
            f"worker {change.worker_id} {change.vm_url}: {change.before} -> {change.after}",
            markup=False,
        )
    for alert in report.alerts:
        console.print(f"ALERT: {alert.message}", markup=False)
