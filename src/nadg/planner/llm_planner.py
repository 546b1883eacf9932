"""The LLM planner: ask a model for a Plan as JSON, validate it, repair it once, or fail clearly."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from nadg.errors import PlanError
from nadg.llm.base import BaseLLMClient, Completion
from nadg.llm.usage import UsageTracker
from nadg.planner.parse import parse_plan_text, quote
from nadg.planner.plan import CAPABILITY_FOR, Plan, capabilities_of, validate_plan
from nadg.protocol import TaskKind, TokenUsage

logger = logging.getLogger(__name__)

PREVIEW_MAX_SUBTASKS = 8  # the cap asked for when no worker is active (a preview)
REPAIR_REPLY_CHARS = 4000

# Plain JSON Schema with no $ref, so Gemini's response_json_schema and OpenAI's strict
# structured outputs both accept it (strict mode wants every property required).
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "subtasks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "short unique id, e.g. s1"},
                    "kind": {"type": "string", "enum": ["python", "prompt"]},
                    "title": {"type": "string", "description": "a few words"},
                    "task": {"type": "string", "description": "Python code or an instruction"},
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["id", "kind", "title", "task", "depends_on"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["subtasks"],
    "additionalProperties": False,
}

SYSTEM = """You are the planner of NADG, a grid that runs subtasks in parallel on worker nodes.
Split the user's command into subtasks that can run independently, so the work spreads over
the workers. Rules:
- kind "python": a complete Python 3 program that prints its result to stdout. It runs in a
  sandbox without network access. The outputs of the subtasks it depends on are in a global
  dict named `context` (id -> output text).
- kind "prompt": an instruction for a language model; it receives the outputs of the subtasks
  it depends on along with the instruction.
- depends_on lists the ids of subtasks whose output this one needs. Use it only when needed:
  independent subtasks run in parallel. No cycles.
- ids are short and unique: s1, s2, ...
Answer with one JSON object {"subtasks": [...]} and nothing else."""


def allowed_kinds(capabilities: set[str] | None) -> list[TaskKind]:
    """Kinds some active worker can run; both when nothing is known (a preview)."""
    if capabilities is None:
        return list(TaskKind)
    return [kind for kind in TaskKind if CAPABILITY_FOR[kind] in capabilities]


def describe_workers(workers: Sequence[object]) -> str:
    """`3 active workers; capabilities: python (3), llm (1)` for the prompt."""
    if not workers:
        return "No worker is registered yet (this is a preview)."
    counts: Counter[str] = Counter()
    for worker in workers:
        counts.update(set(getattr(worker, "capabilities", []) or []))
    caps = ", ".join(f"{name} ({n})" for name, n in sorted(counts.items()))
    return f"Active workers: {len(workers)}. Capabilities: {caps or 'none'}."


def build_prompt(command: str, workers: Sequence[object], max_subtasks: int) -> str:
    kinds = allowed_kinds(capabilities_of(workers) if workers else None)
    return (
        f"Command:\n{command.strip()}\n\n"
        f"{describe_workers(workers)}\n"
        f"Subtask kinds you may use: {', '.join(k.value for k in kinds) or 'none'}.\n"
        f"Use at most {max_subtasks} subtasks (fewer if the command is small)."
    )


def build_repair_prompt(prompt: str, reply: str, error: str) -> str:
    excerpt = reply if len(reply) <= REPAIR_REPLY_CHARS else reply[:REPAIR_REPLY_CHARS] + "..."
    return (
        f"{prompt}\n\nYour previous reply was rejected: {error}\n"
        f"Previous reply:\n{excerpt}\n\n"
        "Answer again with the corrected JSON object only."
    )


def check_reply(text: str, capabilities: set[str] | None, max_subtasks: int) -> Plan:
    """Parse and validate one reply (pure); PlanError says what is wrong."""
    plan = parse_plan_text(text)
    try:
        return validate_plan(plan, capabilities=capabilities, max_subtasks=max_subtasks)
    except PlanError as exc:
        raise PlanError(f"{exc.message}; reply began: {quote(text)}") from exc


def default_max_subtasks(workers: Sequence[object], max_subtasks: int | None) -> int:
    """The user's value, else one subtask per active worker (as in the seed)."""
    if max_subtasks is not None:
        return max_subtasks
    return len(workers) if workers else PREVIEW_MAX_SUBTASKS


class LLMPlanner:
    """A planner backed by one provider; a client is opened for each `plan()` and closed after."""

    def __init__(
        self,
        name: str,
        client_factory: Callable[[], BaseLLMClient],
        tracker: UsageTracker,
    ) -> None:
        self.name = name
        self.tracker = tracker
        self.last_usage = TokenUsage()  # tokens of the last plan(), repair round included
        self._client_factory = client_factory

    async def plan(
        self, command: str, workers: Sequence[object], max_subtasks: int | None = None
    ) -> Plan:
        if not command.strip():
            raise PlanError("the command is empty")
        limit = default_max_subtasks(workers, max_subtasks)
        capabilities = capabilities_of(workers) if workers else None
        prompt = build_prompt(command, workers, limit)
        self.last_usage = TokenUsage()
        async with self._client_factory() as client:
            reply = await self._ask(client, prompt)
            try:
                return check_reply(reply.text, capabilities, limit)
            except PlanError as first:
                logger.info("%s planner: invalid reply, one repair round: %s", self.name, first)
                repair = build_repair_prompt(prompt, reply.text, first.message)
                reply = await self._ask(client, repair)
            try:
                return check_reply(reply.text, capabilities, limit)
            except PlanError as second:
                raise PlanError(
                    f"the {self.name} planner's reply was invalid twice (after one repair "
                    f"round): {second.message}"
                ) from second

    async def _ask(self, client: BaseLLMClient, prompt: str) -> Completion:
        completion = await client.complete(prompt, system=SYSTEM, schema=PLAN_SCHEMA)
        self.last_usage = TokenUsage(
            input_tokens=self.last_usage.input_tokens + completion.usage.input_tokens,
            output_tokens=self.last_usage.output_tokens + completion.usage.output_tokens,
        )
        return completion
