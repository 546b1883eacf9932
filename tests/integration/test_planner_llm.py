"""The LLM planner through the real SDKs and the stand-in: what is sent, parsed and repaired."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.llm import PROVIDERS, LLMStandIn, Reply
from nadg.config import Settings
from nadg.errors import ConfigError, LLMNotConfigured, LLMUnavailable, PlanError
from nadg.llm import UsageTracker
from nadg.planner import PLAN_SCHEMA, LLMPlanner, Planner, RulesPlanner, build_planner
from nadg.registry.models import Worker

pytestmark = pytest.mark.parametrize("provider", PROVIDERS)


def workers(n: int, *caps: str) -> list[Worker]:
    return [
        Worker(id=i, vm_url=f"http://w{i}:7860", capabilities=list(caps or ("python", "llm")))
        for i in range(1, n + 1)
    ]


def subtask(sid: str, kind: str = "python", task: str = "print(1)", deps: Any = ()) -> dict:
    return {"id": sid, "kind": kind, "title": sid, "task": task, "depends_on": list(deps)}


VALID = json.dumps(
    {
        "subtasks": [
            subtask("s1", task="print(sum(range(10)))"),
            subtask("s2", "prompt", "Explain how the sum was computed", ["s1"]),
        ]
    }
)
CYCLE = json.dumps({"subtasks": [subtask("a", deps=["b"]), subtask("b", deps=["a"])]})
MISSING = json.dumps({"subtasks": [subtask("a", deps=["ghost"])]})


def planner_for(standin: LLMStandIn, provider: str, tmp_path: Path, **kw: Any) -> Planner:
    return build_planner(standin.settings(provider, tmp_path / "home", **kw), provider)


async def test_a_valid_plan_and_what_was_sent(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=VALID, input_tokens=300, output_tokens=80))
    planner = planner_for(llm_standin, provider, tmp_path)
    plan = await planner.plan("Sum 0..9 and explain it", workers(3))
    assert planner.name == provider
    assert [(s.id, s.kind.value, s.depends_on) for s in plan.subtasks] == [
        ("s1", "python", []),
        ("s2", "prompt", ["s1"]),
    ]
    assert planner.last_usage.total == 380
    [sent] = llm_standin.requests
    settings = llm_standin.settings(provider, tmp_path)
    assert sent.model == (settings.gemini_model if provider == "gemini" else settings.openai_model)
    assert sent.schema == PLAN_SCHEMA
    assert "Sum 0..9 and explain it" in sent.prompt
    assert "Active workers: 3." in sent.prompt
    assert "llm (3), python (3)" in sent.prompt
    assert "at most 3 subtasks" in sent.prompt  # the default: one per active worker
    assert "JSON" in sent.system


@pytest.mark.parametrize(
    ("first", "problem"),
    [
        (CYCLE, "dependency cycle: a -> b -> a"),
        (MISSING, "depends on missing id 'ghost'"),
        ("I think you should first compute the sum, then explain it.", "not JSON"),
        (VALID[:60], "JSON is truncated"),
        (json.dumps({"subtasks": [subtask(f"s{i}") for i in range(5)]}), "more than the maximum 3"),
    ],
)
async def test_an_invalid_reply_gets_one_repair_round(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path, first: str, problem: str
) -> None:
    llm_standin.script(Reply(text=first), Reply(text=VALID))
    plan = await planner_for(llm_standin, provider, tmp_path).plan("Do it", workers(3))
    assert len(plan.subtasks) == 2
    repair = llm_standin.requests[1].prompt
    assert "Your previous reply was rejected" in repair
    assert problem in repair
    assert first[:40] in repair  # the model sees what it said


async def test_json_fenced_in_markdown_is_accepted(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=f"Here you go:\n```json\n{VALID}\n```"))
    plan = await planner_for(llm_standin, provider, tmp_path).plan("Do it", workers(2))
    assert [s.id for s in plan.subtasks] == ["s1", "s2"]
    assert len(llm_standin.requests) == 1


async def test_a_second_invalid_reply_is_a_plan_error_quoting_it(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=CYCLE), Reply(text="Sorry, I cannot produce JSON today."))
    with pytest.raises(PlanError) as info:
        await planner_for(llm_standin, provider, tmp_path).plan("Do it", workers(2))
    message = info.value.message
    assert f"the {provider} planner's reply was invalid twice" in message
    assert "not JSON" in message
    assert 'reply began: "Sorry, I cannot produce JSON today."' in message
    assert len(llm_standin.requests) == 2


async def test_kinds_no_worker_can_run_are_refused(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=VALID), Reply(text=VALID))
    with pytest.raises(PlanError, match=r"no active worker can run prompt subtasks.*'llm'"):
        await planner_for(llm_standin, provider, tmp_path).plan("Do it", workers(2, "python"))
    assert "Subtask kinds you may use: python." in llm_standin.requests[0].prompt


async def test_a_preview_without_workers_asks_for_any_kind(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=VALID))
    plan = await planner_for(llm_standin, provider, tmp_path).plan("Do it", [], max_subtasks=5)
    assert len(plan.subtasks) == 2
    sent = llm_standin.requests[0].prompt
    assert "No worker is registered yet" in sent
    assert "python, prompt" in sent
    assert "at most 5 subtasks" in sent


async def test_outages_are_llm_errors_not_plan_errors(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(*[Reply(status=500)] * 3)
    planner = planner_for(llm_standin, provider, tmp_path, llm_max_retries=2)
    with pytest.raises(LLMUnavailable, match="HTTP 500"):
        await planner.plan("Do it", workers(1))
    assert len(llm_standin.requests) == 3


async def test_a_reply_slower_than_the_timeout(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=VALID, delay=3), Reply(text=VALID, delay=3))
    planner = planner_for(llm_standin, provider, tmp_path, llm_timeout=0.3, llm_max_retries=1)
    with pytest.raises(LLMUnavailable, match=r"no answer within 0\.3 s"):
        await planner.plan("Do it", workers(1))


async def test_a_shared_tracker_counts_the_repair_round(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=MISSING), Reply(text=VALID))
    tracker = UsageTracker(llm_standin.settings(provider, tmp_path))
    settings = llm_standin.settings(provider, tmp_path / "home")
    planner = build_planner(settings, "auto", tracker=tracker)
    assert isinstance(planner, LLMPlanner)
    await planner.plan("Do it", workers(2))
    assert tracker.totals.calls == 2
    assert planner.last_usage.total == tracker.totals.total_tokens == 2 * (11 + 7)


def test_build_planner_choices(provider: str, tmp_path: Path) -> None:
    bare = Settings(home=tmp_path)
    assert isinstance(build_planner(bare), RulesPlanner)
    assert isinstance(build_planner(bare, "rules"), RulesPlanner)
    with pytest.raises(LLMNotConfigured):
        build_planner(bare, provider)
    with pytest.raises(ConfigError, match="unknown planner"):
        build_planner(bare, "magic")
    keyed = {"gemini": {"gemini_api_key": "k"}, "openai": {"openai_api_key": "k"}}
    planner = build_planner(Settings(home=tmp_path, **keyed[provider]))
    assert planner.name == provider
    assert isinstance(planner, Planner)
