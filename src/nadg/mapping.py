"""`map`: one function over many items, in chunks of python subtasks, results back in order."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nadg.errors import InvalidInput
from nadg.planner import Plan, PlanSubtask
from nadg.protocol import TaskKind
from nadg.registry.models import RunDetail, SubtaskState

# Runs inside the sandbox. The user's module is executed in its own namespace (so its
# `if __name__ == "__main__":` block stays quiet); each item's result or error is kept.
_DRIVER = """\
import json as _json
_namespace = {{"__name__": "nadg_map"}}
exec(compile({source!r}, {filename!r}, "exec"), _namespace)
_function = _namespace[{function!r}]
_out = []
for _index, _item in enumerate(_json.loads({items!r}), {start}):
    try:
        _value = _function(_item)
        _json.dumps(_value)
        _out.append({{"index": _index, "value": _value}})
    except Exception as _exc:
        _out.append({{"index": _index, "error": type(_exc).__name__ + ": " + str(_exc)}})
print(_json.dumps(_out))
"""


@dataclass(frozen=True)
class ItemResult:
    index: int
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def chunk_bounds(count: int, chunks: int) -> list[tuple[int, int]]:
    """Split `count` items into at most `chunks` contiguous, near-equal [start, end) ranges."""
    chunks = max(1, min(chunks, count))
    size, extra = divmod(count, chunks)
    bounds, start = [], 0
    for index in range(chunks):
        end = start + size + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def map_plan(source: str, filename: str, function: str, items: Sequence[Any], chunks: int) -> Plan:
    """One python subtask per chunk; each prints a JSON list of per-item results."""
    if not items:
        raise InvalidInput("map needs at least one item")
    subtasks = []
    for number, (start, end) in enumerate(chunk_bounds(len(items), chunks), 1):
        code = _DRIVER.format(
            source=source,
            filename=filename,
            function=function,
            items=json.dumps(list(items[start:end])),
            start=start,
        )
        title = f"{function} over items {start}..{end - 1}"
        subtasks.append(
            PlanSubtask(id=f"chunk-{number}", kind=TaskKind.PYTHON, task=code, title=title)
        )
    return Plan(subtasks=subtasks)


def collect_results(run: RunDetail, count: int) -> list[ItemResult]:
    """Every item's result in item order; a chunk that failed marks each of its items."""
    results: dict[int, ItemResult] = {}
    bounds = chunk_bounds(count, len(run.subtasks))
    for subtask, (start, end) in zip(
        sorted(run.subtasks, key=lambda s: s.position), bounds, strict=True
    ):
        if subtask.status != SubtaskState.COMPLETED:
            reason = f"chunk {subtask.key} {subtask.status.value}: {subtask.error or ''}".strip()
            results.update({index: ItemResult(index, error=reason) for index in range(start, end)})
            continue
        for entry in _parse_chunk(subtask.output or ""):
            index = int(entry["index"])
            results[index] = ItemResult(index, entry.get("value"), entry.get("error"))
    lost = "no result came back for this item"
    return [results.get(index, ItemResult(index, error=lost)) for index in range(count)]


def _parse_chunk(output: str) -> list[dict[str, Any]]:
    """The chunk's JSON line: the last line of its stdout (the function may print too)."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return []
    try:
        parsed = json.loads(lines[-1])
    except json.JSONDecodeError:
        return []
    return (
        [entry for entry in parsed if isinstance(entry, dict)] if isinstance(parsed, list) else []
    )


def portable_source(function: Callable[..., Any]) -> str:
    """The function's own source, after its module's top-level imports.

    Not the whole module: a program's other imports (its framework, its tests) need not exist
    on a worker. Each import is skipped there when it is missing, so only a function that
    really uses it fails, with a NameError that says which.
    """
    own = textwrap.dedent(inspect.getsource(function))
    module = inspect.getmodule(function)
    try:
        module_source = inspect.getsource(module) if module else ""
    except (OSError, TypeError):
        module_source = ""
    guarded = [
        f"try:\n{textwrap.indent(statement, '    ')}\nexcept ImportError:\n    pass"
        for statement in top_level_imports(module_source)
    ]
    return "\n".join([*guarded, own])


def top_level_imports(source: str) -> list[str]:
    """The module's own `import` / `from ... import` statements (not `from __future__`)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    statements = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            segment = ast.get_source_segment(source, node)
            if segment:
                statements.append(segment)
    return statements
