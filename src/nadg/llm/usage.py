"""Token accounting: totals, an estimated cost, and the per-run and per-day budgets.

The per-day use is kept in a small JSON ledger under the NADG home
(`llm-usage.json`: UTC date -> tokens), so separate commands on one machine share one daily
budget. A call is refused before it is sent when the tokens already used plus the estimated
size of its prompt (about 4 characters a token) would pass a budget; a call's answer can still
overshoot a budget by at most its `max_tokens`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from nadg.config import Settings
from nadg.errors import BudgetExceeded
from nadg.protocol import TokenUsage

logger = logging.getLogger(__name__)

LEDGER_NAME = "llm-usage.json"
LEDGER_DAYS = 31
DAILY_WARNING_RATIO = 0.8
CHARS_PER_TOKEN = 4


def estimate_tokens(*texts: str | None) -> int:
    """A rough count of the tokens in `texts`: one per 4 characters, rounded up."""
    chars = sum(len(text) for text in texts if text)
    return -(-chars // CHARS_PER_TOKEN)


def price_for(model: str, prices: Mapping[str, tuple[float, float]]) -> tuple[float, float] | None:
    """USD per million (input, output) tokens: the exact model, else the longest matching prefix.

    A prefix match prices "gemini-2.5-flash-001" like "gemini-2.5-flash"; an unknown model has
    no price (None), and its cost is reported as unknown rather than zero.
    """
    if model in prices:
        return prices[model]
    name = model.removeprefix("models/")
    matches = [key for key in prices if name.startswith(key)]
    return prices[max(matches, key=len)] if matches else None


def estimate_cost(
    model: str, usage: TokenUsage, prices: Mapping[str, tuple[float, float]]
) -> float | None:
    """The estimated cost of `usage` in USD, or None when the model has no price."""
    price = price_for(model, prices)
    if price is None:
        return None
    return (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1_000_000


@dataclass
class UsageTotals:
    """What a run (or any group of calls) used."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0  # calls to a model missing from the price table

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, float | int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "calls": self.calls,
            "cost_usd": round(self.cost_usd, 6),
            "unpriced_calls": self.unpriced_calls,
        }


class DailyLedger:
    """Tokens used per UTC day, in a JSON file; writes are atomic (write, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            logger.warning("the LLM usage ledger %s is unreadable; starting it again", self.path)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): int(v) for k, v in data.items() if isinstance(v, int)}

    def used(self, day: date) -> int:
        with self._lock:
            return self._load().get(day.isoformat(), 0)

    def add(self, day: date, tokens: int) -> int:
        """Add `tokens` to `day`; return that day's new total. Days past a month are dropped."""
        with self._lock:
            data = self._load()
            key = day.isoformat()
            data[key] = data.get(key, 0) + tokens
            oldest = (day - timedelta(days=LEDGER_DAYS)).isoformat()
            data = {k: v for k, v in sorted(data.items()) if k >= oldest}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
            return data[key]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class UsageTracker:
    """Counts every call's tokens and cost, and enforces the budgets of one run.

    Share one tracker between the planner and the final synthesis of a run (pass it to
    `build_client` / `build_planner`) and read `totals` at the end.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ledger: DailyLedger | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.per_run = settings.token_budget_per_run
        self.per_day = settings.token_budget_per_day
        self.prices = dict(settings.llm_prices)
        self.ledger = ledger or DailyLedger(settings.home / LEDGER_NAME)
        self.totals = UsageTotals()
        self.warnings: list[str] = []
        self._now = now

    def check(self, prompt: str, system: str | None = None) -> None:
        """Refuse (BudgetExceeded) a call whose prompt would take a budget past its limit."""
        estimate = estimate_tokens(prompt, system)
        if self.per_run is not None and self.totals.total_tokens + estimate > self.per_run:
            raise BudgetExceeded(
                f"token budget per run exceeded: {self.totals.total_tokens} used + about "
                f"{estimate} for this call > {self.per_run} (NADG_TOKEN_BUDGET_PER_RUN)"
            )
        if self.per_day is not None:
            used = self.ledger.used(self._now().date())
            if used + estimate > self.per_day:
                raise BudgetExceeded(
                    f"token budget per day exceeded: {used} used today (UTC) + about "
                    f"{estimate} for this call > {self.per_day} (NADG_TOKEN_BUDGET_PER_DAY)"
                )

    def record(self, model: str, usage: TokenUsage) -> None:
        """Count one call; warn once when the day's use passes 80% of the daily budget."""
        self.totals.input_tokens += usage.input_tokens
        self.totals.output_tokens += usage.output_tokens
        self.totals.calls += 1
        cost = estimate_cost(model, usage, self.prices)
        if cost is None:
            self.totals.unpriced_calls += 1
        else:
            self.totals.cost_usd += cost
        # The ledger is kept even without a daily budget, so setting one later sees today's use.
        day_total = self.ledger.add(self._now().date(), usage.total)
        self._warn_if_near_daily(day_total - usage.total, day_total)

    def _warn_if_near_daily(self, before: int, after: int) -> None:
        if self.per_day is None or self.per_day <= 0:
            return
        threshold = self.per_day * DAILY_WARNING_RATIO
        if before < threshold <= after:
            message = (
                f"LLM quota approaching its limit: {after} of {self.per_day} tokens used "
                f"today (UTC), {after / self.per_day:.0%}"
            )
            self.warnings.append(message)
            logger.warning(message)
