"""The UI's pure parts: plan edits, the DOT graph, config facts, and the `nadg ui` command line."""

from __future__ import annotations

import pytest

from nadg.cli.ui import APP_SCRIPT, streamlit_command, ui_environment
from nadg.errors import PlanError
from nadg.planner import Plan, PlanSubtask
from nadg.protocol import TaskKind
from nadg.ui.views import dependency_dot, plan_dot, plan_from_rows, plan_rows

PLAN = Plan(
    subtasks=[
        PlanSubtask(id="a", kind=TaskKind.PYTHON, task="print(1)", title="one"),
        PlanSubtask(id="b", kind=TaskKind.PROMPT, task="Explain it", depends_on=["a"]),
    ]
)


def test_rows_round_trip_to_the_same_plan() -> None:
    rows = plan_rows(PLAN)
    assert rows[1]["depends_on"] == "a"
    assert plan_from_rows(rows, titles={"a": "one"}) == PLAN


def test_blank_rows_are_skipped_and_missing_ids_numbered() -> None:
    rows = [
        {"id": None, "kind": "python", "task": "print(2)", "depends_on": float("nan")},
        {"id": None, "kind": None, "task": None, "depends_on": None},
    ]
    plan = plan_from_rows(rows)
    assert [(s.id, s.task) for s in plan.subtasks] == [("t1", "print(2)")]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "x", "kind": "shell", "task": "ls", "depends_on": ""}, "row 1 (x): kind"),
        ({"id": "x", "kind": "python", "task": "  ", "depends_on": ""}, "row 1 (x): task"),
        ({"id": "x y", "kind": "python", "task": "print(1)", "depends_on": ""}, "not well-formed"),
    ],
)
def test_a_bad_row_says_which_and_why(row: dict[str, str], message: str) -> None:
    with pytest.raises(PlanError, match="invalid plan") as raised:
        plan_from_rows([row])
    assert message in raised.value.message


def test_prompt_subtasks_need_an_llm_worker() -> None:
    with pytest.raises(PlanError, match="no active worker can run prompt"):
        plan_from_rows(plan_rows(PLAN), capabilities={"python"})


def test_the_graph_is_dot_with_quoted_ids_and_edges_from_dependency_to_user() -> None:
    dot = plan_dot(PLAN)
    assert dot.startswith("digraph plan {") and '"a" -> "b";' in dot
    tricky = dependency_dot([('q"1', "python", [])], {'q"1': "failed"})
    assert '"q\\"1"' in tricky and "#ff9e9e" in tricky


def test_nadg_ui_puts_no_setting_on_the_command_line() -> None:
    command = streamlit_command(8600, "127.0.0.1")
    assert str(APP_SCRIPT) in command and APP_SCRIPT.exists()
    assert command[command.index("--server.port") + 1] == "8600"
    env = ui_environment({"NADG_AUTH_TOKEN": "tok"}, "postgresql://u:pw@db/nadg")
    assert env["NADG_DATABASE_URL"] == "postgresql://u:pw@db/nadg"
    assert not any("pw" in part or "tok" in part for part in command)
