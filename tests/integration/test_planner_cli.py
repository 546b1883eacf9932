"""`nadg plan`: previews from the rules planner, an LLM (the stand-in), and plan files.

The tests are sync: the command runs its own event loop (asyncio.run), as from a shell.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.llm import GEMINI_KEY, LLMStandIn, Reply
from nadg.cli import app
from nadg.config import Settings
from nadg.registry import Registry
from nadg.registry.models import WorkerState

runner = CliRunner()

PLAN = {
    "subtasks": [
        {"id": "sum", "kind": "python", "task": "print(sum(range(10)))", "title": "Add"},
        {"id": "say", "kind": "prompt", "task": "Explain", "depends_on": ["sum"], "title": "Tell"},
    ]
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


async def add_workers(db: str, tmp_path: Path, *caps: list[str]) -> None:
    async with await Registry.open(Settings(home=tmp_path, database_url=db)) as registry:
        for n, capabilities in enumerate(caps):
            await registry.upsert_worker(
                f"http://127.0.0.1:{9000 + n}", capabilities=capabilities, status=WorkerState.ACTIVE
            )
        await registry.upsert_worker(
            "http://127.0.0.1:9999", capabilities=["python", "llm"], status=WorkerState.OFFLINE
        )


def test_rules_preview_with_an_empty_registry_warns(db: str) -> None:
    result = runner.invoke(app, ["plan", "1. print(1)\n2. Write a haiku", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Plan by the rules planner (2)" in result.stdout
    assert "Write a haiku" in result.stdout
    assert "active workers: 0" in result.stdout
    assert "no active worker is registered" in result.stderr


def test_json_preview_from_the_llm_planner_sees_the_active_workers(
    db: str, tmp_path: Path, llm_standin: LLMStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(add_workers(db, tmp_path, ["python", "llm"], ["python"]))
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.setenv("NADG_LLM_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("NADG_GEMINI_BASE_URL", llm_standin.url)
    llm_standin.script(Reply(text=json.dumps(PLAN), input_tokens=200, output_tokens=50))
    result = runner.invoke(app, ["plan", "Sum and explain", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["planner"] == "gemini"
    assert doc["active_workers"] == 2
    assert [s["id"] for s in doc["subtasks"]] == ["sum", "say"]
    assert doc["usage"] == {"input_tokens": 200, "output_tokens": 50}
    assert doc["warnings"] == []
    [sent] = llm_standin.requests
    assert "Active workers: 2." in sent.prompt  # the offline one is not counted
    assert "llm (1), python (2)" in sent.prompt
    assert "at most 2 subtasks" in sent.prompt
    assert result.stderr == ""


def test_a_kind_no_active_worker_can_run_is_a_warning_in_a_preview(db: str, tmp_path: Path) -> None:
    asyncio.run(add_workers(db, tmp_path, ["python"]))
    result = runner.invoke(app, ["plan", "print(1); Write a haiku", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == [
        "no active worker can run prompt subtasks (needs capability 'llm'); "
        "`nadg run` would refuse this plan"
    ]
    assert "warning: no active worker can run prompt" in result.stderr


def test_a_plan_file_is_shown_as_a_table_and_a_tree(db: str, tmp_path: Path) -> None:
    asyncio.run(add_workers(db, tmp_path, ["python", "llm"]))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(PLAN))
    result = runner.invoke(app, ["plan", "--plan", str(path), "--db", db])
    assert result.exit_code == 0, result.output
    assert "Plan by the file planner (2)" in result.stdout
    assert "dependencies" in result.stdout
    assert "└── say (prompt) Tell" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [[], ["x", "--plan", "p.json"], ["x", "--planner", "magic"]],
)
def test_usage_errors(args: list[str], db: str) -> None:
    result = runner.invoke(app, ["plan", *args, "--db", db])
    assert result.exit_code == 2
    assert "nadg: error:" in result.stderr


def test_an_invalid_plan_file_is_one_line_and_exit_2(tmp_path: Path, db: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("subtasks:\n  - {id: a, kind: prompt, task: x, depends_on: [a2]}\n")
    done = subprocess.run(
        [sys.executable, "-m", "nadg", "plan", "--plan", str(path), "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("depends on missing id 'a2'")
    assert done.stderr.count("\n") == 1
