"""The offline rules planner: the default with no LLM configured. Deterministic, no model.

What it does, in order:
1. A command whose lines are all list items (`1.`, `1)`, `-`, `*`, `•`), or that has list
   items and is not itself Python, gives one subtask per item. An indented line under an item
   continues it; lines before the first item (a heading such as "Do these:") are dropped.
2. Otherwise a command that is one Python program (one or many lines) is one python subtask.
3. Otherwise items separated by semicolons give one subtask each.
4. Otherwise the whole command is one subtask.

An item is a python subtask when it parses as Python *and* does something (a call, an
assignment, an import, a definition, a loop...); a bare word or expression such as `Summarize`
or `yes or no` is prose. Anything else is a prompt subtask.

What it cannot do: it never adds dependencies (every subtask is independent, so nothing feeds
one subtask's output to another), never splits a single instruction into smaller parts, and
never rewrites a task. Semicolons inside prose split it. Use an LLM planner or a plan file
for a real DAG.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from nadg.errors import PlanError
from nadg.planner.plan import Plan, PlanSubtask, validate_plan
from nadg.protocol import TaskKind, TokenUsage

_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•])\s+(?P<text>\S.*)$")
TITLE_CHARS = 60

# Nodes that mean an item "does something" when it parses as Python.
_ACTIONS: tuple[type[ast.AST], ...] = (
    ast.Call,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.NamedExpr,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def is_python(text: str) -> bool:
    """True when `text` parses as Python and does something (not a bare name or expression)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, ast.Expr):
            return True
        if isinstance(node, _ACTIONS):
            return True
    return False


def list_items(command: str) -> list[str]:
    """The list items of `command` (continuation lines joined to their item), maybe empty."""
    items: list[str] = []
    for line in command.splitlines():
        match = _ITEM.match(line)
        if match:
            items.append(match.group("text").rstrip())
        elif items and line.strip() and line[:1].isspace():
            items[-1] += "\n" + line.strip()
    return items


def _all_lines_are_items(command: str) -> bool:
    lines = [line for line in command.splitlines() if line.strip()]
    return bool(lines) and all(_ITEM.match(line) for line in lines)


def split_command(command: str) -> list[str]:
    """The command's items, by the rules in this module's docstring."""
    text = command.strip()
    items = list_items(text)
    whole_is_python = is_python(text)
    if items and (_all_lines_are_items(text) or not whole_is_python):
        return items
    if whole_is_python:
        return [text]
    if ";" in text:
        parts = [part.strip() for part in text.split(";")]
        return [part for part in parts if part]
    return [text]


def kind_of(item: str) -> TaskKind:
    return TaskKind.PYTHON if is_python(item) else TaskKind.PROMPT


def title_of(item: str) -> str:
    line = item.strip().splitlines()[0]
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 3] + "..."


def rules_plan(command: str, max_subtasks: int | None = None) -> Plan:
    """The rules planner's plan for `command` (pure). `max_subtasks` is enforced when given."""
    items = split_command(command)
    if not items:
        raise PlanError("the command is empty")
    subtasks = [
        PlanSubtask(id=f"s{n}", kind=kind_of(item), task=item, title=title_of(item))
        for n, item in enumerate(items, start=1)
    ]
    plan = Plan(subtasks=subtasks)
    if max_subtasks is not None and len(subtasks) > max_subtasks:
        raise PlanError(
            f"the command has {len(subtasks)} items but at most {max_subtasks} subtasks are "
            f"allowed; raise --max-subtasks"
        )
    return validate_plan(plan)


class RulesPlanner:
    """`plan()` by the rules above. The workers are not consulted (only `nadg run` checks them)."""

    name = "rules"

    def __init__(self) -> None:
        self.last_usage = TokenUsage()

    async def plan(
        self, command: str, workers: Sequence[object], max_subtasks: int | None = None
    ) -> Plan:
        return rules_plan(command, max_subtasks)
