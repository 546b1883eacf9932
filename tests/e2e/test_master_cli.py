"""The master as a user runs it: `nadg run`, `resume`, `map`, `runs`, `demo`, as processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fixtures.grid import executions, register_cluster
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.registry import Registry
from nadg.registry.models import SubtaskState


def nadg(*args: str, settings: Settings, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nadg", *args],
        env=master_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def master_env(settings: Settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NADG_")}
    env["NADG_HOME"] = str(settings.home)
    env["NADG_DATABASE_URL"] = settings.resolved_database_url()
    env["NADG_AUTH_TOKEN"] = settings.token() or ""
    return env


def write_plan(path: Path, subtasks: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"subtasks": subtasks}))
    return path


async def test_run_json_prints_one_document_and_exits_zero(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: Settings,
    tmp_path: Path,
) -> None:
    await register_cluster(grid_registry, cluster_factory(2))
    plan = write_plan(
        tmp_path / "plan.json",
        [
            {"id": "x", "kind": "python", "task": "print(2 ** 10)"},
            {
                "id": "y",
                "kind": "python",
                "task": "print(int(context['x']) + 1)",
                "depends_on": ["x"],
            },
        ],
    )

    result = nadg("run", "--plan", str(plan), "--json", settings=grid_settings)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "completed"
    assert [row["id"] for row in document["subtasks"]] == ["x", "y"]
    assert document["subtasks"][1]["output"].strip() == "1025"
    assert set(document["subtasks"][0]) >= {
        "id", "kind", "status", "worker", "attempts", "output", "error", "duration_ms", "cached",
    }  # fmt: skip
    assert document["subtasks"][0]["worker"].startswith("local-")
    assert "1025" in document["answer"]

    listed = nadg("runs", "list", "--json", settings=grid_settings)
    assert [run["id"] for run in json.loads(listed.stdout)] == [document["id"]]
    shown = nadg("runs", "show", document["id"], "--json", settings=grid_settings)
    assert json.loads(shown.stdout)["subtasks"][1]["output"].strip() == "1025"


async def test_run_refuses_bad_usage_and_unrunnable_plans_before_sending(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: Settings,
    tmp_path: Path,
) -> None:
    no_command = nadg("run", settings=grid_settings)
    assert no_command.returncode == 2
    assert "COMMAND" in no_command.stderr

    await register_cluster(grid_registry, cluster_factory(1))
    prompt_plan = write_plan(
        tmp_path / "prompt.json", [{"id": "ask", "kind": "prompt", "task": "Say hi"}]
    )
    refused = nadg("run", "--plan", str(prompt_plan), settings=grid_settings)

    assert refused.returncode == 2
    assert "llm" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert await grid_registry.list_runs() == []


async def test_master_killed_mid_run_then_resume_runs_nothing_twice(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: Settings,
    tmp_path: Path,
) -> None:
    cluster = cluster_factory(2, max_concurrency=2)
    await register_cluster(grid_registry, cluster)
    subtasks: list[dict[str, object]] = [
        {"id": f"fast{i}", "kind": "python", "task": f"print({i})"} for i in range(2)
    ]
    subtasks += [
        {"id": f"slow{i}", "kind": "python", "task": f"import time; time.sleep(2); print({i})"}
        for i in range(4)
    ]
    subtasks.append(
        {
            "id": "sum",
            "kind": "python",
            "task": "print(sum(int(v) for v in context.values()))",
            "depends_on": [row["id"] for row in subtasks],
        }
    )
    plan = write_plan(tmp_path / "plan.json", subtasks)
    before = executions(cluster)
    master = subprocess.Popen(
        [sys.executable, "-m", "nadg", "run", "--plan", str(plan), "--json"],
        env=master_env(grid_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = await wait_for_progress(grid_registry, completed=2, running=1)
    finally:
        master.send_signal(signal.SIGKILL)
        master.wait(timeout=10)

    killed = await grid_registry.get_run(run_id)
    assert any(row.status == SubtaskState.RUNNING for row in killed.subtasks)
    resumed = nadg("resume", run_id, "--json", settings=grid_settings)

    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert document["status"] == "completed"
    assert document["subtasks"][-1]["output"].strip() == str(0 + 1 + 0 + 1 + 2 + 3)
    assert executions(cluster) - before == len(subtasks)  # each subtask ran exactly once


async def wait_for_progress(registry: Registry, *, completed: int, running: int) -> str:
    """Poll the registry until the only run has that many subtasks completed and running."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = await registry.list_runs()
        if runs:
            run = await registry.get_run(runs[0].id)
            states = [row.status for row in run.subtasks]
            if (
                states.count(SubtaskState.COMPLETED) >= completed
                and states.count(SubtaskState.RUNNING) >= running
            ):
                return run.id
        await asyncio.sleep(0.05)
    raise AssertionError("the master made no progress")


