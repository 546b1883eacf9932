"""One real browser: the Run page served by `nadg ui`, a plan of python subtasks, the answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CHROMIUM
from nadg.cluster import LocalCluster
from nadg.config import Settings
from ui.helpers import register

pytestmark = pytest.mark.browser

COMMAND = "1. print(6 * 7)\n2. print(sum(range(10)))\n3. print('grid ' * 2)"


@pytest.mark.skipif(not CHROMIUM, reason="NADG_TEST_CHROMIUM is not set (.ci/run sets it)")
def test_run_page_in_a_real_browser(
    grid_settings: Settings,
    cluster_factory: Callable[..., LocalCluster],
    tmp_path: Path,
) -> None:
    from ui.browser import chromium, new_page, served_app, wait_idle

    register(grid_settings, cluster_factory(2))
    env = {
        "NADG_HOME": str(grid_settings.home),
        "NADG_DATABASE_URL": grid_settings.resolved_database_url(),
        "NADG_AUTH_TOKEN": grid_settings.token() or "",
    }
    assert CHROMIUM
    with (
        served_app(env, tmp_path / "ui.log") as base,
        chromium(CHROMIUM, tmp_path / "profile") as browser,
    ):
        page = new_page(browser)
        page.goto(f"{base}/run")
        wait_idle(page)
        page.get_by_label("Command").fill(COMMAND)
        page.get_by_label("Command").press("Control+Enter")
        wait_idle(page)
        page.get_by_role("button", name="Plan").click()
        page.get_by_text("Planned by").wait_for()
        wait_idle(page)
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Answer", exact=True).wait_for(timeout=90_000)
        page.get_by_text("42").first.wait_for()
        wait_idle(page)
        page.get_by_text("Answer", exact=True).scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
        body = page.inner_text("body")
    assert "completed" in body and "grid grid" in body
    assert (tmp_path / "run.png").stat().st_size > 10_000
