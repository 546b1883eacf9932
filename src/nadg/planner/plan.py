"""The Plan: subtasks with ids, kinds and dependencies (a DAG), and the checks it must pass."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nadg.errors import PlanError
from nadg.protocol import TaskKind

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# The worker capability each kind of subtask needs.
CAPABILITY_FOR: dict[TaskKind, str] = {TaskKind.PYTHON: "python", TaskKind.PROMPT: "llm"}


class PlanSubtask(BaseModel):
    """One subtask: python code to run, or an instruction for a model."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: TaskKind
    task: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    title: str | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _lower_kind(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class Plan(BaseModel):
    """The subtasks of one run, in a stable order; `depends_on` makes it a DAG."""

    model_config = ConfigDict(extra="forbid")

    subtasks: list[PlanSubtask]

    def by_id(self) -> dict[str, PlanSubtask]:
        return {subtask.id: subtask for subtask in self.subtasks}

    @property
    def kinds(self) -> set[TaskKind]:
        return {subtask.kind for subtask in self.subtasks}


def find_cycle(plan: Plan) -> list[str] | None:
    """One dependency cycle as ids (first repeated at the end), or None. Unknown ids are skipped."""
    ids = {s.id for s in plan.subtasks}
    deps = {s.id: [d for d in s.depends_on if d in ids] for s in plan.subtasks}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in deps:
        if start not in state and (cycle := _cycle_from(start, deps, state)):
            return cycle
    return None


def _cycle_from(start: str, deps: dict[str, list[str]], state: dict[str, int]) -> list[str] | None:
    """Depth-first from `start` with an explicit stack: a plan file's long chain must not
    exhaust Python's recursion limit."""
    path, stack = [start], [iter(deps[start])]
    state[start] = 1
    while stack:
        dep = next(stack[-1], None)
        if dep is None:
            state[path.pop()] = 2
            stack.pop()
        elif state.get(dep) == 1:
            return [*path[path.index(dep) :], dep]
        elif dep not in state:
            state[dep] = 1
            path.append(dep)
            stack.append(iter(deps[dep]))
    return None


def _id_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for subtask in plan.subtasks:
        if not ID_PATTERN.match(subtask.id):
            problems.append(
                f"id {subtask.id!r} is not well-formed (letters, digits, '_', '-', '.'; "
                "at most 64 characters)"
            )
        if subtask.id in seen:
            problems.append(f"id {subtask.id!r} is used twice")
        seen.add(subtask.id)
    return problems


def _dependency_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    ids = {subtask.id for subtask in plan.subtasks}
    for subtask in plan.subtasks:
        for dep in subtask.depends_on:
            if dep == subtask.id:
                problems.append(f"subtask {subtask.id!r} depends on itself")
            elif dep not in ids:
                problems.append(f"subtask {subtask.id!r} depends on missing id {dep!r}")
    cycle = find_cycle(plan)
    if cycle and len(cycle) > 2:  # a self-dependency is already named above
        problems.append("dependency cycle: " + " -> ".join(cycle))
    return problems


def _python_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    for subtask in plan.subtasks:
        if subtask.kind != TaskKind.PYTHON:
            continue
        try:
            ast.parse(subtask.task)
        except SyntaxError as exc:
            problems.append(
                f"python subtask {subtask.id!r} does not parse: {exc.msg} (line {exc.lineno})"
            )
    return problems


def unrunnable_kinds(plan: Plan, capabilities: Iterable[str]) -> list[TaskKind]:
    """The plan's kinds that no worker with these capabilities can run, in a stable order."""
    have = set(capabilities)
    return [kind for kind in TaskKind if kind in plan.kinds and CAPABILITY_FOR[kind] not in have]


def capabilities_of(workers: Sequence[object]) -> set[str]:
    """The union of the workers' capabilities (anything with a `capabilities` list)."""
    found: set[str] = set()
    for worker in workers:
        found.update(getattr(worker, "capabilities", []) or [])
    return found


def plan_problems(
    plan: Plan, *, capabilities: set[str] | None = None, max_subtasks: int | None = None
) -> list[str]:
    """Everything wrong with `plan`, one short sentence each (empty when it is valid)."""
    count = len(plan.subtasks)
    if count == 0:
        return ["the plan has no subtasks"]
    problems = [*_id_problems(plan), *_dependency_problems(plan), *_python_problems(plan)]
    if max_subtasks is not None and count > max_subtasks:
        problems.append(f"the plan has {count} subtasks, more than the maximum {max_subtasks}")
    if capabilities is not None:
        for kind in unrunnable_kinds(plan, capabilities):
            problems.append(
                f"no active worker can run {kind.value} subtasks "
                f"(needs capability {CAPABILITY_FOR[kind]!r})"
            )
    return problems


def validate_plan(
    plan: Plan, *, capabilities: set[str] | None = None, max_subtasks: int | None = None
) -> Plan:
    """Return `plan` when it is valid, else raise PlanError naming every problem.

    `capabilities` (the union over active workers) is None for a preview: kinds are then not
    checked against workers.
    """
    problems = plan_problems(plan, capabilities=capabilities, max_subtasks=max_subtasks)
    if problems:
        raise PlanError("invalid plan: " + "; ".join(problems))
    return plan


def topological_order(plan: Plan) -> list[PlanSubtask]:
    """Subtasks with every dependency before its dependents; plan order breaks ties."""
    by_id = plan.by_id()
    done: set[str] = set()
    order: list[PlanSubtask] = []
    pending = list(plan.subtasks)
    while pending:
        ready = [s for s in pending if all(d in done or d not in by_id for d in s.depends_on)]
        if not ready:
            cycle = find_cycle(plan) or [s.id for s in pending]
            raise PlanError("dependency cycle: " + " -> ".join(cycle))
        for subtask in ready:
            done.add(subtask.id)
            order.append(subtask)
        pending = [s for s in pending if s.id not in done]
    return order
