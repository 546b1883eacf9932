"""How results become an answer and a status; how map splits items and puts them back."""

from __future__ import annotations

import json

import pytest

from nadg.aggregate import combine, run_state, should_synthesize, synthesis_prompt
from nadg.mapping import (
    chunk_bounds,
    collect_results,
    map_plan,
    portable_source,
    top_level_imports,
)
from nadg.registry.models import RunDetail, RunState, Subtask, SubtaskState


def row(
    key: str,
    status: SubtaskState = SubtaskState.COMPLETED,
    output: str | None = "ok",
    error: str | None = None,
    position: int = 0,
    kind: str = "python",
) -> Subtask:
    return Subtask(
        id=position + 1, run_id="r", position=position, key=key, kind=kind,
        task_description="x", status=status, output=output, error=error,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([SubtaskState.COMPLETED, SubtaskState.COMPLETED], RunState.COMPLETED),
        ([SubtaskState.COMPLETED, SubtaskState.FAILED], RunState.PARTIAL),
        ([SubtaskState.COMPLETED, SubtaskState.CANCELLED], RunState.PARTIAL),
        ([SubtaskState.FAILED, SubtaskState.CANCELLED], RunState.FAILED),
        ([], RunState.FAILED),
    ],
)
def test_run_state(states: list[SubtaskState], expected: RunState) -> None:
    rows = [row(f"s{i}", state, position=i) for i, state in enumerate(states)]
    assert run_state(rows) == expected


def test_combine_orders_by_position_and_says_why_a_part_failed() -> None:
    rows = [
        row("b", SubtaskState.FAILED, None, "Traceback\nValueError: boom", position=1),
        row("a", output="  42\n", position=0),
        row("c", SubtaskState.CANCELLED, None, "dependency 'b' failed", position=2),
    ]
    assert combine(rows) == (
        "### a\n\n```text\n  42\n```\n\n### b\n\n_failed: ValueError: boom_\n\n"
        "### c\n\n_cancelled: dependency 'b' failed_"
    )


def test_a_prompt_answer_stays_markdown() -> None:
    assert combine([row("a", output="**yes**\n", kind="prompt")]) == "### a\n\n**yes**"


def test_synthesis_only_for_plans_with_prompt_subtasks() -> None:
    assert not should_synthesize([row("a")])
    assert should_synthesize([row("a"), row("b", kind="prompt", position=1)])
    assert "Task: sum it" in synthesis_prompt("sum it", [row("a")])


@pytest.mark.parametrize(
    ("count", "chunks", "expected"),
    [
        (10, 3, [(0, 4), (4, 7), (7, 10)]),
        (2, 8, [(0, 1), (1, 2)]),
        (1000, 8, [(i * 125, (i + 1) * 125) for i in range(8)]),
    ],
)
def test_chunk_bounds_cover_every_item_once(
    count: int, chunks: int, expected: list[tuple[int, int]]
) -> None:
    assert chunk_bounds(count, chunks) == expected


def test_map_results_come_back_in_item_order_with_errors_by_index() -> None:
    plan = map_plan("def f(x):\n    return x\n", "m.py", "f", [10, 11, 12], 2)
    assert [subtask.id for subtask in plan.subtasks] == ["chunk-1", "chunk-2"]
    first = json.dumps([{"index": 0, "value": 10}, {"index": 1, "error": "KeyError: 1"}])
    run = RunDetail(
        id="r", command="map", planner="map",
        subtasks=[
            row("chunk-1", output="noise\n" + first, position=0),
            row("chunk-2", SubtaskState.FAILED, None, "timeout (exit None)", position=1),
        ],
    )  # fmt: skip
    results = collect_results(run, 3)
    assert [(r.index, r.value, r.error) for r in results] == [
        (0, 10, None),
        (1, None, "KeyError: 1"),
        (2, None, "chunk chunk-2 failed: timeout (exit None)"),
    ]


def test_portable_source_is_the_function_after_its_modules_guarded_imports() -> None:
    source = portable_source(chunk_bounds)
    assert source.startswith("try:\n    import ast\nexcept ImportError:\n    pass\n")
    assert "from __future__" not in source
    assert "def chunk_bounds(count: int, chunks: int)" in source
    assert "def map_plan" not in source  # the rest of the module stays home
    namespace: dict[str, object] = {}
    exec(compile(source, "<test>", "exec"), namespace)
    assert namespace["chunk_bounds"](5, 2) == [(0, 3), (3, 5)]  # type: ignore[operator]


def test_top_level_imports_skip_nested_ones_and_bad_source() -> None:
    module = "import os\nfrom a.b import c as d\ndef f():\n    import sys\n"
    assert top_level_imports(module) == ["import os", "from a.b import c as d"]
    assert top_level_imports("def (") == []
