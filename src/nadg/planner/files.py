"""Plan files: a Plan written by hand as JSON or YAML, `{"subtasks": [{"id", "kind", ...}]}`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from nadg.errors import PlanError
from nadg.planner.parse import plan_from_data
from nadg.planner.plan import Plan, validate_plan

MAX_PLAN_FILE_BYTES = 4 * 1024 * 1024


def _decode(path: Path, text: str) -> Any:
    """JSON for .json, YAML for .yaml/.yml; other names: JSON, else YAML (YAML reads JSON too)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise PlanError(f"{path}: not valid YAML{where}: {exc}".splitlines()[0]) from exc


def load_plan_file(path: str | Path) -> Plan:
    """Read and check a plan file: its shape, ids, dependencies and python syntax.

    Workers are not checked here: pass the plan to `validate_plan` with their capabilities.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PLAN_FILE_BYTES:
            raise PlanError(f"{path}: larger than {MAX_PLAN_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PlanError(f"{path}: no such plan file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot be read: {exc}") from exc
    data = _decode(path, text)
    try:
        plan = plan_from_data(data)
        return validate_plan(plan)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc.message}") from exc
