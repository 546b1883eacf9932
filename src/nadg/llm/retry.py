"""Every retry decision of the LLM clients: what is retried, how long to wait, when to stop.

Pure functions over data (the randomness and the clock are passed in), plus one small async
loop that applies them. The SDKs' own retries are turned off, so Gemini and OpenAI-compatible
servers behave the same.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from nadg.config import Settings
from nadg.protocol import parse_retry_after as parse_retry_after  # the one parser, HTTP-wide

logger = logging.getLogger(__name__)

T = TypeVar("T")


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429: retried, honouring Retry-After
    UNAVAILABLE = "unavailable"  # 5xx, 408, timeouts, connection errors: retried
    BAD_OUTPUT = "bad_output"  # an answer we cannot use: not retried here
    FATAL = "fatal"  # any other 4xx (bad key, bad request): not retried


RETRIED = frozenset({FailureKind.RATE_LIMITED, FailureKind.UNAVAILABLE})


class CallFailure(Exception):
    """One failed attempt, already translated from the SDK's error (internal, never escapes)."""

    def __init__(
        self, kind: FailureKind, message: str, *, retry_after: float | None = None
    ) -> None:
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base: float = 0.5
    cap: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.llm_max_retries, settings.llm_backoff_base, settings.llm_backoff_max)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay: float = 0.0
    reason: str = ""


def classify_status(status_code: int) -> FailureKind:
    """429 is a rate limit; 408 and 5xx are outages; any other error status is final."""
    if status_code == 429:
        return FailureKind.RATE_LIMITED
    if status_code == 408 or status_code >= 500:
        return FailureKind.UNAVAILABLE
    return FailureKind.FATAL


def backoff_delay(policy: RetryPolicy, retry_number: int, rand: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped.

    `retry_number` counts from 0 (the first retry); `rand` is uniform in [0, 1).
    """
    ceiling = min(policy.cap, policy.base * 2.0**retry_number)
    return ceiling / 2 + ceiling / 2 * rand


def decide(
    policy: RetryPolicy, retry_number: int, failure: CallFailure, rand: float
) -> RetryDecision:
    """Whether to retry after `failure`, and after how long.

    A Retry-After longer than the backoff cap is not waited for: the call gives up at once,
    rather than hold a run for minutes.
    """
    if failure.kind not in RETRIED:
        return RetryDecision(False)
    if retry_number >= policy.max_retries:
        return RetryDecision(False, reason=f"gave up after {retry_number + 1} attempts")
    delay = backoff_delay(policy, retry_number, rand)
    if failure.retry_after is not None:
        if failure.retry_after > policy.cap:
            return RetryDecision(
                False, reason=f"the server asked to wait {failure.retry_after:g} s"
            )
        delay = max(delay, failure.retry_after)
    return RetryDecision(True, delay=delay)


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    rand: Callable[[], float] = random.random,
    label: str = "llm",
) -> T:
    """Run `attempt` until it succeeds or `decide` says stop; re-raise the last CallFailure."""
    retry_number = 0
    while True:
        try:
            return await attempt()
        except CallFailure as failure:
            decision = decide(policy, retry_number, failure, rand())
            if not decision.retry:
                if decision.reason:
                    failure.message = f"{failure.message} ({decision.reason})"
                raise
            logger.info(
                "%s call failed (%s), retry %d in %.2f s",
                label,
                failure.kind.value,
                retry_number + 1,
                decision.delay,
            )
            await asyncio.sleep(decision.delay)
            retry_number += 1
