"""The rules planner on a table of commands and the plans they must give."""

from __future__ import annotations

import pytest

from nadg.errors import PlanError
from nadg.planner import RulesPlanner, rules_plan
from nadg.planner.rules import is_python

P, Q = "python", "prompt"

TABLE: list[tuple[str, list[tuple[str, str]]]] = [
    # one prose instruction
    ("Summarize the report", [(Q, "Summarize the report")]),
    # one line of Python
    ("print(2+2)", [(P, "print(2+2)")]),
    # a bare word parses as Python but is prose
    ("Summarize", [(Q, "Summarize")]),
    ("yes or no", [(Q, "yes or no")]),
    # numbered lists, both styles, mixed kinds
    (
        "1. print(sum(range(10)))\n2. Write a haiku about grids\n3) import math; print(math.pi)",
        [
            (P, "print(sum(range(10)))"),
            (Q, "Write a haiku about grids"),
            (P, "import math; print(math.pi)"),
        ],
    ),
    # bullets of every kind, a heading that is dropped, a continuation line
    (
        "Do these:\n- Translate 'hello' to French\n* print('x')\n• Name three\n  colours",
        [(Q, "Translate 'hello' to French"), (P, "print('x')"), (Q, "Name three\ncolours")],
    ),
    # bullets that are each valid Python stay separate, though "- f()" alone parses
    ("- print(1)\n- print(2)", [(P, "print(1)"), (P, "print(2)")]),
    # a multi-line Python program is one subtask
    (
        "total = 0\nfor i in range(5):\n    total += i\nprint(total)",
        [(P, "total = 0\nfor i in range(5):\n    total += i\nprint(total)")],
    ),
    # a program whose line looks like a numbered item is still one program
    ("x = 1\n- x", [(P, "x = 1\n- x")]),
    # semicolons split prose...
    (
        "Summarize the report; translate it to French ; ",
        [(Q, "Summarize the report"), (Q, "translate it to French")],
    ),
    # ...and mixed items, but not a line that is valid Python as a whole
    ("print(1); Explain recursion", [(P, "print(1)"), (Q, "Explain recursion")]),
    ("x = 2; print(x * 21)", [(P, "x = 2; print(x * 21)")]),
]


@pytest.mark.parametrize(("command", "expected"), TABLE)
def test_rules_table(command: str, expected: list[tuple[str, str]]) -> None:
    plan = rules_plan(command)
    assert [(s.kind.value, s.task) for s in plan.subtasks] == expected
    assert [s.id for s in plan.subtasks] == [f"s{n}" for n in range(1, len(expected) + 1)]
    assert all(s.depends_on == [] for s in plan.subtasks)  # never any dependencies


def test_deterministic_and_titled() -> None:
    command = "1. " + "Describe " * 20 + "\n2. print(1)"
    assert rules_plan(command) == rules_plan(command)
    title = rules_plan(command).subtasks[0].title
    assert title is not None and len(title) == 60 and title.endswith("...")


def test_max_subtasks_is_enforced_when_given() -> None:
    with pytest.raises(PlanError, match="3 items but at most 2"):
        rules_plan("a; b; c", max_subtasks=2)
    assert len(rules_plan("a; b; c", max_subtasks=3).subtasks) == 3


def test_empty_command() -> None:
    with pytest.raises(PlanError, match="empty"):
        rules_plan("  ;  ")


async def test_the_planner_object() -> None:
    planner = RulesPlanner()
    plan = await planner.plan("print(1)", workers=[])
    assert planner.name == "rules"
    assert planner.last_usage.total == 0
    assert plan.subtasks[0].kind.value == "python"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("import os", True), ("x = 1", True), ("f(x)", True), ("pass", True), ("x", False)],
)
def test_is_python(text: str, expected: bool) -> None:
    assert is_python(text) is expected
