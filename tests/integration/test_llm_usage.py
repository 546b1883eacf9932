"""Token accounting, cost estimates and budgets, through a real client and a real ledger file."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fixtures.llm import LLMStandIn, Reply
from nadg.config import Settings
from nadg.errors import BudgetExceeded
from nadg.llm import build_client
from nadg.llm.usage import LEDGER_NAME, DailyLedger, UsageTracker, estimate_cost, price_for
from nadg.protocol import TokenUsage

PRICES = {"gemini-2.5-flash": (0.30, 2.50), "gpt-4o-mini": (0.15, 0.60)}


def test_prices_match_exact_names_then_the_longest_prefix() -> None:
    assert price_for("gpt-4o-mini", PRICES) == (0.15, 0.60)
    assert price_for("models/gemini-2.5-flash-001", PRICES) == (0.30, 2.50)
    assert price_for("llama3.1:8b", PRICES) is None
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=100_000)
    assert estimate_cost("gemini-2.5-flash", usage, PRICES) == pytest.approx(0.55)
    assert estimate_cost("llama3.1:8b", usage, PRICES) is None


def test_the_ledger_keeps_a_month_per_utc_day(tmp_path: Path) -> None:
    ledger = DailyLedger(tmp_path / "ledger.json")
    assert ledger.used(date(2026, 1, 1)) == 0
    assert ledger.add(date(2026, 1, 1), 10) == 10
    assert ledger.add(date(2026, 1, 1), 5) == 15
    ledger.add(date(2026, 3, 1), 1)
    assert json.loads((tmp_path / "ledger.json").read_text()) == {"2026-03-01": 1}
    (tmp_path / "ledger.json").write_text("not json")
    assert ledger.used(date(2026, 3, 1)) == 0  # unreadable: start again, do not crash


async def test_a_run_budget_refuses_the_call_that_would_pass_it(
    llm_standin: LLMStandIn, tmp_path: Path
) -> None:
    settings = llm_standin.settings("openai", tmp_path / "home", token_budget_per_run=150)
    llm_standin.script(Reply(text="one", input_tokens=100, output_tokens=30), Reply(text="two"))
    async with build_client(settings) as client:  # type: ignore[union-attr]
        await client.complete("x" * 40)
        with pytest.raises(BudgetExceeded, match=r"per run exceeded: 130 used \+ about 25"):
            await client.complete("y" * 100)  # ~25 tokens: 155 > 150
    assert len(llm_standin.requests) == 1  # refused before anything was sent
    totals = client.tracker.totals
    assert (totals.input_tokens, totals.output_tokens, totals.calls) == (100, 30, 1)
    assert totals.cost_usd == pytest.approx((100 * 0.15 + 30 * 0.60) / 1e6)


async def test_a_daily_budget_is_shared_through_the_ledger_and_warns_at_80_percent(
    llm_standin: LLMStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = llm_standin.settings("gemini", tmp_path / "home", token_budget_per_day=1000)
    llm_standin.script(
        Reply(text="a", input_tokens=500, output_tokens=100),
        Reply(text="b", input_tokens=150, output_tokens=100),
    )
    async with build_client(settings) as first:  # type: ignore[union-attr]
        await first.complete("hi")
    assert first.tracker.warnings == []
    with caplog.at_level(logging.WARNING, logger="nadg.llm.usage"):
        async with build_client(settings) as second:  # type: ignore[union-attr]
            await second.complete("hi")  # 850 of 1000 today
    assert second.tracker.warnings == [
        "LLM quota approaching its limit: 850 of 1000 tokens used today (UTC), 85%"
    ]
    assert "approaching its limit" in caplog.text
    ledger = json.loads((tmp_path / "home" / LEDGER_NAME).read_text())
    assert ledger == {datetime.now(UTC).date().isoformat(): 850}
    async with build_client(settings) as third:  # type: ignore[union-attr]
        with pytest.raises(BudgetExceeded, match="per day exceeded: 850 used today"):
            await third.complete("z" * 800)


def test_a_tracker_can_be_shared_and_reports_unpriced_models(tmp_path: Path) -> None:
    tracker = UsageTracker(Settings(home=tmp_path))
    tracker.record("gemini-2.5-flash", TokenUsage(input_tokens=10, output_tokens=5))
    tracker.record("my-local-model", TokenUsage(input_tokens=1, output_tokens=1))
    assert tracker.totals.as_dict() == {
        "input_tokens": 11,
        "output_tokens": 6,
        "total_tokens": 17,
        "calls": 2,
        "cost_usd": round((10 * 0.30 + 5 * 2.50) / 1e6, 6),
        "unpriced_calls": 1,
    }
