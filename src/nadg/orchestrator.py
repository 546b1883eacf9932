"""The orchestrator: submit, resume and cancel runs. Plans, persists, dispatches, aggregates.

Everything a run needs is written before anything is sent (the run and all its subtasks in one
transaction), so a master that dies mid-run loses nothing: `resume` picks the run up again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nadg import aggregate
from nadg.client import WorkerClient
from nadg.config import Settings
from nadg.dispatch import Dispatcher
from nadg.errors import LLMError, NoWorkers
from nadg.events import Event, EventKind, EventSink
from nadg.llm import build_client
from nadg.llm.usage import UsageTracker
from nadg.planner import Plan, build_planner, capabilities_of, validate_plan
from nadg.protocol import TokenUsage
from nadg.registry.models import (
    RunDetail,
    RunState,
    SubtaskSpec,
    SubtaskState,
    Worker,
    WorkerState,
)
from nadg.scheduling import RunOptions

if TYPE_CHECKING:
    from nadg.registry import Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spent:
    """Tokens and cost a run has used before dispatch (a plan made earlier, or a resume)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class PlannedCommand:
    """A plan, where it came from, and what making it cost."""

    plan: Plan
    planner: str
    usage: TokenUsage
    cost_usd: float = 0.0

    @property
    def spent(self) -> Spent:
        return Spent(self.usage.input_tokens, self.usage.output_tokens, self.cost_usd)


def default_options(settings: Settings, **overrides: Any) -> RunOptions:
    """Run options from settings, with the caller's choices on top (None keeps the default)."""
    base = RunOptions(
        max_attempts=settings.max_attempts,
        timeout=settings.task_timeout,
        request_slack=settings.request_slack,
        cache_ttl=settings.cache_ttl,
    )
    chosen = {key: value for key, value in overrides.items() if value is not None}
    return RunOptions.from_dict({**base.to_dict(), **chosen})


def subtask_specs(plan: Plan) -> list[SubtaskSpec]:
    return [
        SubtaskSpec(
            key=subtask.id,
            kind=subtask.kind.value,
            task=subtask.task,
            depends_on=list(subtask.depends_on),
            title=subtask.title,
        )
        for subtask in plan.subtasks
    ]


