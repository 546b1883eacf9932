"""parse_plan_text: LLM text in, a Plan (or a PlanError quoting the reply) out."""

from __future__ import annotations

import json

import pytest

from nadg.errors import PlanError
from nadg.planner import parse_plan_text
from nadg.planner.parse import extract_json, quote, strip_fences

PLAN = {"subtasks": [{"id": "s1", "kind": "python", "task": "print(1)", "depends_on": []}]}
TEXT = json.dumps(PLAN)


@pytest.mark.parametrize(
    "reply",
    [
        TEXT,
        f"```json\n{TEXT}\n```",
        f"```\n{TEXT}\n```",
        f"Here is the plan:\n```json\n{TEXT}\n```\nGood luck!",
        f"Sure! {TEXT} Hope this helps.",
        json.dumps(PLAN["subtasks"]),  # a bare list of subtasks
    ],
)
def test_the_plan_is_found_in_common_reply_shapes(reply: str) -> None:
    plan = parse_plan_text(reply)
    assert [s.id for s in plan.subtasks] == ["s1"]


def test_extra_keys_a_model_adds_are_dropped() -> None:
    reply = json.dumps({"subtasks": [{**PLAN["subtasks"][0], "reason": "because"}]})
    assert parse_plan_text(reply).subtasks[0].task == "print(1)"


def test_prose_is_refused_with_a_quote() -> None:
    with pytest.raises(PlanError, match=r"not JSON.*reply began: \"I would split this") as info:
        parse_plan_text("I would split this into three parts: first, ...")
    assert "reply began" in info.value.message


def test_truncated_json_is_named() -> None:
    with pytest.raises(PlanError, match="JSON is truncated"):
        parse_plan_text(TEXT[:40])


def test_invalid_json_is_named() -> None:
    with pytest.raises(PlanError, match="JSON is invalid"):
        parse_plan_text('{"subtasks": [} trailing text here')


def test_a_wrong_shape_names_the_field() -> None:
    reply = json.dumps({"subtasks": [{"id": "s1", "kind": "shell", "task": "ls"}]})
    with pytest.raises(PlanError, match=r"subtasks\.0\.kind: Input should be 'python' or"):
        parse_plan_text(reply)


def test_empty_reply() -> None:
    with pytest.raises(PlanError, match="empty"):
        parse_plan_text("  \n")


def test_helpers() -> None:
    assert strip_fences("```python\nx\n```") == "x"
    assert strip_fences('```json\n{"a": 1}') == '{"a": 1}'  # an unclosed fence
    assert extract_json('noise {"a": [1, 2]} noise') == {"a": [1, 2]}
    assert quote("a\n  b", 3) == '"a b"'
    assert quote("x" * 10, 4) == '"xxxx..."'
