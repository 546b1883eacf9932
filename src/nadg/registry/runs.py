"""The registry's run queries: `runs` and their subtasks in `task_history`."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Float, Integer, Row, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from nadg.errors import RunNotFound
from nadg.registry.base import RegistryBase
from nadg.registry.models import (
    Run,
    RunDetail,
    RunState,
    Subtask,
    SubtaskSpec,
    SubtaskState,
    SubtaskUpdate,
)
from nadg.registry.schema import runs, task_history, utcnow

R = runs.c
T = task_history.c

# SubtaskUpdate field -> (column, type); a None in an update leaves the column as it is.
_OPTIONAL: dict[str, tuple[str, Any]] = {
    "worker_id": ("worker_id", Integer),
    "attempts": ("attempts", Integer),
    "output": ("output", Text),
    "error": ("error", Text),
    "cached": ("cached", Boolean),
    "cache_key": ("cache_key", Text),
    "started_at": ("started_at", task_history.c.started_at.type),
    "completed_at": ("completed_at", task_history.c.completed_at.type),
    "duration_ms": ("duration_ms", Float),
    "input_tokens": ("input_tokens", Integer),
    "output_tokens": ("output_tokens", Integer),
}


def new_run_id() -> str:
    """12 random hex characters: short enough to type, unguessable enough to share."""
    return secrets.token_hex(6)


def to_run(row: Row[Any]) -> Run:
    values = dict(row._mapping)
    values["options"] = values.get("options") or {}
    return Run.model_validate(values)


def to_subtask(row: Row[Any]) -> Subtask:
    values = dict(row._mapping)
    values["key"] = values.pop("subtask_key") or f"seed-{values['id']}"
    values["depends_on"] = values.get("depends_on") or []
    values["position"] = values.get("position") if values.get("position") is not None else 0
    values["kind"] = values.get("kind") or "python"
    values["task_description"] = values.get("task_description") or ""
    values["cached"] = bool(values.get("cached"))
    return Subtask.model_validate(values)


async def _load_run(connection: AsyncConnection, run_id: str) -> RunDetail:
    row = (await connection.execute(select(runs).where(R.id == run_id))).first()
    if row is None:
        raise RunNotFound(f"no run {run_id!r} in the registry")
    subtasks = await connection.execute(
        select(task_history).where(T.run_id == run_id).order_by(T.position, T.id)
    )
    return RunDetail(**to_run(row).model_dump(), subtasks=[to_subtask(r) for r in subtasks])


@functools.cache  # built once: the dispatcher's journal runs it for every batch
def subtask_update_statement() -> Any:
    values: dict[str, Any] = {"status": bindparam("u_status")}
    for field, (column, type_) in _OPTIONAL.items():
        values[column] = func.coalesce(bindparam(f"u_{field}", type_=type_), T[column])
    return update(task_history).where(T.id == bindparam("u_id")).values(**values)


def subtask_update_params(item: SubtaskUpdate) -> dict[str, Any]:
    params: dict[str, Any] = {"u_id": item.subtask_id, "u_status": SubtaskState(item.status).value}
    for field in _OPTIONAL:
        params[f"u_{field}"] = getattr(item, field)
    return params


class RunQueries(RegistryBase):
    """Create runs with their subtasks, record progress, list and load them."""

    async def create_run(
        self,
        command: str,
        planner: str,
        subtasks: list[SubtaskSpec],
        options: dict[str, Any] | None = None,
    ) -> RunDetail:
        """The run and all its subtasks, pending, in one transaction."""
        run_id, now = new_run_id(), utcnow()
        rows = [
            {
                "run_id": run_id,
                "position": position,
                "subtask_key": spec.key,
                "kind": spec.kind,
                "task_description": spec.task,
                "depends_on": list(spec.depends_on),
                "title": spec.title,
                "status": SubtaskState.PENDING.value,
                "cache_key": spec.cache_key,
                "created_at": now,
            }
            for position, spec in enumerate(subtasks)
        ]
        async with self._write() as connection:
            await connection.execute(
                insert(runs).values(
                    id=run_id,
                    command=command,
                    planner=planner,
                    status=RunState.PENDING.value,
                    options=options or {},
                    created_at=now,
                )
            )
            if rows:
                await connection.execute(insert(task_history), rows)
            return await _load_run(connection, run_id)

    async def update_subtasks(self, updates: list[SubtaskUpdate]) -> None:
        """Apply a batch of subtask changes in one transaction; None fields stay as they are."""
        if not updates:
            return
        params = [subtask_update_params(item) for item in updates]
        async with self._write() as connection:
            await connection.execute(subtask_update_statement(), params)

    async def set_run_status(
        self,
        run_id: str,
        status: RunState,
        *,
        result: str | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> None:
        optional = {
            "result": result,
            "error": error,
            "finished_at": finished_at,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost_usd,
        }
        values = {key: value for key, value in optional.items() if value is not None}
        statement = update(runs).where(R.id == run_id).values(status=status.value, **values)
        async with self._write() as connection:
            result_proxy = await connection.execute(statement)
            if result_proxy.rowcount == 0:
                raise RunNotFound(f"no run {run_id!r} in the registry")

    async def list_runs(
        self,
        *,
        limit: int = 50,
        status: RunState | None = None,
        text: str | None = None,
        since: datetime | None = None,
    ) -> list[Run]:
        """The newest runs first, filtered by status, command text and creation time."""
        query = select(runs).order_by(R.created_at.desc(), R.id).limit(limit)
        if status is not None:
            query = query.where(R.status == status.value)
        if text:
            query = query.where(func.lower(R.command).contains(text.lower(), autoescape=True))
        if since is not None:
            query = query.where(R.created_at >= since)
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return [to_run(row) for row in rows]

    async def get_run(self, run_id: str) -> RunDetail:
        async with self._read() as connection:
            return await _load_run(connection, run_id)

    async def unfinished_subtasks(self, run_id: str) -> list[Subtask]:
        """The subtasks of a run that did not complete (pending, running, failed, cancelled)."""
        query = (
            select(task_history)
            .where(T.run_id == run_id, T.status != SubtaskState.COMPLETED.value)
            .order_by(T.position, T.id)
        )
        async with self._read() as connection:
            if (await connection.execute(select(R.id).where(R.id == run_id))).first() is None:
                raise RunNotFound(f"no run {run_id!r} in the registry")
            rows = (await connection.execute(query)).all()
        return [to_subtask(row) for row in rows]

    async def cached_output(self, cache_key: str, max_age_s: float, now: datetime) -> str | None:
        """The output of the newest completed subtask with this key, if younger than max_age_s."""
        query = (
            select(T.output)
            .where(
                T.cache_key == cache_key,
                T.status == SubtaskState.COMPLETED.value,
                T.completed_at >= now - timedelta(seconds=max_age_s),
            )
            .order_by(T.completed_at.desc())
            .limit(1)
        )
        async with self._read() as connection:
            output: str | None = (await connection.execute(query)).scalar()
        return output

    async def cached_outputs(
        self, cache_keys: list[str], *, max_age_s: float, now: datetime
    ) -> dict[str, str]:
        """Per key, the output of its newest completed subtask younger than max_age_s."""
        if not cache_keys:
            return {}
        query = (
            select(T.cache_key, T.output)
            .where(
                T.cache_key.in_(cache_keys),
                T.status == SubtaskState.COMPLETED.value,
                T.completed_at >= now - timedelta(seconds=max_age_s),
                T.output.is_not(None),
            )
            .order_by(T.completed_at, T.id)
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return {str(key): str(output) for key, output in rows}  # the newest wins

    async def task_stats(self, since: datetime) -> dict[str, int]:
        """Subtasks created since `since`, counted by status (every status, zeros included)."""
        query = select(T.status, func.count()).where(T.created_at >= since).group_by(T.status)
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        stats = {state.value: 0 for state in SubtaskState}
        stats.update({str(status): int(count) for status, count in rows})
        return stats
