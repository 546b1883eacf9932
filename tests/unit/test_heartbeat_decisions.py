"""The heartbeat's pure decisions: status transitions, flapping thresholds, alerts, URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nadg.errors import InvalidURL
from nadg.fleet import format_age
from nadg.heartbeat import (
    failure_rate,
    failure_rate_alert,
    failures_after,
    next_status,
    offline_alerts,
)
from nadg.registry.models import Worker, WorkerState
from nadg.registry.urls import normalize_worker_url

ACTIVE, OFFLINE, DRAINING = WorkerState.ACTIVE, WorkerState.OFFLINE, WorkerState.DRAINING
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "failures", "ok", "threshold", "expected"),
    [
        (ACTIVE, 0, True, 1, ACTIVE),
        (ACTIVE, 0, False, 1, OFFLINE),  # the seed's behaviour: one failure is enough
        (ACTIVE, 0, False, 3, ACTIVE),
        (ACTIVE, 1, False, 3, ACTIVE),
        (ACTIVE, 2, False, 3, OFFLINE),
        (OFFLINE, 5, True, 3, ACTIVE),  # one success brings it back
        (OFFLINE, 5, False, 3, OFFLINE),
        (DRAINING, 9, False, 1, DRAINING),  # an operator's choice is kept
        (DRAINING, 0, True, 1, DRAINING),
    ],
)
def test_next_status(
    current: WorkerState, failures: int, ok: bool, threshold: int, expected: WorkerState
) -> None:
    assert next_status(current, failures, ok, threshold) is expected


def _replay(probes: str, threshold: int) -> list[WorkerState]:
    status, failures, seen = ACTIVE, 0, []
    for probe in probes:
        ok = probe == "+"
        status = next_status(status, failures, ok, threshold)
        failures = failures_after(failures, ok)
        seen.append(status)
    return seen


def test_flapping_worker_stays_active_below_the_threshold() -> None:
    assert set(_replay("+-+-+--+-", threshold=3)) == {ACTIVE}


def test_threshold_failures_in_a_row_take_a_worker_offline_and_one_success_back() -> None:
    assert _replay("+---+", threshold=3) == [ACTIVE, ACTIVE, ACTIVE, OFFLINE, ACTIVE]


def _worker(status: WorkerState, last_ping: datetime | None, worker_id: int = 1) -> Worker:
    created = NOW - timedelta(days=2)
    return Worker(
        id=worker_id, vm_url="http://w", status=status, last_ping=last_ping, created_at=created
    )


def test_offline_alert_after_thirty_minutes_only() -> None:
    workers = [
        _worker(OFFLINE, NOW - timedelta(minutes=31), 1),
        _worker(OFFLINE, NOW - timedelta(minutes=29), 2),
        _worker(ACTIVE, NOW - timedelta(hours=5), 3),
        _worker(OFFLINE, None, 4),  # never answered: counted from its registration
    ]
    alerts = offline_alerts(workers, NOW, 30)
    assert [alert.worker_id for alert in alerts] == [1, 4]
    assert alerts[0].kind == "worker_offline"
    assert "31 min" in alerts[0].message


def test_failure_rate_alert_above_ten_percent() -> None:
    assert failure_rate({"completed": 0, "failed": 0}) is None
    assert failure_rate_alert({"completed": 90, "failed": 10}, 0.10) is None
    alert = failure_rate_alert({"completed": 80, "failed": 20, "pending": 100}, 0.10)
    assert alert is not None
    assert alert.kind == "failure_rate"
    assert alert.value == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("HTTPS://Worker.HF.Space", "https://worker.hf.space"),
        ("https://host/prefix/", "https://host/prefix"),
        ("http://[::1]:7860", "http://[::1]:7860"),
    ],
)
def test_worker_urls_are_normalised(url: str, expected: str) -> None:
    assert normalize_worker_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host",
        "host:8000",
        "http://",
        "http://user:pw@host",
        "http://h/?q=1",
        "http://h:99999",
    ],
)
def test_bad_worker_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidURL):
        normalize_worker_url(url)


def test_credentials_never_appear_in_the_error() -> None:
    with pytest.raises(InvalidURL) as caught:
        normalize_worker_url("https://admin:hunter2@host")
    assert "hunter2" not in caught.value.message


def test_format_age() -> None:
    assert format_age(None, NOW) == "never"
    assert format_age(NOW - timedelta(seconds=12), NOW) == "12 s ago"
    assert format_age(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert format_age(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert format_age(NOW - timedelta(days=4), NOW) == "4 d ago"
