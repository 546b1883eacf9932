"""The prompt executor: answer a `kind: prompt` task with the worker's own LLM client."""

from __future__ import annotations

from typing import Any

from nadg.protocol import TaskRequest, TaskResult


async def run_prompt(llm: Any, request: TaskRequest, worker_id: str) -> TaskResult:
    """(Stub: the planner issue fills this in.)"""
    raise NotImplementedError
