"""The GitHub workflow that runs the heartbeat: parsed and checked (actionlint cannot install
from PyPI here: its sdist downloads a binary)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "heartbeat.yml"


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_it_runs_every_fifteen_minutes_and_by_hand() -> None:
    triggers = _workflow()[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["schedule"] == [{"cron": "*/15 * * * *"}]
    assert "workflow_dispatch" in triggers


def test_it_has_the_least_permissions() -> None:
    assert _workflow()["permissions"] == {"contents": "read"}


def test_it_sweeps_with_the_secret_and_writes_the_summary() -> None:
    (job,) = _workflow()["jobs"].values()
    assert job["timeout-minutes"] <= 15
    steps = job["steps"]
    sweep = next(step for step in steps if "nadg heartbeat" in step.get("run", ""))
    assert "--json" in sweep["run"]
    assert sweep["env"]["NADG_DATABASE_URL"] == "${{ secrets.NADG_DATABASE_URL }}"
    install = [step for step in steps if "pip install" in step.get("run", "")]
    assert install
    summary = steps[-1]
    assert summary["if"] == "always()"
    assert "GITHUB_STEP_SUMMARY" in summary["run"]
    for step in steps:
        assert set(step) <= {"name", "uses", "with", "run", "env", "if"}
