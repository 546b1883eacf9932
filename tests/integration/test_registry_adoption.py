"""A database made by the original project's schema is adopted in place, every row kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import psycopg
import pytest

from fixtures.registry import POSTGRES_URL
from nadg.config import Settings
from nadg.registry.models import RunState, SubtaskSpec, SubtaskState, TaskOutcome, WorkerState
from nadg.registry.store import Registry

PG_SEED = """
CREATE TABLE worker_nodes (
    id SERIAL PRIMARY KEY, vm_url TEXT UNIQUE NOT NULL, status TEXT DEFAULT 'active',
    total_tasks INTEGER DEFAULT 0, last_ping TIMESTAMP DEFAULT NOW());
CREATE TABLE task_history (
    id SERIAL PRIMARY KEY, worker_id INTEGER REFERENCES worker_nodes(id),
    task_description TEXT, status TEXT, created_at TIMESTAMP DEFAULT NOW(),
    completed_at TIMESTAMP);
"""
SQLITE_SEED = """
CREATE TABLE worker_nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, vm_url TEXT UNIQUE NOT NULL,
    status TEXT DEFAULT 'active', total_tasks INTEGER DEFAULT 0,
    last_ping TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE task_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, worker_id INTEGER REFERENCES worker_nodes(id),
    task_description TEXT, status TEXT, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP);
"""
WORKERS = [
    (1, "https://alpha.hf.space", "active", 12, "2024-05-01 10:00:00"),
    (2, "https://beta.hf.space", "offline", 3, "2024-05-01 09:00:00"),
    (5, "https://gamma.hf.space", "inactive", None, None),
]
TASKS = [
    (1, 1, "print(1)", "completed", "2024-05-01 10:00:00", "2024-05-01 10:00:02"),
    (2, 1, "print(2)", "failed", "2024-05-01 10:01:00", "2024-05-01 10:01:01"),
    (3, 2, "print(3)", "success", "2024-05-01 10:02:00", "2024-05-01 10:02:05"),
    (4, None, "print(4)", None, "2024-05-01 10:03:00", None),
]
INSERT_WORKER = "INSERT INTO worker_nodes (id, vm_url, status, total_tasks, last_ping) VALUES "
INSERT_TASK = (
    "INSERT INTO task_history (id, worker_id, task_description, status, created_at, "
    "completed_at) VALUES "
)


def _seed_sqlite(url: str) -> None:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    with connection:
        connection.executescript(SQLITE_SEED)
        connection.executemany(INSERT_WORKER + "(?, ?, ?, ?, ?)", WORKERS)
        connection.executemany(INSERT_TASK + "(?, ?, ?, ?, ?, ?)", TASKS)
    connection.close()


def _seed_postgres(schema: str) -> None:
    assert POSTGRES_URL
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"SET search_path TO {schema}")
        connection.execute(PG_SEED)
        with connection.cursor() as cursor:
            cursor.executemany(INSERT_WORKER + "(%s, %s, %s, %s, %s)", WORKERS)
            cursor.executemany(INSERT_TASK + "(%s, %s, %s, %s, %s, %s)", TASKS)
        connection.execute("SELECT setval('worker_nodes_id_seq', 5)")
        connection.execute("SELECT setval('task_history_id_seq', 4)")


@pytest.fixture
def seeded(backend: str, database_url: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        _seed_sqlite(database_url)
    else:
        _seed_postgres(request.getfixturevalue("pg_schema")[0])
    return database_url


async def test_the_seed_database_is_adopted_without_losing_a_row(
    seeded: str, registry_settings: Settings
) -> None:
    async with await Registry.open(registry_settings) as registry:
        workers = {w.id: w for w in await registry.list_workers()}
        assert sorted(workers) == [1, 2, 5]
        assert workers[1].vm_url == "https://alpha.hf.space"
        assert workers[1].total_tasks == 12
        assert workers[1].last_ping == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
        assert workers[1].status is WorkerState.ACTIVE
        assert workers[2].status is WorkerState.OFFLINE
        assert workers[5].status is WorkerState.OFFLINE  # 'inactive' normalised
        assert workers[5].total_tasks == 0
        assert workers[1].capabilities == ["python"]

        seed = await registry.get_run("seed")
        assert seed.status is RunState.COMPLETED
        tasks = {s.id: s for s in seed.subtasks}
        assert sorted(tasks) == [1, 2, 3, 4]
        assert tasks[1].task_description == "print(1)"
        assert tasks[1].worker_id == 1
        assert tasks[1].completed_at == datetime(2024, 5, 1, 10, 0, 2, tzinfo=UTC)
        assert tasks[2].status is SubtaskState.FAILED
        assert tasks[3].status is SubtaskState.COMPLETED  # 'success' normalised
        assert tasks[4].worker_id is None


async def test_the_adopted_database_is_usable(seeded: str, registry_settings: Settings) -> None:
    async with await Registry.open(registry_settings) as registry:
        again = await registry.upsert_worker("https://alpha.hf.space/", name="alpha")
        assert (again.id, again.name) == (1, "alpha")
        await registry.record_task_outcomes([TaskOutcome(1, failed=True, latency_ms=9.0)])
        counted = await registry.get_worker(1)
        assert (counted.total_tasks, counted.failed_tasks) == (13, 1)
        new = await registry.upsert_worker("https://delta.hf.space")
        assert new.id > 5
        run = await registry.create_run("new", "rules", [SubtaskSpec("a", "python", "x")])
        assert run.subtasks[0].id > 4
        await registry.remove_worker(1)  # has seed history behind a plain foreign key
        assert (await registry.get_run("seed")).subtasks[0].worker_id is None
    async with await Registry.open(registry_settings) as registry:  # a second open: no-op
        assert len(await registry.list_workers()) == 3
