"""validate_plan, find_cycle and topological_order on hand-made plans."""

from __future__ import annotations

from typing import Any

import pytest

from nadg.errors import PlanError
from nadg.planner import (
    Plan,
    find_cycle,
    plan_problems,
    topological_order,
    unrunnable_kinds,
    validate_plan,
)
from nadg.protocol import TaskKind


def make_plan(*subtasks: tuple[str, str, str, list[str]]) -> Plan:
    items: list[dict[str, Any]] = [
        {"id": sid, "kind": kind, "task": task, "depends_on": deps}
        for sid, kind, task, deps in subtasks
    ]
    return Plan.model_validate({"subtasks": items})


DIAMOND = make_plan(
    ("a", "python", "print(1)", []),
    ("b", "prompt", "Explain", ["a"]),
    ("c", "python", "print(context['a'])", ["a"]),
    ("d", "prompt", "Combine", ["b", "c"]),
)


def test_a_valid_dag_passes_and_orders_dependencies_first() -> None:
    assert validate_plan(DIAMOND, capabilities={"python", "llm"}, max_subtasks=4) is DIAMOND
    assert [s.id for s in topological_order(DIAMOND)] == ["a", "b", "c", "d"]


def test_order_puts_dependencies_first_whatever_the_listing() -> None:
    plan = make_plan(("z", "prompt", "last", ["y"]), ("y", "prompt", "first", []))
    assert [s.id for s in topological_order(plan)] == ["y", "z"]


def test_a_cycle_is_named() -> None:
    plan = make_plan(
        ("a", "prompt", "x", ["c"]), ("b", "prompt", "y", ["a"]), ("c", "prompt", "z", ["b"])
    )
    assert find_cycle(plan) == ["a", "c", "b", "a"]
    with pytest.raises(PlanError, match=r"dependency cycle: a -> c -> b -> a"):
        validate_plan(plan)
    with pytest.raises(PlanError, match="cycle"):
        topological_order(plan)


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (make_plan(("a", "prompt", "x", ["nope"])), "depends on missing id 'nope'"),
        (make_plan(("a", "prompt", "x", ["a"])), "depends on itself"),
        (make_plan(("a", "prompt", "x", []), ("a", "prompt", "y", [])), "used twice"),
        (make_plan(("bad id!", "prompt", "x", [])), "not well-formed"),
        (make_plan(("a", "python", "print(1", [])), "python subtask 'a' does not parse"),
        (Plan(subtasks=[]), "no subtasks"),
    ],
)
def test_each_problem_is_named(plan: Plan, expected: str) -> None:
    with pytest.raises(PlanError, match="invalid plan") as info:
        validate_plan(plan)
    assert expected in info.value.message


def test_count_is_bounded() -> None:
    with pytest.raises(PlanError, match="4 subtasks, more than the maximum 2"):
        validate_plan(DIAMOND, max_subtasks=2)


def test_kinds_must_be_runnable_by_some_worker() -> None:
    assert unrunnable_kinds(DIAMOND, {"python"}) == [TaskKind.PROMPT]
    with pytest.raises(PlanError, match="no active worker can run prompt subtasks"):
        validate_plan(DIAMOND, capabilities={"python", "gpu"})
    problems = plan_problems(DIAMOND, capabilities=set())
    assert len(problems) == 2  # python and prompt
    assert validate_plan(DIAMOND, capabilities=None) is DIAMOND  # a preview


def test_every_problem_is_reported_at_once() -> None:
    plan = make_plan(("a", "python", "def", ["x"]), ("a", "prompt", "y", []))
    with pytest.raises(PlanError) as info:
        validate_plan(plan)
    message = info.value.message
    assert "used twice" in message
    assert "missing id 'x'" in message
    assert "does not parse" in message


def test_kind_is_case_insensitive_and_unknown_fields_are_refused() -> None:
    plan = Plan.model_validate({"subtasks": [{"id": "a", "kind": "Python", "task": "print(1)"}]})
    assert plan.subtasks[0].kind is TaskKind.PYTHON
    with pytest.raises(ValueError, match="Extra inputs"):
        Plan.model_validate({"subtasks": [{"id": "a", "kind": "python", "task": "x", "y": 1}]})
