"""Aggregation: turn a run's subtask results into its answer, and decide the run's status."""

from __future__ import annotations

from collections.abc import Sequence

from nadg.registry.models import RunState, Subtask, SubtaskState

SYNTHESIS_SYSTEM = (
    "You combine the results of the subtasks of one task into the final answer for the user. "
    "Use only the results given; say plainly when a part failed. Answer in markdown."
)
MAX_PART_CHARS = 20_000


def run_state(subtasks: Sequence[Subtask]) -> RunState:
    """completed when every subtask completed, partial when some did, failed when none did."""
    done = sum(1 for subtask in subtasks if subtask.status == SubtaskState.COMPLETED)
    if subtasks and done == len(subtasks):
        return RunState.COMPLETED
    return RunState.PARTIAL if done else RunState.FAILED


def title_of(subtask: Subtask) -> str:
    return f"{subtask.title} ({subtask.key})" if subtask.title else subtask.key


def combine(subtasks: Sequence[Subtask]) -> str:
    """Every subtask's output under its title, in plan order; failures say why."""
    parts = []
    for subtask in sorted(subtasks, key=lambda row: row.position):
        parts.append(f"### {title_of(subtask)}\n\n{_body(subtask)}")
    return "\n\n".join(parts)


def _body(subtask: Subtask) -> str:
    """A prompt's text is markdown already; a program's output is shown as it printed it."""
    if subtask.status == SubtaskState.COMPLETED:
        text = (subtask.output or "").strip("\n")
        if not text.strip():
            return "_(no output)_"
        return text if subtask.kind == "prompt" else f"```text\n{text}\n```"
    reason = (subtask.error or "").strip().splitlines()
    last = reason[-1] if reason else "no reason recorded"
    return f"_{subtask.status.value}: {last}_"


def synthesis_prompt(command: str, subtasks: Sequence[Subtask]) -> str:
    """The one LLM call that writes the final answer from the subtask results."""
    results = []
    for subtask in sorted(subtasks, key=lambda row: row.position):
        results.append(f"<result id={subtask.key!r}>\n{_body(subtask)[:MAX_PART_CHARS]}\n</result>")
    joined = "\n".join(results)
    return f"Task: {command}\n\nResults of its subtasks:\n{joined}\n\nWrite the final answer."


def should_synthesize(subtasks: Sequence[Subtask]) -> bool:
    """Only a plan with prompt subtasks (text to reconcile) earns a synthesis call."""
    return any(subtask.kind == "prompt" for subtask in subtasks) and any(
        subtask.status == SubtaskState.COMPLETED for subtask in subtasks
    )
