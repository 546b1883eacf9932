"""Planners: from one command to a validated Plan of subtasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from nadg.config import Settings
from nadg.errors import ConfigError, LLMNotConfigured
from nadg.llm import Provider, make_client, resolve_provider
from nadg.llm.usage import UsageTracker
from nadg.planner.files import load_plan_file
from nadg.planner.llm_planner import PLAN_SCHEMA, LLMPlanner
from nadg.planner.parse import parse_plan_text
from nadg.planner.plan import (
    CAPABILITY_FOR,
    Plan,
    PlanSubtask,
    capabilities_of,
    find_cycle,
    plan_problems,
    topological_order,
    unrunnable_kinds,
    validate_plan,
)
from nadg.planner.rules import RulesPlanner, rules_plan
from nadg.protocol import TokenUsage

PLANNER_NAMES = ("auto", "gemini", "openai", "rules")


@runtime_checkable
class Planner(Protocol):
    """Turns a command into a Plan for the given active workers."""

    name: str
    last_usage: TokenUsage  # tokens used by the last plan() (zero for rules)

    async def plan(
        self, command: str, workers: Sequence[object], max_subtasks: int | None = None
    ) -> Plan: ...


def check_configured(settings: Settings, provider: Provider) -> None:
    """Raise LLMNotConfigured when `provider` lacks its key or base URL."""
    if provider == "gemini" and settings.gemini_api_key is None:
        raise LLMNotConfigured("the gemini planner needs GEMINI_API_KEY")
    if provider == "openai" and settings.openai_api_key is None and not settings.openai_base_url:
        raise LLMNotConfigured("the openai planner needs NADG_OPENAI_BASE_URL or OPENAI_API_KEY")


def build_planner(
    settings: Settings, name: str = "auto", *, tracker: UsageTracker | None = None
) -> Planner:
    """The planner called `name`; `auto`: Gemini, then OpenAI-compatible, then rules.

    LLM planners count their tokens on `tracker` (a new one when None; see `planner.tracker`),
    so a run can share one tracker between planning and its final synthesis.
    """
    if name not in PLANNER_NAMES:
        raise ConfigError(f"unknown planner {name!r}: use one of {', '.join(PLANNER_NAMES)}")
    provider: Provider | None
    if name == "auto":
        provider = resolve_provider(settings)
    elif name == "rules":
        provider = None
    else:
        provider = "gemini" if name == "gemini" else "openai"
    if provider is None:
        return RulesPlanner()
    check_configured(settings, provider)
    used = tracker if tracker is not None else UsageTracker(settings)
    chosen: Provider = provider
    return LLMPlanner(chosen, lambda: make_client(settings, chosen, tracker=used), used)


__all__ = [
    "CAPABILITY_FOR",
    "PLANNER_NAMES",
    "PLAN_SCHEMA",
    "LLMPlanner",
    "Plan",
    "PlanSubtask",
    "Planner",
    "RulesPlanner",
    "build_planner",
    "capabilities_of",
    "check_configured",
    "find_cycle",
    "load_plan_file",
    "parse_plan_text",
    "plan_problems",
    "rules_plan",
    "topological_order",
    "unrunnable_kinds",
    "validate_plan",
]