class Orchestrator:
    """Submits and resumes runs over one registry and one worker client."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        client: WorkerClient,
        *,
        on_event: EventSink | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._client = client
        self.on_event = on_event

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    @property
    def registry(self) -> Registry:
        return self._registry

    async def active_workers(self) -> list[Worker]:
        workers: list[Worker] = await self._registry.list_workers(WorkerState.ACTIVE)
        return workers

    async def plan(
        self,
        command: str,
        *,
        planner: str = "auto",
        max_subtasks: int | None = None,
        tracker: UsageTracker | None = None,
    ) -> PlannedCommand:
        """Ask the planner for a plan over the active workers (validated, not yet runnable)."""
        workers = await self.active_workers()
        tracker = tracker or UsageTracker(self._settings)
        chosen = build_planner(self._settings, planner, tracker=tracker)
        plan = await chosen.plan(command, workers, max_subtasks)
        return PlannedCommand(plan, chosen.name, chosen.last_usage, tracker.totals.cost_usd)

    async def submit(
        self,
        command: str,
        *,
        planner: str = "auto",
        plan: Plan | None = None,
        max_subtasks: int | None = None,
        options: RunOptions | None = None,
        spent: Spent | None = None,
    ) -> RunDetail:
        """Plan (unless a plan is given), persist, dispatch and aggregate one run.

        `spent`: what making a given plan cost (`PlannedCommand.spent`), counted in the run.
        """
        options = options or default_options(self._settings)
        workers = await self.active_workers()
        if not workers:
            raise NoWorkers()
        tracker = UsageTracker(self._settings)
        if plan is None:
            planned = await self.plan(
                command, planner=planner, max_subtasks=max_subtasks, tracker=tracker
            )
        else:
            planned = PlannedCommand(plan, "file" if planner == "auto" else planner, TokenUsage())
        # Refuse a plan no live worker can run before anything is written or sent.
        validate_plan(planned.plan, capabilities=capabilities_of(workers), max_subtasks=None)
        run = await self._registry.create_run(
            command, planned.planner, subtask_specs(planned.plan), options.to_dict()
        )
        return await self._execute(run, workers, options, tracker, spent or Spent())

    async def resume(self, run_id: str) -> RunDetail:
        """Finish what a run did not: completed subtasks are never sent again."""
        run: RunDetail = await self._registry.get_run(run_id)
        if run.status == RunState.COMPLETED:
            return run
        workers = await self.active_workers()
        if not workers:
            raise NoWorkers()
        options = RunOptions.from_dict(run.options)
        spent = Spent(run.input_tokens, run.output_tokens, run.cost_usd)
        return await self._execute(run, workers, options, UsageTracker(self._settings), spent)

    async def _execute(
        self,
        run: RunDetail,
        workers: list[Worker],
        options: RunOptions,
        tracker: UsageTracker,
        spent: Spent,
    ) -> RunDetail:
        await self._registry.set_run_status(run.id, RunState.RUNNING)
        self._emit(Event(EventKind.PLANNED, run.id, total=len(run.subtasks)))
        for row in run.subtasks:
            if row.status == SubtaskState.COMPLETED:  # resumed: say what is already done
                self._emit(Event(EventKind.COMPLETED, run.id, row.key, cached=row.cached))
        dispatcher = Dispatcher(
            self._registry, self._client, run, workers, options, on_event=self.on_event
        )
        try:
            await dispatcher.run()
        except asyncio.CancelledError:
            await asyncio.shield(self._cancelled(run.id))
            raise
        # Prompt subtasks spend the workers' own keys: their tokens count, their cost is theirs.
        spent = Spent(
            spent.input_tokens + dispatcher.usage[0],
            spent.output_tokens + dispatcher.usage[1],
            spent.cost_usd,
        )
        return await self._finish(run.id, options, tracker, spent)

    async def _cancelled(self, run_id: str) -> None:
        await self._registry.set_run_status(
            run_id, RunState.CANCELLED, error="cancelled by the user", finished_at=_utcnow()
        )
        self._emit(Event(EventKind.FINISHED, run_id, message=RunState.CANCELLED.value))

    async def _finish(
        self, run_id: str, options: RunOptions, tracker: UsageTracker, spent: Spent
    ) -> RunDetail:
        run: RunDetail = await self._registry.get_run(run_id)
        answer = aggregate.combine(run.subtasks)
        if options.synthesize and aggregate.should_synthesize(run.subtasks):
            answer = await self._synthesize(run, answer, tracker)
        totals = tracker.totals
        failed = [row.key for row in run.subtasks if row.status != SubtaskState.COMPLETED]
        finished = run.model_copy(
            update={
                "status": aggregate.run_state(run.subtasks),
                "result": answer,
                "error": f"not completed: {', '.join(failed)}" if failed else None,
                "finished_at": _utcnow(),
                "input_tokens": spent.input_tokens + totals.input_tokens,
                "output_tokens": spent.output_tokens + totals.output_tokens,
                "cost_usd": spent.cost_usd + totals.cost_usd,
            }
        )
        await self._registry.set_run_status(
            run_id,
            finished.status,
            result=finished.result,
            error=finished.error,
            finished_at=finished.finished_at,
            input_tokens=finished.input_tokens,
            output_tokens=finished.output_tokens,
            cost_usd=finished.cost_usd,
        )
        for warning in tracker.warnings:
            self._emit(Event(EventKind.FINISHED, run_id, message=warning))
        self._emit(Event(EventKind.FINISHED, run_id, message=finished.status.value))
        return finished  # what was just written: no second read

    async def _synthesize(self, run: RunDetail, fallback: str, tracker: UsageTracker) -> str:
        """One LLM call writes the final answer; without an LLM the combined outputs stand."""
        llm = build_client(self._settings, tracker=tracker)
        if llm is None:
            return fallback
        try:
            completion = await llm.complete(
                aggregate.synthesis_prompt(run.command, run.subtasks),
                system=aggregate.SYNTHESIS_SYSTEM,
            )
        except LLMError as exc:
            logger.warning("synthesis failed, keeping the combined outputs: %s", exc.message)
            return fallback
        finally:
            await llm.aclose()
        return completion.text


def _utcnow() -> datetime:
    return datetime.now(UTC)
