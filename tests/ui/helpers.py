"""What the UI tests share: the app under AppTest, pointed at a test registry, and waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fixtures.grid import register_cluster
from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.registry import Registry

APP = Path(__file__).resolve().parents[2] / "src" / "nadg" / "ui" / "app.py"
TIMEOUT = 30.0


def point_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The app reads Settings from the environment, as under `nadg ui`."""
    monkeypatch.setenv("NADG_HOME", str(settings.home))
    monkeypatch.setenv("NADG_DATABASE_URL", settings.resolved_database_url())
    if settings.token():
        monkeypatch.setenv("NADG_AUTH_TOKEN", settings.token() or "")


def open_page(page: str = "fleet") -> AppTest:
    """A fresh session of the app on `page` (fleet, run, history or metrics)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    if page != "fleet":
        at.switch_page(f"{page}.py").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything a user reads on the page, as one string."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "code"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    parts.extend(str(metric.value) + str(metric.label) for metric in at.metric)
    parts.extend(frame.value.to_csv() for frame in at.dataframe)
    return "\n".join(parts)


def wait_for(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 60.0) -> AppTest:
    """Rerun the page (as the live fragment would) until `done`, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.3)
    raise AssertionError(f"not done after {timeout:g} s:\n{texts(at)}")


def register(settings: Settings, cluster: LocalCluster) -> dict[str, int]:
    async def go() -> dict[str, int]:
        async with await Registry.open(settings) as registry:
            return await register_cluster(registry, cluster)

    return asyncio.run(go())


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


__all__ = ["Iterator"]
