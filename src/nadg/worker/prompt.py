"""The prompt executor: answer a `kind: prompt` task with the worker's own LLM client."""

from __future__ import annotations

import asyncio
import logging
import time

from nadg.errors import LLMError
from nadg.llm.base import LLMClient
from nadg.protocol import ResultStatus, TaskKind, TaskRequest, TaskResult

logger = logging.getLogger(__name__)

SYSTEM = (
    "You are a worker of NADG, a grid that splits one task into subtasks. Do the subtask you "
    "are given and answer with its result only, without preamble."
)


def build_prompt(request: TaskRequest) -> str:
    """The instruction, then each dependency's output under its id (in a stable order)."""
    if not request.context:
        return request.task
    parts = [request.task, "", "Outputs of the subtasks this one depends on:"]
    for key in sorted(request.context):
        parts += ["", f"### {key}", request.context[key].rstrip()]
    return "\n".join(parts)


def _failure(
    request: TaskRequest, worker_id: str, status: ResultStatus, message: str
) -> TaskResult:
    return TaskResult(
        task_id=request.task_id,
        kind=TaskKind.PROMPT,
        status=status,
        stderr=" ".join(message.split()),
        worker_id=worker_id,
    )


async def run_prompt(llm: LLMClient, request: TaskRequest, worker_id: str) -> TaskResult:
    """Complete the prompt under the task's timeout: its text in `stdout`, tokens in `usage`.

    LLM errors become a failed result with a one-line stderr (the project's messages never
    carry a key); running past the task's timeout (retries included) is status timeout.
    """
    started = time.monotonic()
    try:
        async with asyncio.timeout(request.timeout):
            completion = await llm.complete(
                build_prompt(request), system=SYSTEM, timeout=request.timeout
            )
    except TimeoutError:
        result = _failure(
            request, worker_id, ResultStatus.TIMEOUT, f"no answer within {request.timeout:g} s"
        )
    except LLMError as exc:
        logger.warning("prompt task %s failed: %s", request.task_id, exc.message)
        result = _failure(request, worker_id, ResultStatus.FAILED, exc.message)
    else:
        result = TaskResult(
            task_id=request.task_id,
            kind=TaskKind.PROMPT,
            status=ResultStatus.COMPLETED,
            stdout=completion.text,
            worker_id=worker_id,
            usage=completion.usage,
        )
    result.duration_ms = (time.monotonic() - started) * 1000
    return result