MAP_MODULE = """\
import math


def score(item):
    if item == "bad":
        raise ValueError("not a number")
    return math.isqrt(item * 7919) + item % 13


if __name__ == "__main__":
    print("this must not run on the workers")
"""


async def test_map_over_a_thousand_items_in_eight_chunks_matches_one_process(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: Settings,
    tmp_path: Path,
) -> None:
    await register_cluster(grid_registry, cluster_factory(2))
    module = tmp_path / "scoring.py"
    module.write_text(MAP_MODULE)
    items = list(range(1000))
    (tmp_path / "items.json").write_text(json.dumps(items))
    namespace: dict[str, object] = {}
    exec(MAP_MODULE, namespace)
    expected = [namespace["score"](item) for item in items]  # type: ignore[operator]

    result = nadg(
        "map", f"{module}:score", "--items", f"@{tmp_path / 'items.json'}", "--chunks", "8",
        "--json", settings=grid_settings,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"results": expected, "errors": []}
    run = await grid_registry.get_run((await grid_registry.list_runs())[0].id)
    assert len(run.subtasks) == 8


async def test_map_reports_an_item_that_raised_with_its_index(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: Settings,
    tmp_path: Path,
) -> None:
    await register_cluster(grid_registry, cluster_factory(1))
    module = tmp_path / "scoring.py"
    module.write_text(MAP_MODULE)

    result = nadg(
        "map", f"{module}:score", "--items", '[1, 2, "bad", 4]', "--chunks", "2", "--json",
        settings=grid_settings,
    )  # fmt: skip

    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["results"][0] == 89 and document["results"][2] is None
    assert document["errors"] == [{"index": 2, "error": "ValueError: not a number"}]
    assert "item 2 failed: ValueError: not a number" in result.stderr


def test_demo_runs_a_local_grid_end_to_end(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NADG_")}
    env["NADG_HOME"] = str(tmp_path / "home")

    result = subprocess.run(
        [sys.executable, "-m", "nadg", "demo"], env=env, capture_output=True, text=True, timeout=90
    )

    assert result.returncode == 0, result.stderr
    assert "There are 114,155 primes below 1,500,000." in result.stdout
    assert "Speed-up:" in result.stdout and "over one worker" in result.stdout
    assert "nadg ui" in result.stdout
    assert (tmp_path / "home" / "nadg.db").exists()


async def test_ctrl_c_cancels_cleanly_and_resume_finishes_the_run(
    cluster_factory: Callable[..., LocalCluster],
    grid_registry: Registry,
    grid_settings: Settings,
    tmp_path: Path,
) -> None:
    await register_cluster(grid_registry, cluster_factory(1, max_concurrency=2))
    plan = write_plan(
        tmp_path / "plan.json",
        [
            {"id": f"slow{i}", "kind": "python", "task": f"import time; time.sleep(3); print({i})"}
            for i in range(3)
        ],
    )
    master = subprocess.Popen(
        [sys.executable, "-m", "nadg", "run", "--plan", str(plan)],
        env=master_env(grid_settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = await wait_for_progress(grid_registry, completed=0, running=2)
    master.send_signal(signal.SIGINT)
    _, stderr = master.communicate(timeout=20)

    assert master.returncode == 130, stderr
    assert "nadg resume" in stderr
    run = await grid_registry.get_run(run_id)
    states = sorted(row.status.value for row in run.subtasks)
    assert run.status == "cancelled"
    assert states == ["cancelled", "cancelled", "pending"]  # nothing is left running

    resumed = nadg("resume", run_id, "--json", settings=grid_settings)
    assert resumed.returncode == 0, resumed.stderr
    assert [row["status"] for row in json.loads(resumed.stdout)["subtasks"]] == ["completed"] * 3
