"""`nadg run`, `map`, `runs`, `resume`: work on the registered fleet."""

from __future__ import annotations

import ast
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from nadg.cli.common import EXIT_FAILED, EXIT_USAGE, DbOption, JsonOption, app, fail, load_settings
from nadg.cli.progress import ProgressView
from nadg.cli.render import print_run, print_runs, print_subtasks, run_document, runs_document
from nadg.errors import InvalidInput
from nadg.grid import Grid, connect
from nadg.orchestrator import Orchestrator, default_options
from nadg.planner import load_plan_file
from nadg.registry.models import RunDetail, RunState

T = TypeVar("T")

runs_app = typer.Typer(help="Past and current runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

PlannerOption = Annotated[
    str, typer.Option("--planner", help="auto | gemini | openai | rules.", show_default=True)
]
RetriesOption = Annotated[
    int | None, typer.Option("--retries", min=0, help="Retry a subtask that itself failed N times.")
]
TimeoutOption = Annotated[
    float | None, typer.Option("--timeout", min=0.1, help="Seconds each subtask may run.")
]
NoCacheOption = Annotated[
    bool, typer.Option("--no-cache", help="Run even identical subtasks again.")
]

stdout = Console()
stderr = Console(stderr=True)


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; Ctrl-C cancels it cleanly (in-flight subtasks recorded as cancelled)."""
    try:
        return asyncio.run(make())
    except KeyboardInterrupt:
        stderr.print(
            "cancelled: in-flight subtasks were recorded as cancelled; "
            "`nadg resume RUN_ID` finishes the run"
        )
        raise typer.Exit(130) from None


async def worker_labels(orchestrator: Orchestrator) -> dict[int, str]:
    workers = await orchestrator.registry.list_workers()
    return {worker.id: worker.label for worker in workers}


def show_run(run: RunDetail, labels: dict[int, str], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(run_document(run, labels), indent=2) + "\n")
    else:
        print_run(stdout, run, labels)


def exit_for(run: RunDetail) -> None:
    if run.status != RunState.COMPLETED:
        raise typer.Exit(EXIT_FAILED)


@app.command("run")
def run_command(
    command: Annotated[str | None, typer.Argument(help="The task, in words or code.")] = None,
    planner: PlannerOption = "auto",
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="A plan file (JSON or YAML).")
    ] = None,
    max_subtasks: Annotated[int | None, typer.Option("--max-subtasks", min=1)] = None,
    retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    no_cache: NoCacheOption = False,
    no_synthesize: Annotated[
        bool, typer.Option("--no-synthesize", help="Skip the LLM's final answer.")
    ] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Plan COMMAND, run its subtasks on the fleet, and print the answer."""
    if not command and plan_file is None:
        raise fail("give a COMMAND or --plan FILE", EXIT_USAGE)
    settings = load_settings(db)
    plan = load_plan_file(plan_file) if plan_file else None
    options = default_options(
        settings,
        retries=retries,
        timeout=timeout,
        use_cache=not no_cache,
        synthesize=not no_synthesize,
    )
    label = command or f"plan {plan_file}"

    async def submit() -> tuple[RunDetail, dict[int, str]]:
        with ProgressView(stderr) as view:
            async with connect(settings, on_event=view) as orchestrator:
                run = await orchestrator.submit(
                    label, planner=planner, plan=plan, max_subtasks=max_subtasks, options=options
                )
                return run, await worker_labels(orchestrator)

    run, labels = run_async(submit)
    show_run(run, labels, as_json)
    exit_for(run)


@app.command("resume")
def resume_command(run_id: str, as_json: JsonOption = False, db: DbOption = None) -> None:
    """Finish a run the master did not: completed subtasks are never run again."""
    settings = load_settings(db)

    async def resume() -> tuple[RunDetail, dict[int, str]]:
        with ProgressView(stderr) as view:
            async with connect(settings, on_event=view) as orchestrator:
                run = await orchestrator.resume(run_id)
                return run, await worker_labels(orchestrator)

    run, labels = run_async(resume)
    show_run(run, labels, as_json)
    exit_for(run)


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    status: Annotated[RunState | None, typer.Option("--status")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """The latest runs, newest first."""
    settings = load_settings(db)

    async def fetch() -> list[Any]:
        async with connect(settings) as orchestrator:
            runs: list[Any] = await orchestrator.registry.list_runs(limit=limit, status=status)
            return runs

    runs = run_async(fetch)
    if as_json:
        sys.stdout.write(json.dumps(runs_document(runs), indent=2) + "\n")
    else:
        print_runs(stdout, runs)


@runs_app.command("show")
def runs_show(run_id: str, as_json: JsonOption = False, db: DbOption = None) -> None:
    """One run with all its subtasks."""
    settings = load_settings(db)

    async def fetch() -> tuple[RunDetail, dict[int, str]]:
        async with connect(settings) as orchestrator:
            run: RunDetail = await orchestrator.registry.get_run(run_id)
            return run, await worker_labels(orchestrator)

    run, labels = run_async(fetch)
    if as_json:
        show_run(run, labels, True)
        return
    print_subtasks(stdout, run, labels)
    print_run(stdout, run, labels)


@app.command("map")
def map_command(
    target: Annotated[str, typer.Argument(metavar="FILE.py:FUNCTION")],
    items: Annotated[str, typer.Option("--items", help="A JSON list, or @file with one.")],
    chunks: Annotated[int, typer.Option("--chunks", min=1)] = 4,
    retries: RetriesOption = None,
    timeout: TimeoutOption = None,
    no_cache: NoCacheOption = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Apply FUNCTION from FILE.py to every item, in chunks on the fleet, results in order."""
    path, function, source = parse_target(target)
    values = parse_items(items)
    settings = load_settings(db)
    options = default_options(
        settings, retries=retries, timeout=timeout, use_cache=not no_cache, synthesize=False
    )

    async def run_map() -> list[Any]:
        with ProgressView(stderr) as view:
            return await Grid(settings).amap(
                function, values, chunks=chunks, source=source, filename=str(path),
                on_event=view, options=options,
            )  # fmt: skip

    results = run_async(run_map)
    errors = [result for result in results if not result.ok]
    if as_json:
        document = {
            "results": [result.value if result.ok else None for result in results],
            "errors": [{"index": result.index, "error": result.error} for result in errors],
        }
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        for result in results:
            text = json.dumps(result.value) if result.ok else f"ERROR: {result.error}"
            stdout.print(f"{result.index}\t{text}", markup=False, highlight=False)
    for result in errors[:20]:
        stderr.print(f"item {result.index} failed: {result.error}", markup=False)
    if errors:
        raise typer.Exit(EXIT_FAILED)


def parse_target(target: str) -> tuple[Path, str, str]:
    """`path/to/file.py:function` → (path, function, the file's source); a clear error when
    the file does not parse or does not define that function, before anything is sent."""
    path_text, _, function = target.rpartition(":")
    if not path_text or not function.isidentifier():
        raise InvalidInput(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    try:
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
    except SyntaxError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: {exc.msg}") from exc
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if function not in defined:
        raise InvalidInput(f"{path} defines no top-level function {function!r}")
    return path, function, source


def parse_items(text: str) -> list[Any]:
    """A JSON list given inline, or `@file` holding one."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise InvalidInput(f"cannot read items from {text[1:]}: {exc.strerror}") from exc
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--items is not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(values, list):
        raise InvalidInput("--items must be a JSON list")
    return values
