"""Bundled examples: plans that need no LLM and no network (the demo, tests, benchmarks)."""

from __future__ import annotations

from nadg.mapping import chunk_bounds
from nadg.planner import Plan, PlanSubtask
from nadg.protocol import TaskKind

# Trial division on purpose: plain CPU work that splits evenly and needs nothing installed.
COUNT_PRIMES = """\
def count_primes(lo, hi):
    found = 0
    for k in range(max(lo, 2), hi):
        if k < 4:
            found += 1
            continue
        if k % 2 == 0 or k % 3 == 0:
            continue
        i = 5
        while i * i <= k:
            if k % i == 0 or k % (i + 2) == 0:
                break
            i += 6
        else:
            found += 1
    return found
"""

COMBINE = """\
counts = {{key: int(value) for key, value in context.items()}}
total = sum(counts.values())
print(f"There are {{total:,}} primes below {limit:,}.")
for key in sorted(counts, key=lambda name: int(name.split("-")[1])):
    print(f"  {{key}}: {{counts[key]:,}}")
"""


def primes_plan(limit: int = 1_500_000, parts: int = 4) -> Plan:
    """Count the primes below `limit`: `parts` ranges in parallel, then one step adds them up."""
    subtasks = []
    for number, (lo, hi) in enumerate(chunk_bounds(limit, parts), 1):
        code = f"{COUNT_PRIMES}\nprint(count_primes({lo}, {hi}))\n"
        title = f"count primes in [{lo:,}, {hi:,})"
        subtasks.append(
            PlanSubtask(id=f"part-{number}", kind=TaskKind.PYTHON, task=code, title=title)
        )
    parts_ids = [subtask.id for subtask in subtasks]
    subtasks.append(
        PlanSubtask(
            id="total",
            kind=TaskKind.PYTHON,
            task=COMBINE.format(limit=limit),
            depends_on=parts_ids,
            title="add up the parts",
        )
    )
    return Plan(subtasks=subtasks)
