"""The Run and History pages under AppTest, against a real registry and real local workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from fixtures.llm import OPENAI_KEY, LLMStandIn, Reply
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.registry import Registry
from nadg.registry.models import Run, RunState
from ui.helpers import APP, button, open_page, point_env, register, texts, wait_for

COMMAND = "1. print(6 * 7)\n2. print(sum(range(10)))"


@pytest.fixture
def app_grid(
    grid_settings: Settings,
    cluster_factory: Callable[..., LocalCluster],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Two real workers registered in the test's registry, and the app pointed at both."""
    register(grid_settings, cluster_factory(2))
    point_env(monkeypatch, grid_settings)
    return grid_settings


def runs_in(settings: Settings) -> list[Run]:
    async def go() -> list[Run]:
        async with await Registry.open(settings) as registry:
            return await registry.list_runs()

    return asyncio.run(go())


def planned(command: str = COMMAND) -> AppTest:
    at = open_page("run")
    at.text_area(key="run_command").input(command)
    button(at, "Plan").click().run()
    assert not at.exception, at.exception
    return at


def answered(at: AppTest) -> bool:
    return any("Answer" in element.value for element in at.markdown) and "42" in texts(at)


def test_plan_run_see_it_complete_and_in_history(app_grid: Settings) -> None:
    at = planned()
    assert "rules planner is used" in texts(at)  # no LLM configured, and the page says so
    table = at.data_editor[0].value
    assert list(table["id"]) == ["s1", "s2"] and set(table["kind"]) == {"python"}
    button(at, "Run").click().run()
    wait_for(at, answered)
    (run,) = runs_in(app_grid)
    assert run.status == RunState.COMPLETED
    assert "completed" in texts(at) and "Estimated cost" in texts(at)
    history = open_page("history")
    assert run.id in texts(history) and "42" in texts(history)
    assert button(history, "Resume").disabled  # nothing left to resume

    # A refresh or a second tab (a new session) shows the same run: its URL names it.
    assert at.query_params["run"] in (run.id, [run.id])
    other = AppTest.from_file(str(APP), default_timeout=30)
    other.query_params["run"] = run.id
    other.run()
    other.switch_page("run.py").run()
    assert run.id in texts(other) and "42" in texts(other)


def test_rerun_from_history_makes_a_new_run(app_grid: Settings) -> None:
    at = planned("1. print('again')")
    button(at, "Run").click().run()
    wait_for(at, lambda page: "again" in texts(page) and answered_any(page))
    history = open_page("history")
    button(history, "Re-run").click().run()
    wait_for(history, lambda page: len(runs_in(app_grid)) == 2 and answered_any(page))
    assert all(run.status == RunState.COMPLETED for run in runs_in(app_grid))


def answered_any(at: AppTest) -> bool:
    return any("Answer" in element.value for element in at.markdown)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"1": {"depends_on": "s9"}}, "depends on missing id 's9'"),
        ({"0": {"task": "print(("}}, "does not parse"),
        ({"0": {"depends_on": "s2"}, "1": {"depends_on": "s1"}}, "dependency cycle"),
    ],
)
def test_an_invalid_plan_edit_is_explained_and_blocks_the_run(
    app_grid: Settings, edit: dict[str, dict[str, str]], message: str
) -> None:
    at = planned()
    at.session_state["plan_editor"] = {"edited_rows": edit, "added_rows": [], "deleted_rows": []}
    at.run()
    errors = " ".join(error.value for error in at.error)
    assert "This plan cannot run" in errors and message in errors
    assert button(at, "Run").disabled
    assert runs_in(app_grid) == []


def test_a_valid_edit_is_what_runs(app_grid: Settings) -> None:
    at = planned()
    at.session_state["plan_editor"] = {
        "edited_rows": {"1": {"task": "print(context['s1'].strip() + '!')", "depends_on": "s1"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.error
    assert '"s1" -> "s2"' in at.get("graphviz_chart")[0].proto.spec
    button(at, "Run").click().run()
    wait_for(at, lambda page: "42!" in texts(page) and answered_any(page))


def test_an_unconfigured_llm_planner_says_what_to_set(app_grid: Settings) -> None:
    at = open_page("run")
    at.text_area(key="run_command").input("Write a haiku about grids")
    at.selectbox(key="run_planner").select("gemini")
    button(at, "Plan").click().run()
    errors = " ".join(error.value for error in at.error)
    assert "GEMINI_API_KEY" in errors


def test_an_llm_plan_with_dependencies_is_shown_as_a_graph_and_runs(
    app_grid: Settings, llm_standin: LLMStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "NADG_LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": OPENAI_KEY,
        "NADG_OPENAI_BASE_URL": f"{llm_standin.url}/v1",
        "NADG_LLM_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    plan = {
        "subtasks": [
            {"id": "a", "kind": "python", "task": "print(6 * 7)", "depends_on": []},
            {"id": "b", "kind": "python", "task": "print(int(context['a']) + 1)",
             "depends_on": ["a"]},
        ]
    }  # fmt: skip
    llm_standin.script(Reply(text=json.dumps(plan)))  # python only: no synthesis call
    at = planned("Compute 6 * 7, then add one")
    assert "Planned by **openai** (18 tokens)" in texts(at)
    assert '"a" -> "b"' in at.get("graphviz_chart")[0].proto.spec
    button(at, "Run").click().run()
    wait_for(at, answered_any)
    (run,) = runs_in(app_grid)
    assert run.status == RunState.COMPLETED and "43" in texts(at)
    assert run.input_tokens + run.output_tokens == 18  # the planning is counted in the run
    assert OPENAI_KEY not in texts(at)
