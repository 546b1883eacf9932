"""Bad input gets one clear error (a NadgError), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from nadg.cli.run import parse_target
from nadg.config import Settings
from nadg.errors import ConfigError, InvalidInput
from nadg.planner import Plan, PlanSubtask, find_cycle, validate_plan


def chain(length: int) -> Plan:
    return Plan(
        subtasks=[
            PlanSubtask(id=f"s{i}", kind="python", task="print(1)",
                        depends_on=[f"s{i - 1}"] if i else [])
            for i in range(length)
        ]
    )  # fmt: skip


def test_a_long_chain_in_a_plan_file_is_checked_without_recursion() -> None:
    long = chain(5000)
    assert find_cycle(long) is None
    assert validate_plan(long, capabilities={"python"}, max_subtasks=None) is long
    looped = chain(5000).model_copy(deep=True)
    looped.subtasks[0].depends_on.append("s4999")
    cycle = find_cycle(looped)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == 5001


def test_a_setting_out_of_range_names_itself() -> None:
    with pytest.raises(ConfigError, match=r"invalid setting max_concurrency: .*greater than"):
        Settings.load(max_concurrency=0)
    assert isinstance(ConfigError(), InvalidInput)  # the CLI exits 2 for it: bad usage


def test_map_checks_its_target_before_sending(tmp_path: Path) -> None:
    module = tmp_path / "work.py"
    module.write_text("def square(x):\n    return x * x\n")
    assert parse_target(f"{module}:square")[1:] == ("square", module.read_text())
    with pytest.raises(InvalidInput, match="defines no top-level function 'cube'"):
        parse_target(f"{module}:cube")
    with pytest.raises(InvalidInput, match="cannot read"):
        parse_target(f"{tmp_path / 'missing.py'}:square")
    (tmp_path / "broken.py").write_text("def (:\n")
    with pytest.raises(InvalidInput, match=r"broken.py:1: "):
        parse_target(f"{tmp_path / 'broken.py'}:square")
