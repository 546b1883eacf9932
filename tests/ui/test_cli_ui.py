"""`nadg ui` as a user runs it: it serves the app, and stopping it stops the server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ui.browser import served_app


def test_stopping_nadg_ui_stops_the_server_it_started(tmp_path: Path) -> None:
    env = {"NADG_DATABASE_URL": f"sqlite:///{tmp_path / 'ui.db'}", "NADG_HOME": str(tmp_path)}
    with served_app(env, tmp_path / "ui.log") as base:
        assert httpx.get(f"{base}/_stcore/health", timeout=5).status_code == 200
    # served_app sent SIGTERM to `nadg ui` itself: nothing may keep serving after it.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/_stcore/health", timeout=2)
