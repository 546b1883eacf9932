"""Hostile code against a real worker: each case is followed by a health check and a check that
no process of the task is left."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.worker import assert_clean, execute, running_worker
from nadg.cluster import LocalCluster

TOKEN = "hostile-test-token-" + uuid.uuid4().hex


@pytest.fixture(scope="module", params=["strongest", "no-bwrap"])
def worker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    """The strongest isolation this host has, then the fallback a host without bwrap gets."""
    env = {"NADG_SANDBOX_USE_BWRAP": "false"} if request.param == "no-bwrap" else {}
    with running_worker(tmp_path_factory.mktemp("logs"), TOKEN, env=env) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60.0) as client:
        yield client


@pytest.fixture(scope="module")
def status(worker: LocalCluster, http: httpx.Client) -> dict[str, object]:
    body: dict[str, object] = http.get(f"{worker.urls[0]}/status").json()
    return body


def require_other_user(status: dict[str, object], why: str) -> None:
    """Skip (with the reason) where tasks run as the worker's own user, with no bwrap."""
    layers = status["isolation_layers"]
    assert isinstance(layers, list)
    if "bwrap" not in layers and "uid" not in layers:
        pytest.skip(
            f"isolation here is {status['isolation']}: the task runs as the worker's user, {why}"
        )


def run(worker: LocalCluster, http: httpx.Client, code: str, timeout: float = 3.0) -> dict:
    response = execute(http, worker.urls[0], TOKEN, code, timeout=timeout)
    assert response.status_code == 200, response.text
    result: dict = response.json()
    assert http.get(f"{worker.urls[0]}/health").status_code == 200
    assert_clean(worker.workers[0].process.pid)
    return result


def test_infinite_loop_times_out(worker: LocalCluster, http: httpx.Client) -> None:
    result = run(worker, http, "while True:\n    pass\n", timeout=1.5)
    assert result["status"] == "timeout"
    assert "timeout" in result["stderr"]


def test_long_sleep_times_out(worker: LocalCluster, http: httpx.Client) -> None:
    result = run(worker, http, "import time\ntime.sleep(10**6)\n", timeout=1.0)
    assert result["status"] == "timeout"
    assert result["duration_ms"] < 5000


def test_fork_bomb_is_contained(
    worker: LocalCluster, http: httpx.Client, status: dict[str, object]
) -> None:
    require_other_user(status, "so the process limit would not hold a fork bomb")
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = run(worker, http, code, timeout=2.0)
    assert result["status"] in ("timeout", "failed")


def test_huge_allocation_fails(worker: LocalCluster, http: httpx.Client) -> None:
    result = run(worker, http, "x = bytearray(10 * 1024**3)\nprint(len(x))\n")
    assert result["status"] == "failed", result
    assert "MemoryError" in result["stderr"]


def test_100_mb_of_output_is_capped(worker: LocalCluster, http: httpx.Client) -> None:
    code = "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))\n"
    result = run(worker, http, code, timeout=30.0)
    assert result["status"] == "completed", result
    assert result["truncated"] is True
    assert len(result["stdout"]) < (1 << 20) + 200
    assert "output truncated" in result["stdout"]


def test_task_environment_is_clean(worker: LocalCluster, http: httpx.Client) -> None:
    result = run(worker, http, "import os\nprint(sorted(os.environ))\n")
    assert "NADG_AUTH_TOKEN" not in result["stdout"]
    assert TOKEN not in result["stdout"]


def test_environment_and_token_are_hidden(
    worker: LocalCluster, http: httpx.Client, status: dict[str, object]
) -> None:
    require_other_user(status, "which may read the worker's memory")
    code = (
        "import os, glob\n"
        "print(dict(os.environ))\n"
        "for path in glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        "        print(path, open(path, 'rb').read())\n"
        "    except OSError as exc:\n"
        "        print(path, exc)\n"
    )
    result = run(worker, http, code)
    assert result["status"] == "completed", result
    assert TOKEN not in result["stdout"] + result["stderr"]
    assert "NADG_AUTH_TOKEN" not in result["stdout"]


def test_network_is_off(
    worker: LocalCluster, http: httpx.Client, status: dict[str, object]
) -> None:
    if "network" not in status["isolation_layers"]:  # type: ignore[operator]
        pytest.skip(f"this host cannot isolate the network (isolation: {status['isolation']})")
    accepted: list[object] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5.0)
        port = server.getsockname()[1]
        thread = threading.Thread(target=_accept_one, args=(server, accepted), daemon=True)
        thread.start()
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        result = run(worker, http, code)
        thread.join(timeout=10)
    assert result["status"] == "failed", result
    assert "Error" in result["stderr"]
    assert accepted == []


def _accept_one(server: socket.socket, accepted: list[object]) -> None:
    try:
        connection, _ = server.accept()
    except OSError:
        return
    accepted.append(connection)
    connection.close()


def test_setsid_escapee_does_not_survive(worker: LocalCluster, http: httpx.Client) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(600)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    result = run(worker, http, code, timeout=20.0)
    assert result["status"] == "completed", result
    assert result["stdout"] == "parent done\n"
    assert result["duration_ms"] < 10_000  # the escapee's open stdout did not hold the task


def test_escapee_after_timeout_does_not_survive(worker: LocalCluster, http: httpx.Client) -> None:
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(600)\n"
    result = run(worker, http, code, timeout=1.0)
    assert result["status"] == "timeout"


def test_cannot_write_outside_its_tmp(
    worker: LocalCluster, http: httpx.Client, tmp_path: Path, status: dict[str, object]
) -> None:
    require_other_user(status, "whose files it may write")
    tmp_path.chmod(0o777)  # even a world-writable host directory is out of reach
    repo = Path(__file__).resolve().parents[2]
    targets = [tmp_path / "escape.txt", Path("/etc/nadg-escape"), repo / "escape.txt"]
    code = (
        "import tempfile\n"
        f"for path in {[str(t) for t in targets]!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('pwned')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
        "with tempfile.NamedTemporaryFile('w') as handle:\n"
        "    handle.write('fine')\n"
        "    print('tmp ok')\n"
    )
    result = run(worker, http, code)
    assert result["status"] == "completed", result["stderr"]
    assert "WROTE" not in result["stdout"]
    assert "tmp ok" in result["stdout"]
    for target in targets:
        assert not target.exists()
