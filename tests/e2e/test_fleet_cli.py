"""`nadg workers`, `nadg db upgrade` and `nadg heartbeat` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nadg.cli import app
from nadg.cluster import LocalCluster, free_port


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def nadg(tmp_path: Path) -> Callable[..., Result]:
    """Run `nadg ARGS --db <a SQLite file>` in this process (Typer's runner): quick."""
    db = f"sqlite:///{tmp_path / 'fleet.db'}"

    def run(*args: str, db_url: str | None = None) -> Result:
        result = CliRunner().invoke(app, [*args, "--db", db_url or db])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def nadg_process(tmp_path: Path) -> Callable[..., Result]:
    """Run the real `python -m nadg ARGS --db URL` (the console entry point) as a process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NADG_")}
    env["NADG_HOME"] = str(tmp_path / "home")

    def run(*args: str, db_url: str) -> Result:
        command = [sys.executable, "-m", "nadg", *args, "--db", db_url]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        return Result(done.returncode, done.stdout, done.stderr)

    return run


def _workers(nadg: Callable[..., Result]) -> list[dict[str, object]]:
    listed = nadg("workers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    workers: list[dict[str, object]] = json.loads(listed.stdout)
    return workers


def test_add_list_drain_remove(
    nadg: Callable[..., Result],
    cluster_factory: Callable[..., LocalCluster],
) -> None:
    cluster = cluster_factory(1, max_concurrency=3)
    added = nadg("workers", "add", cluster.urls[0] + "/")
    assert added.returncode == 0, added.stderr
    assert "answered /status" in added.stdout
    again = nadg("workers", "add", cluster.urls[0], "--name", "laptop")
    assert again.returncode == 0 and "updated" in again.stdout
    down = f"http://127.0.0.1:{free_port()}"
    assert nadg("workers", "add", down, "-c", "python", "-c", "llm").returncode == 0

    workers = _workers(nadg)
    assert [w["vm_url"] for w in workers] == [cluster.urls[0], down]
    first = workers[0]
    assert {"id", "vm_url", "name", "status", "capabilities", "total_tasks", "failed_tasks",
            "last_ping", "uptime_24h"} <= set(first)  # fmt: skip
    assert first["max_concurrency"] == 3  # filled in from the worker's /status
    assert first["name"] == "laptop"
    assert "python" in first["capabilities"]  # type: ignore[operator]
    assert workers[1]["capabilities"] == ["python", "llm"]

    beat = nadg("heartbeat", "--json", "--timeout", "2")
    assert beat.returncode == 0, beat.stderr
    report = json.loads(beat.stdout)
    assert (report["checked"], report["ok"], report["failed"]) == (2, 1, 1)
    assert report["transitions"][0]["to"] == "offline"

    table = nadg("workers", "list")
    assert "laptop" in table.stdout and "s ago" in table.stdout and "%" in table.stdout
    assert nadg("workers", "drain", str(first["id"])).returncode == 0
    assert _workers(nadg)[0]["status"] == "draining"
    assert nadg("workers", "undrain", cluster.urls[0]).returncode == 0
    assert _workers(nadg)[0]["status"] == "active"
    assert nadg("workers", "remove", down).returncode == 0
    assert [w["vm_url"] for w in _workers(nadg)] == [cluster.urls[0]]


@pytest.mark.parametrize(
    "url", ["ftp://host:21", "not a url", "http://admin:hunter2@host:8000", "http://"]
)
def test_a_bad_url_is_one_line_and_writes_nothing(nadg: Callable[..., Result], url: str) -> None:
    result = nadg("workers", "add", url)
    assert result.returncode == 2
    assert result.stderr.startswith("nadg: error: invalid worker URL")
    assert result.stderr.count("\n") == 1
    assert "hunter2" not in result.stderr
    assert _workers(nadg) == []


@pytest.mark.parametrize("command", ["remove", "drain", "undrain"])
def test_an_unknown_worker_is_one_line(nadg: Callable[..., Result], command: str) -> None:
    result = nadg("workers", command, "42")
    assert result.returncode == 2
    assert result.stderr == "nadg: error: no worker '42' in the registry\n"


@pytest.mark.parametrize(
    "args",
    [("workers", "list"), ("workers", "add", "http://w:1"), ("heartbeat",), ("db", "upgrade")],
)
def test_an_unreachable_database_is_one_line_without_the_password(
    nadg: Callable[..., Result], args: tuple[str, ...]
) -> None:
    url = f"postgresql://nadg:pa55word@127.0.0.1:{free_port()}/nadg"
    result = nadg(*args, db_url=url)
    assert result.returncode == 1
    assert result.stderr.startswith("nadg: error: database unavailable")
    assert result.stderr.count("\n") == 1
    assert "pa55word" not in result.stderr


def test_the_console_entry_point_gives_one_line_errors(
    nadg_process: Callable[..., Result], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'fleet.db'}"
    bad = nadg_process("workers", "add", "http://admin:hunter2@host", db_url=db)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "nadg: error: invalid worker URL: credentials are not allowed in it\n"
    url = f"postgresql://nadg:pa55word@127.0.0.1:{free_port()}/nadg"
    down = nadg_process("heartbeat", "--json", db_url=url)
    assert down.returncode == 1
    assert down.stderr.startswith("nadg: error: database unavailable")
    assert down.stderr.count("\n") == 1 and "pa55word" not in down.stderr


def test_db_upgrade(nadg: Callable[..., Result]) -> None:
    first = nadg("db", "upgrade")
    assert first.returncode == 0 and "migrated" in first.stdout
    second = nadg("db", "upgrade")
    assert second.returncode == 0 and "already up to date" in second.stdout


def test_self_registration(
    tmp_path: Path, cluster_factory: Callable[..., LocalCluster],
    nadg: Callable[..., Result],
) -> None:  # fmt: skip
    db = f"sqlite:///{tmp_path / 'fleet.db'}"
    public = "https://my-space.hf.space"
    cluster = cluster_factory(
        1, extra_args=["--register", "--public-url", public, "--db", db], max_concurrency=2
    )
    (worker,) = _workers(nadg)
    assert (worker["vm_url"], worker["status"], worker["max_concurrency"]) == (public, "active", 2)
    assert worker["name"] == cluster.workers[0].worker_id
    cluster.stop()  # a clean shutdown: SIGTERM
    assert _workers(nadg)[0]["status"] == "offline"
