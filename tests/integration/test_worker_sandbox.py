"""The sandbox on this host, in-process: detection, the interpreter it runs, I/O and limits."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import REQUIRE_BWRAP
from nadg.config import Settings
from nadg.worker.sandbox import Sandbox, detect_sandbox


@pytest.fixture(params=["strongest", "strongest-warm", "no-bwrap"])
async def sandbox(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Sandbox]:
    """Each plan with a cold spawn per task, and the strongest with a warm pool of 2."""
    use_bwrap = request.param.startswith("strongest")
    found = await detect_sandbox(settings.model_copy(update={"sandbox_use_bwrap": use_bwrap}))
    found.warm_up(2 if request.param.endswith("-warm") else 0)
    try:
        yield found
    finally:
        await found.close()


async def test_runs_the_worker_interpreter_with_its_packages(sandbox: Sandbox) -> None:
    code = "import sys, pydantic\nprint(sys.version)\nprint(sys.flags.isolated)"
    outcome = await sandbox.run(code, {}, timeout=20)
    assert outcome.return_code == 0, outcome.stderr
    assert outcome.stdout.splitlines() == [sys.version.splitlines()[0], "1"]


async def test_context_stdin_and_unicode(sandbox: Sandbox) -> None:
    code = "import sys\nprint(context['k'], repr(sys.stdin.read()))"
    outcome = await sandbox.run(code, {"k": "héllo ✓"}, timeout=20)
    assert outcome.stdout == "héllo ✓ ''\n"


async def test_stderr_is_capped_too(settings: Settings) -> None:
    small = settings.model_copy(update={"sandbox_output_bytes": 1024})
    sandbox = await detect_sandbox(small)
    outcome = await sandbox.run("import sys\nsys.stderr.write('e' * 100000)", {}, timeout=20)
    assert outcome.truncated and outcome.stderr.startswith("e" * 1024 + "\n[nadg: output trunc")


async def test_runs_concurrently(sandbox: Sandbox) -> None:
    # Each task reports when it slept; all three sleeps must overlap (not a speed figure).
    code = "import time\nstart = time.time()\ntime.sleep(1)\nprint(start, time.time())"
    outcomes = await asyncio.gather(*(sandbox.run(code, {}, timeout=20) for _ in range(3)))
    spans = [tuple(map(float, outcome.stdout.split())) for outcome in outcomes]
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans


async def test_file_size_limit(settings: Settings) -> None:
    small = settings.model_copy(update={"sandbox_max_file_bytes": 1_000_000})
    sandbox = await detect_sandbox(small)
    code = "import tempfile\nwith tempfile.TemporaryFile() as f:\n    f.write(b'x' * 2_000_000)"
    outcome = await sandbox.run(code, {}, timeout=20)
    assert outcome.return_code != 0


async def test_an_interpreter_under_tmp_keeps_the_strongest_isolation(
    settings: Settings, tmp_path: Path
) -> None:
    # A CI checkout under /tmp has its venv there: the task's tmpfs /tmp must not hide it.
    strongest = await detect_sandbox(settings)
    link = tmp_path / "venv" / "bin" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(Path(settings.python_executable).resolve())
    moved = await detect_sandbox(settings.model_copy(update={"python_executable": link}))
    assert str(tmp_path).startswith("/tmp/")
    assert moved.isolation == strongest.isolation
    outcome = await moved.run("import sys\nprint(sys.executable)", {}, timeout=20)
    assert outcome.stdout.strip() == str(link), outcome.stderr


async def test_a_host_with_bubblewrap_gets_it(settings: Settings) -> None:
    if not REQUIRE_BWRAP:
        pytest.skip("NADG_TEST_REQUIRE_BWRAP is not set (CI sets it: it installs bubblewrap)")
    found = await detect_sandbox(settings)
    assert found.isolation.startswith("bwrap+"), found.isolation
