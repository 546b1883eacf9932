"""How an LLM's text becomes a Plan: fences stripped, the JSON found, the shape checked.

Pure functions. Every failure is a PlanError that says what was wrong and quotes the start of
the reply, so the repair round (and, failing that, the user) can act on it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from nadg.errors import PlanError
from nadg.planner.plan import Plan, PlanSubtask

QUOTE_CHARS = 160
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_FIELDS = set(PlanSubtask.model_fields)


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """The start of `text` on one line, quoted, for an error message."""
    line = " ".join(text.split())
    return json.dumps(line if len(line) <= limit else line[:limit] + "...")


def strip_fences(text: str) -> str:
    """The inside of the first markdown code fence, or the text itself when there is none."""
    match = _FENCE.search(text)
    return match.group(1).strip() if match else text.strip()


def is_truncated(text: str, start: int = 0) -> bool:
    """True when the JSON from `start` ends inside a string or an open bracket (cut short)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[start:]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]":
            if not stack or stack.pop() != char:
                return False  # mismatched: broken, not cut short
            if not stack:
                return False
    return True


def extract_json(text: str) -> Any:
    """The first JSON object (or array) in `text`; PlanError when there is none or it is cut."""
    body = strip_fences(text)
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if not starts:
        raise PlanError(f"the reply is not JSON (no '{{' found); reply began: {quote(text)}")
    start = min(starts)
    try:
        value, _ = json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError as exc:
        what = "truncated" if is_truncated(body, start) else "invalid"
        raise PlanError(
            f"the reply's JSON is {what}: {exc.msg} at character {exc.pos}; "
            f"reply began: {quote(text)}"
        ) from exc
    return value


def _normalise(value: Any) -> Any:
    """Accept a bare list of subtasks, and drop keys a model adds that the plan does not have."""
    if isinstance(value, list):
        value = {"subtasks": value}
    if isinstance(value, dict) and isinstance(value.get("subtasks"), list):
        value = {
            "subtasks": [
                {k: v for k, v in item.items() if k in _FIELDS} if isinstance(item, dict) else item
                for item in value["subtasks"]
            ]
        }
    return value


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """Pydantic's errors as `subtasks.0.kind: Input should be ...`, at most `limit` of them."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "plan"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def plan_from_data(value: Any) -> Plan:
    """A Plan from decoded JSON/YAML; PlanError naming the fields that do not fit."""
    try:
        return Plan.model_validate(value)
    except ValidationError as exc:
        raise PlanError(
            f"does not match the plan schema: {describe_validation_error(exc)}"
        ) from exc


def parse_plan_text(text: str) -> Plan:
    """An LLM reply as a Plan (shape only; `validate_plan` checks the graph and the workers)."""
    if not text.strip():
        raise PlanError("the reply is empty")
    value = _normalise(extract_json(text))
    try:
        return plan_from_data(value)
    except PlanError as exc:
        raise PlanError(f"the reply {exc.message}; reply began: {quote(text)}") from exc
