"""Executors: turn a TaskRequest into a TaskResult, by kind (python in the sandbox, prompt
through the worker's LLM client)."""

from __future__ import annotations

import asyncio
import logging
import signal

from nadg.errors import TaskRejected
from nadg.llm.base import LLMClient
from nadg.protocol import ResultStatus, TaskKind, TaskRequest, TaskResult
from nadg.worker.prompt import run_prompt
from nadg.worker.sandbox import Outcome, Sandbox

logger = logging.getLogger(__name__)

NO_LLM = "this worker has no LLM configured: prompt tasks need one with capability llm"


def status_of(outcome: Outcome) -> ResultStatus:
    if outcome.timed_out:
        return ResultStatus.TIMEOUT
    return ResultStatus.COMPLETED if outcome.return_code == 0 else ResultStatus.FAILED


def explain(outcome: Outcome, timeout: float) -> str:
    """stderr, plus one line saying why the task ended when it did not say so itself."""
    code = outcome.return_code
    note = ""
    if outcome.timed_out:
        note = f"[nadg: killed after the {timeout:g} s timeout]"
    elif code is not None and code < 0:
        note = f"[nadg: killed by {_signal_name(-code)} (a resource limit?)]"
    elif code is not None and code > 128 and not outcome.stderr:
        note = f"[nadg: killed by {_signal_name(code - 128)} (a resource limit?)]"
    if not note:
        return outcome.stderr
    return f"{outcome.stderr}\n{note}\n" if outcome.stderr else f"{note}\n"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def python_result(request: TaskRequest, outcome: Outcome, worker_id: str) -> TaskResult:
    return TaskResult(
        task_id=request.task_id,
        kind=TaskKind.PYTHON,
        status=status_of(outcome),
        stdout=outcome.stdout,
        stderr=explain(outcome, request.timeout),
        return_code=outcome.return_code,
        duration_ms=round(outcome.duration_ms, 3),
        worker_id=worker_id,
        truncated=outcome.truncated,
    )


class Executor:
    """Runs one task of either kind; the caller holds the slot."""

    def __init__(self, sandbox: Sandbox, llm: LLMClient | None, worker_id: str) -> None:
        self.sandbox = sandbox
        self.llm = llm
        self.worker_id = worker_id

    async def run(self, request: TaskRequest) -> TaskResult:
        if request.kind == TaskKind.PROMPT:
            return await self._prompt(request)
        outcome = await self.sandbox.run(request.task, request.context, request.timeout)
        return python_result(request, outcome, self.worker_id)

    async def _prompt(self, request: TaskRequest) -> TaskResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        if self.llm is None:
            raise TaskRejected(NO_LLM, status_code=501)
        try:
            # run_prompt owns the task's timeout and the LLM's own errors.
            return await run_prompt(self.llm, request, self.worker_id)
        except Exception as exc:  # the LLM client is outside code: record, never crash
            logger.exception("prompt task %s failed", request.task_id)
            error = f"{type(exc).__name__}: {exc}"
        return TaskResult(
            task_id=request.task_id,
            kind=TaskKind.PROMPT,
            status=ResultStatus.FAILED,
            stderr=error,
            duration_ms=round((loop.time() - started) * 1000.0, 3),
            worker_id=self.worker_id,
        )
