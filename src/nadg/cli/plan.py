"""`nadg plan`: show the plan a planner makes for a command (or a plan file), without running it."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from nadg.cli.common import EXIT_USAGE, DbOption, JsonOption, app, fail, load_settings
from nadg.config import Settings
from nadg.planner import (
    CAPABILITY_FOR,
    PLANNER_NAMES,
    Plan,
    PlanSubtask,
    build_planner,
    capabilities_of,
    load_plan_file,
    topological_order,
    unrunnable_kinds,
    validate_plan,
)
from nadg.registry.models import Worker, WorkerState

TASK_CHARS = 70


@dataclass
class Preview:
    """What `nadg plan` shows: the plan, who made it, the workers it saw, and any warnings."""

    plan: Plan
    planner: str
    workers: list[Worker]
    usage: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "planner": self.planner,
            "active_workers": len(self.workers),
            "subtasks": [s.model_dump(mode="json") for s in topological_order(self.plan)],
            "usage": self.usage,
            "warnings": self.warnings,
        }


async def active_workers(settings: Settings) -> list[Worker]:
    """The registry's active workers (the registry is opened for this one read)."""
    from nadg.registry import Registry  # imported here: only commands that read it pay for it

    async with await Registry.open(settings) as registry:
        return await registry.list_workers(WorkerState.ACTIVE)


def worker_warnings(plan: Plan, workers: list[Worker]) -> list[str]:
    """One warning per kind of subtask that no active worker can run (the plan is a preview)."""
    if not workers:
        return [
            "no active worker is registered: nothing could run this plan yet "
            "(start one with `nadg worker` or `nadg up`)"
        ]
    return [
        f"no active worker can run {kind.value} subtasks (needs capability "
        f"{CAPABILITY_FOR[kind]!r}); `nadg run` would refuse this plan"
        for kind in unrunnable_kinds(plan, capabilities_of(workers))
    ]


async def make_preview(
    settings: Settings,
    command: str | None,
    planner_name: str,
    max_subtasks: int | None,
    plan_file: Path | None,
) -> Preview:
    workers = await active_workers(settings)
    if plan_file is not None:
        plan = load_plan_file(plan_file)
        name, usage = "file", {}
    else:
        planner = build_planner(settings, planner_name)
        plan = await planner.plan(command or "", workers, max_subtasks)
        name = planner.name
        usage = planner.last_usage.model_dump() if planner.last_usage.total else {}
    # A preview is validated without the workers' capabilities; their gaps are warnings.
    validate_plan(plan, capabilities=None, max_subtasks=max_subtasks)
    return Preview(plan, name, workers, usage, worker_warnings(plan, workers))


def one_line(text: str, limit: int = TASK_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def plan_table(preview: Preview) -> Table:
    table = Table(title=f"Plan by the {preview.planner} planner ({len(preview.plan.subtasks)})")
    for column in ("id", "kind", "task", "depends on"):
        table.add_column(column, overflow="fold")
    for subtask in topological_order(preview.plan):
        label = subtask.title or one_line(subtask.task)
        table.add_row(subtask.id, subtask.kind.value, label, ", ".join(subtask.depends_on) or "-")
    return table


def dependency_tree(plan: Plan) -> Tree:
    """Roots (no dependencies) at the top; each subtask under every subtask it depends on."""
    tree = Tree("dependencies")
    children: dict[str, list[PlanSubtask]] = {s.id: [] for s in plan.subtasks}
    for subtask in plan.subtasks:
        for dep in subtask.depends_on:
            children[dep].append(subtask)

    # Each subtask's branch is drawn once (later mentions point back to it), with an explicit
    # stack: a diamond-shaped plan stays linear in size and a long chain cannot overflow.
    shown: set[str] = set()
    stack = [(tree, root) for root in reversed(plan.subtasks) if not root.depends_on]
    while stack:
        branch, subtask = stack.pop()
        if subtask.id in shown:
            branch.add(f"[bold]{subtask.id}[/bold] [dim](above)[/dim]")
            continue
        shown.add(subtask.id)
        node = branch.add(f"[bold]{subtask.id}[/bold] ({subtask.kind.value}) {subtask.title or ''}")
        stack.extend((node, child) for child in reversed(children[subtask.id]))
    return tree


def show(preview: Preview, console: Console) -> None:
    console.print(plan_table(preview))
    if any(s.depends_on for s in preview.plan.subtasks):
        console.print(dependency_tree(preview.plan))
    console.print(f"active workers: {len(preview.workers)}")
    if preview.usage:
        console.print(f"planner tokens: {preview.usage}")


@app.command("plan")
def plan_command(
    command: Annotated[str | None, typer.Argument(help="The task to plan.")] = None,
    planner: Annotated[
        str, typer.Option("--planner", help="auto | gemini | openai | rules.")
    ] = "auto",
    max_subtasks: Annotated[
        int | None,
        typer.Option("--max-subtasks", min=1, help="At most N subtasks (default: active workers)."),
    ] = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="Show a plan file (JSON or YAML) instead.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show the plan for COMMAND (a table, and a tree of dependencies) without running it."""
    if planner not in PLANNER_NAMES:
        raise fail(
            f"unknown planner {planner!r}: use one of {', '.join(PLANNER_NAMES)}", EXIT_USAGE
        )
    if (command is None) == (plan_file is None):
        raise fail("give a COMMAND, or a plan file with --plan (not both)", EXIT_USAGE)
    settings = load_settings(db)
    preview = asyncio.run(make_preview(settings, command, planner, max_subtasks, plan_file))
    for warning in preview.warnings:
        sys.stderr.write(f"nadg: warning: {warning}\n")
    if json_out:
        sys.stdout.write(json.dumps(preview.document(), indent=2) + "\n")
    else:
        show(preview, Console())
