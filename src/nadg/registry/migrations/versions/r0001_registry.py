"""The registry: worker_nodes, runs, task_history and heartbeats; adopts the seed's tables.

A database made by the original project has `worker_nodes` (id, vm_url, status, total_tasks,
last_ping) and `task_history` (id, worker_id, task_description, status, created_at,
completed_at). They are altered in place: the missing columns are added, odd values are
normalised, and the old task rows are gathered under one run, `seed`, so they stay readable.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEED_RUN = "seed"
TIMESTAMPS = {
    "worker_nodes": ("last_ping", "created_at"),
    "task_history": ("created_at", "started_at", "completed_at"),
}


def _ts(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _int(name: str, default: str = "0") -> sa.Column[Any]:
    return sa.Column(name, sa.Integer, nullable=False, server_default=default)


def _worker_columns(fk: bool = True) -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("vm_url", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("capabilities", sa.Text, nullable=False, server_default='["python"]'),
        sa.Column("isolation", sa.Text),
        _int("max_concurrency", "1"),
        _int("total_tasks"),
        _int("failed_tasks"),
        _int("consecutive_failures"),
        _ts("last_ping"),
        sa.Column("last_latency_ms", sa.Float),
        _ts("created_at"),
    ]


def _task_columns(fk: bool = True) -> list[sa.Column[Any]]:
    run_fk = [sa.ForeignKey("runs.id", ondelete="CASCADE")] if fk else []
    worker_fk = [sa.ForeignKey("worker_nodes.id", ondelete="SET NULL")] if fk else []
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), *run_fk),
        sa.Column("position", sa.Integer),
        sa.Column("subtask_key", sa.Text),
        sa.Column("kind", sa.String(16)),
        sa.Column("task_description", sa.Text),
        sa.Column("depends_on", sa.Text, server_default="[]"),
        sa.Column("title", sa.Text),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("worker_id", sa.Integer, *worker_fk),
        _int("attempts"),
        sa.Column("output", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("cache_key", sa.String(128)),
        sa.Column("cached", sa.Boolean, nullable=False, server_default="0"),
        _int("input_tokens"),
        _int("output_tokens"),
        _ts("created_at"),
        _ts("started_at"),
        _ts("completed_at"),
        sa.Column("duration_ms", sa.Float),
    ]


def _create_runs() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("planner", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"),
        _ts("created_at", nullable=False),
        _ts("finished_at"),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        _int("input_tokens"),
        _int("output_tokens"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
    )
    op.create_index("ix_runs_created_at", "runs", ["created_at"])
    op.create_index("ix_runs_status", "runs", ["status"])


def _create_heartbeats() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column(
            "worker_id",
            sa.Integer,
            sa.ForeignKey("worker_nodes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _ts("at", nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("latency_ms", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_heartbeats_worker_at", "heartbeats", ["worker_id", "at"])
    op.create_index("ix_heartbeats_at", "heartbeats", ["at"])


def _adopt(table: str, columns: Callable[[bool], list[sa.Column[Any]]]) -> None:
    """Add the columns an existing (seed) table lacks, without touching its rows."""
    inspector = sa.inspect(op.get_bind())
    present = {column["name"] for column in inspector.get_columns(table)}
    for column in columns(False):
        if column.name not in present and not column.primary_key:
            op.add_column(table, column)


def _fix_timestamps(table: str) -> None:
    """Seed timestamps become UTC: timestamptz on PostgreSQL, one text format on SQLite."""
    bind = op.get_bind()
    for column in sa.inspect(bind).get_columns(table):
        name = column["name"]
        if name not in TIMESTAMPS[table]:
            continue
        if bind.dialect.name == "postgresql":
            if isinstance(column["type"], sa.DateTime) and not column["type"].timezone:
                op.execute(
                    f"ALTER TABLE {table} ALTER COLUMN {name} TYPE timestamptz "
                    f"USING {name} AT TIME ZONE 'UTC'"
                )
        else:
            op.execute(
                f"UPDATE {table} SET {name} = strftime('%Y-%m-%d %H:%M:%f', {name}) "
                f"WHERE {name} IS NOT NULL AND strftime('%Y-%m-%d %H:%M:%f', {name}) IS NOT NULL"
            )


def _adopt_workers() -> None:
    _adopt("worker_nodes", _worker_columns)
    _fix_timestamps("worker_nodes")
    op.execute("UPDATE worker_nodes SET total_tasks = 0 WHERE total_tasks IS NULL")
    op.execute(
        "UPDATE worker_nodes SET status = CASE "
        "WHEN status IN ('active', 'offline', 'draining') THEN status "
        "WHEN lower(status) IN ('active', 'online', 'healthy', 'up') THEN 'active' "
        "ELSE 'offline' END"
    )
    op.execute("UPDATE worker_nodes SET created_at = last_ping WHERE created_at IS NULL")
    inspector = sa.inspect(op.get_bind())
    unique: list[list[str | None]] = [
        list(u["column_names"]) for u in inspector.get_unique_constraints("worker_nodes")
    ]
    unique += [i["column_names"] for i in inspector.get_indexes("worker_nodes") if i["unique"]]
    if ["vm_url"] not in unique:
        op.create_index("uq_worker_nodes_vm_url", "worker_nodes", ["vm_url"], unique=True)


def _adopt_tasks() -> None:
    _adopt("task_history", _task_columns)
    _fix_timestamps("task_history")
    op.execute(
        "UPDATE task_history SET status = CASE "
        "WHEN status IN ('pending', 'running', 'completed', 'failed', 'cancelled') THEN status "
        "WHEN lower(status) IN ('success', 'succeeded', 'done', 'ok', 'completed') "
        "THEN 'completed' "
        "WHEN status IS NULL AND completed_at IS NOT NULL THEN 'completed' "
        "ELSE 'failed' END"
    )
    bind = op.get_bind()
    orphans = bind.execute(sa.text("SELECT count(*) FROM task_history WHERE run_id IS NULL"))
    if orphans.scalar_one():
        bind.execute(
            sa.text(
                "INSERT INTO runs (id, command, planner, status, options, created_at) "
                "VALUES (:id, :command, 'seed', 'completed', '{}', "
                "COALESCE((SELECT min(created_at) FROM task_history), CURRENT_TIMESTAMP))"
            ),
            {"id": SEED_RUN, "command": "Tasks recorded by the original NADG (adopted)"},
        )
        op.execute(
            f"UPDATE task_history SET run_id = '{SEED_RUN}', position = id, "
            "subtask_key = 'seed-' || CAST(id AS TEXT), kind = 'python', depends_on = '[]' "
            "WHERE run_id IS NULL"
        )
    op.create_index("ix_task_history_run_id", "task_history", ["run_id", "position"])
    op.create_index("ix_task_history_cache_key", "task_history", ["cache_key"])
    op.create_index("ix_task_history_created_at", "task_history", ["created_at"])


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("worker_nodes"):
        _adopt_workers()
    else:
        op.create_table("worker_nodes", *_worker_columns(), sa.UniqueConstraint("vm_url"))
    _create_runs()
    if inspector.has_table("task_history"):
        _adopt_tasks()
    else:
        op.create_table("task_history", *_task_columns())
        op.create_index("ix_task_history_run_id", "task_history", ["run_id", "position"])
        op.create_index("ix_task_history_cache_key", "task_history", ["cache_key"])
        op.create_index("ix_task_history_created_at", "task_history", ["created_at"])
    _create_heartbeats()


def downgrade() -> None:
    raise NotImplementedError("the first revision of the registry cannot be downgraded")
