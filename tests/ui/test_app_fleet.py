"""The Fleet page, the sidebar and the error messages under AppTest, with real workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from nadg.cluster import LocalCluster
from nadg.config import Settings
from nadg.registry import Registry
from nadg.registry.models import Worker, WorkerState
from ui.helpers import button, open_page, point_env, texts


def workers_in(settings: Settings) -> list[Worker]:
    async def go() -> list[Worker]:
        async with await Registry.open(settings) as registry:
            return await registry.list_workers()

    return asyncio.run(go())


@pytest.fixture
def app_settings(grid_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    point_env(monkeypatch, grid_settings)
    return grid_settings


def test_no_workers_is_said_on_fleet_and_run(app_settings: Settings) -> None:
    fleet = open_page("fleet")
    assert any("No workers registered yet" in info.value for info in fleet.info)
    run = open_page("run")
    assert any("No active worker" in warning.value for warning in run.warning)


def test_add_a_worker_drain_undrain_ping_and_remove_it(
    app_settings: Settings, cluster_factory: Callable[..., LocalCluster]
) -> None:
    (local,) = cluster_factory(1).workers
    at = open_page("fleet")
    at.text_input(key="add_url").input(local.url + "/")
    at.button[[b.label for b in at.button].index("Add worker")].click().run()
    assert not at.exception, at.exception
    (worker,) = workers_in(app_settings)
    assert worker.vm_url == local.url and worker.name == local.worker_id  # filled from /status
    assert worker.isolation and "python" in worker.capabilities
    assert "answered /status" in texts(at) and local.url in texts(at)
    assert ",active," in texts(at)

    button(at, "Drain").click().run()
    assert workers_in(app_settings)[0].status == WorkerState.DRAINING
    assert ",draining," in texts(at)
    button(at, "Undrain").click().run()
    assert workers_in(app_settings)[0].status == WorkerState.ACTIVE

    button(at, "Ping now").click().run()
    assert "Pinged 1 workers" in texts(at) and "1 ok" in texts(at)
    assert workers_in(app_settings)[0].last_ping is not None

    button(at, "Remove").click().run()
    assert workers_in(app_settings) == []
    assert any("No workers registered yet" in info.value for info in at.info)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com", "use http:// or https://"),
        ("http://user:pw@example.com", "credentials are not allowed"),
        ("not a url", "invalid worker URL"),
    ],
)
def test_an_invalid_worker_url_is_refused(app_settings: Settings, url: str, message: str) -> None:
    at = open_page("fleet")
    at.text_input(key="add_url").input(url)
    button(at, "Add worker").click().run()
    assert any(message in error.value for error in at.error), [e.value for e in at.error]
    assert workers_in(app_settings) == []


@pytest.mark.parametrize("page", ["fleet", "run", "history", "metrics"])
def test_an_unreachable_database_is_explained_without_its_password(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NADG_DATABASE_URL", "postgresql://nadg:s3cr3t-pw@127.0.0.1:9/nadg")
    at = open_page(page)
    errors = " ".join(error.value for error in at.error)
    assert "The registry database is unreachable" in errors
    assert "s3cr3t-pw" not in texts(at)


def test_the_sidebar_says_what_is_configured_and_never_a_secret(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gm-key-123456")
    monkeypatch.setenv("NADG_AUTH_TOKEN", "tok-abcdef-999")
    at = open_page("fleet")
    sidebar = " ".join(str(element.value) for element in at.sidebar.markdown)
    sidebar += " ".join(str(element.value) for element in at.sidebar.caption)
    assert "gemini" in sidebar and Settings().gemini_model in sidebar
    assert "sqlite" in sidebar and "Worker token:** yes" in sidebar
    for secret in ("gm-key-123456", "tok-abcdef-999"):
        assert secret not in texts(at)


def test_the_sidebar_shows_a_postgres_host_but_not_its_password() -> None:
    from nadg.ui.views import database_facts, llm_facts

    kind, where = database_facts("postgresql://nadg:pw-xyz@db.example.com:6543/postgres")
    assert (kind, where) == ("postgresql", "db.example.com:6543/postgres")
    settings = Settings(
        openai_base_url="http://user:pass@127.0.0.1:8000/v1", openai_api_key=SecretStr("sk-1")
    )
    provider, line = llm_facts(settings)
    assert provider == "openai" and "127.0.0.1:8000" in line and "pass" not in line
