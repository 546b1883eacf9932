"""Plan files in JSON and YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nadg.errors import PlanError
from nadg.planner import load_plan_file

YAML = """\
subtasks:
  - id: fetch
    kind: python
    task: |
      print(sum(range(10)))
  - id: explain
    kind: prompt
    title: Explain the sum
    task: Explain how this number was computed.
    depends_on: [fetch]
"""


def test_yaml_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(YAML)
    plan = load_plan_file(path)
    assert [(s.id, s.kind.value, s.depends_on) for s in plan.subtasks] == [
        ("fetch", "python", []),
        ("explain", "prompt", ["fetch"]),
    ]
    assert plan.subtasks[1].title == "Explain the sum"


@pytest.mark.parametrize("name", ["plan.json", "plan.txt"])
def test_json_plan(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(json.dumps({"subtasks": [{"id": "a", "kind": "prompt", "task": "Hi"}]}))
    assert load_plan_file(path).subtasks[0].task == "Hi"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("p.json", "{", "not valid JSON"),
        ("p.yaml", "subtasks: [", "not valid YAML"),
        (
            "p.yaml",
            "subtasks:\n  - id: a\n    kind: prompt\n",
            r"subtasks\.0\.task: Field required",
        ),
        ("p.yaml", "subtask: []", "subtasks: Field required"),
        (
            "p.yaml",
            "subtasks:\n  - {id: a, kind: prompt, task: x, depends_on: [b]}\n",
            "missing id 'b'",
        ),
    ],
)
def test_bad_files_are_refused_with_the_path(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PlanError, match=expected) as info:
        load_plan_file(path)
    assert str(path) in info.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no such plan file"):
        load_plan_file(tmp_path / "nope.yaml")
