"""The registry's tables (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Timestamps go in and come out as timezone-aware UTC (SQLite stores them naive); list and dict
columns are JSON text, so both backends store the same thing. The seed's column names stay.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both backends; naive values are taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """A list or dict stored as JSON text (portable, and readable with plain SQL)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData()

worker_nodes = Table(
    "worker_nodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("vm_url", Text, nullable=False, unique=True),
    Column("name", Text),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("capabilities", JSONText, nullable=False, server_default='["python"]'),
    Column("isolation", Text),
    Column("max_concurrency", Integer, nullable=False, server_default="1"),
    Column("total_tasks", Integer, nullable=False, server_default="0"),
    Column("failed_tasks", Integer, nullable=False, server_default="0"),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("last_ping", UTCDateTime),
    Column("last_latency_ms", Float),
    Column("created_at", UTCDateTime),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("command", Text, nullable=False),
    Column("planner", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("options", JSONText, nullable=False, server_default="{}"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("result", Text),
    Column("error", Text),
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("cost_usd", Float, nullable=False, server_default="0"),
    Index("ix_runs_created_at", "created_at"),
    Index("ix_runs_status", "status"),
)

task_history = Table(
    "task_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE")),
    Column("position", Integer),
    Column("subtask_key", Text),
    Column("kind", String(16)),
    Column("task_description", Text),
    Column("depends_on", JSONText, server_default="[]"),
    Column("title", Text),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("worker_id", Integer, ForeignKey("worker_nodes.id", ondelete="SET NULL")),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("output", Text),
    Column("error", Text),
    Column("cache_key", String(128)),
    Column("cached", Boolean, nullable=False, server_default="0"),
    Column("input_tokens", Integer, nullable=False, server_default="0"),
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("duration_ms", Float),
    Index("ix_task_history_run_id", "run_id", "position"),
    Index("ix_task_history_cache_key", "cache_key"),
    Index("ix_task_history_created_at", "created_at"),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("worker_id", Integer, ForeignKey("worker_nodes.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float),
    Column("error", Text),
    Index("ix_heartbeats_worker_at", "worker_id", "at"),
    Index("ix_heartbeats_at", "at"),
)
