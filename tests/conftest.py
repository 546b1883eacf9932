"""Fixtures every test shares: a clean environment, settings, and real local workers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nadg.cluster import LocalCluster
from nadg.config import Settings

# Read before the autouse fixture below clears the environment for each test.
POSTGRES_URL = os.environ.get("NADG_TEST_POSTGRES_URL")
CHROMIUM = os.environ.get("NADG_TEST_CHROMIUM")
# CI installs bubblewrap: there, a sandbox weaker than bwrap is a failure, not a skip.
REQUIRE_BWRAP = os.environ.get("NADG_TEST_REQUIRE_BWRAP") == "1"

pytest_plugins = ["fixtures.registry", "fixtures.llm", "fixtures.grid"]

_FOREIGN_NAMES = ("GEMINI_API_KEY", "OPENAI_API_KEY", "WORKER_ID", "PORT", "SPACE_HOST")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's NADG_* settings or keys, nor writes to ~/.nadg."""
    for name in list(os.environ):
        if name.startswith("NADG_") or name in _FOREIGN_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("NADG_HOME", str(tmp_path / "nadg-home"))
    monkeypatch.chdir(tmp_path)  # so no developer .env file is read


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "nadg-home")


@pytest.fixture
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def cluster_factory(tmp_path: Path, token: str) -> Iterator[Callable[..., LocalCluster]]:
    """Start real `nadg worker` processes on free loopback ports; all stopped at teardown."""
    started: list[LocalCluster] = []

    def start(size: int = 1, **kwargs: object) -> LocalCluster:
        kwargs.setdefault("token", token)
        kwargs.setdefault("log_dir", tmp_path / "worker-logs")
        (tmp_path / "worker-logs").mkdir(exist_ok=True)
        cluster = LocalCluster(size, **kwargs)  # type: ignore[arg-type]
        started.append(cluster)
        return cluster.start()

    yield start
    for cluster in started:
        cluster.stop()
