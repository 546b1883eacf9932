"""Backoff and retry decisions, with the randomness passed in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nadg.llm.retry import (
    CallFailure,
    FailureKind,
    RetryPolicy,
    backoff_delay,
    call_with_retries,
    classify_status,
    decide,
    parse_retry_after,
)

POLICY = RetryPolicy(max_retries=3, base=1.0, cap=8.0)
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def failure(kind: FailureKind = FailureKind.UNAVAILABLE, after: float | None = None) -> CallFailure:
    return CallFailure(kind, "boom", retry_after=after)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, FailureKind.RATE_LIMITED),
        (500, FailureKind.UNAVAILABLE),
        (503, FailureKind.UNAVAILABLE),
        (408, FailureKind.UNAVAILABLE),
        (400, FailureKind.FATAL),
        (401, FailureKind.FATAL),
        (404, FailureKind.FATAL),
    ],
)
def test_classify_status(status: int, kind: FailureKind) -> None:
    assert classify_status(status) is kind


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    assert [backoff_delay(POLICY, n, 0.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [backoff_delay(POLICY, n, 0.999999) for n in range(5)] == pytest.approx(
        [1.0, 2.0, 4.0, 8.0, 8.0]
    )


def test_decide_retries_transient_failures_a_bounded_number_of_times() -> None:
    assert decide(POLICY, 0, failure(), 0.5).retry
    assert decide(POLICY, 2, failure(FailureKind.RATE_LIMITED), 0.5).retry
    last = decide(POLICY, 3, failure(), 0.5)
    assert not last.retry and "gave up after 4 attempts" in last.reason


@pytest.mark.parametrize("kind", [FailureKind.FATAL, FailureKind.BAD_OUTPUT])
def test_decide_does_not_retry_final_failures(kind: FailureKind) -> None:
    assert not decide(POLICY, 0, failure(kind), 0.5).retry


def test_retry_after_is_honoured_within_the_cap() -> None:
    assert decide(POLICY, 0, failure(FailureKind.RATE_LIMITED, 6.0), 0.0).delay == 6.0
    assert decide(POLICY, 3 - 1, failure(FailureKind.RATE_LIMITED, 0.1), 0.0).delay == 2.0
    too_long = decide(POLICY, 0, failure(FailureKind.RATE_LIMITED, 120.0), 0.0)
    assert not too_long.retry and "asked to wait 120 s" in too_long.reason


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        ("-2", 0.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


async def test_call_with_retries_stops_and_explains() -> None:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise failure()
        return "ok"

    fast = RetryPolicy(max_retries=3, base=0.001, cap=0.002)
    assert await call_with_retries(attempt, fast, rand=lambda: 0.0) == "ok"
    assert len(calls) == 3

    async def always() -> str:
        raise failure(FailureKind.RATE_LIMITED)

    with pytest.raises(CallFailure, match=r"boom \(gave up after 4 attempts\)"):
        await call_with_retries(always, fast, rand=lambda: 0.0)
