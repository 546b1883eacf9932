"""The worker's HTTP API against real worker processes: shapes, auth, refusals, idempotency."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.worker import execute, headers, running_worker
from nadg.cluster import LocalCluster
from nadg.protocol import Health, Root, TaskResult, WorkerStatus

TOKEN = "api-test-token-" + uuid.uuid4().hex
MAX_BODY = 4096


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    env = {"NADG_MAX_BODY_BYTES": str(MAX_BODY), "NADG_MAX_TASK_TIMEOUT": "60"}
    args = ("--tag", "nlp", "--tag", "data")
    logs = tmp_path_factory.mktemp("logs")
    with running_worker(logs, TOKEN, max_concurrency=1, env=env, extra_args=args) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def url(worker: LocalCluster) -> str:
    return worker.urls[0]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0) as client:
        yield client


def test_read_endpoints_have_their_shapes(url: str, http: httpx.Client) -> None:
    root = Root.model_validate(http.get(f"{url}/").json())
    assert (root.status, root.service) == ("active", "NADG Worker Node")
    health = Health.model_validate(http.get(f"{url}/health").json())
    assert health.status == "healthy" and health.worker_id.startswith("wtest-")
    status = WorkerStatus.model_validate(http.get(f"{url}/status").json())
    assert status.capabilities[0] == "python" and {"nlp", "data"} <= set(status.capabilities)
    assert status.max_concurrency == 1 and status.isolation and status.isolation_layers
    assert status.network is False


def test_python_task_runs_with_context(url: str, http: httpx.Client) -> None:
    code = "print(context['a'] + context['b'])"
    response = execute(http, url, TOKEN, code, context={"a": "4", "b": "2"})
    result = TaskResult.model_validate(response.json())
    assert (result.status, result.stdout, result.return_code) == ("completed", "42\n", 0)
    assert result.worker_id.startswith("wtest-")


def test_failure_is_http_200_with_stderr(url: str, http: httpx.Client) -> None:
    result = execute(http, url, TOKEN, "raise ValueError('boom')").json()
    assert result["status"] == "failed" and result["return_code"] == 1
    assert "ValueError: boom" in result["stderr"] and 'File "<task>", line 1' in result["stderr"]
    assert execute(http, url, TOKEN, "exit(3)").json()["return_code"] == 3


def test_execute_python_accepts_code(url: str, http: httpx.Client) -> None:
    body = {"task_id": "legacy-1", "code": "print('seed')"}
    response = http.post(f"{url}/execute-python", json=body, headers=headers(TOKEN))
    assert response.json()["stdout"] == "seed\n"


def test_metrics(url: str, http: httpx.Client) -> None:
    execute(http, url, TOKEN, "print(1)")
    text = http.get(f"{url}/metrics").text
    assert 'nadg_worker_tasks_total{kind="python",status="completed"}' in text
    assert "nadg_worker_task_duration_seconds_bucket" in text
    assert "nadg_worker_running_tasks 0.0" in text


@pytest.mark.parametrize("path", ["/execute", "/execute-python"])
@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ({}, 401),
        ({"X-NADG-AUTH": "wrong"}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"X-NADG-AUTH": TOKEN}, 200),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
    ],
)
def test_auth(url: str, http: httpx.Client, path: str, sent: dict[str, str], code: int) -> None:
    body = {"task_id": f"auth-{uuid.uuid4().hex}", "task": "print(1)"}
    response = http.post(f"{url}{path}", json=body, headers=sent)
    assert response.status_code == code
    if code == 401:
        assert response.json()["error"] == "missing or wrong token"


def test_413_by_content_length_and_by_stream(url: str, http: httpx.Client) -> None:
    big = {"task_id": "big", "task": "x" * (MAX_BODY * 2)}
    response = http.post(f"{url}/execute", json=big, headers=headers(TOKEN))
    assert response.status_code == 413 and "limit" in response.json()["error"]

    def chunks() -> Iterator[bytes]:
        yield b'{"task_id": "big2", "task": "'
        for _ in range(8):
            yield b"x" * 1024
        yield b'"}'

    streamed = http.post(
        f"{url}/execute",
        content=chunks(),
        headers={**headers(TOKEN), "content-type": "application/json"},
    )
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        {"task_id": "k", "task": "print(1)", "kind": "bash"},
        {"task_id": "k", "task": "print(1)", "timeout": 0},
        {"task_id": "k", "task": "print(1)", "timeout": -1},
        {"task_id": "k", "task": "print(1)", "timeout": 61},
        {"task_id": "k"},
        {"task": "print(1)"},
        {"task_id": "bad id!", "task": "print(1)"},
        {"task_id": "k", "task": "print(1)", "extra": 1},
        {"task_id": "k", "task": "print(1)", "context": {"a": 1}},
        [],
    ],
)
def test_422_says_what_is_wrong(url: str, http: httpx.Client, body: object) -> None:
    response = http.post(f"{url}/execute", json=body, headers=headers(TOKEN))
    assert response.status_code == 422
    assert response.json()["error"]


def test_422_for_broken_json(url: str, http: httpx.Client) -> None:
    sent = {**headers(TOKEN), "content-type": "application/json"}
    response = http.post(f"{url}/execute", content=b'{"task_id": ', headers=sent)
    assert response.status_code == 422 and response.json()["error"]


def test_501_for_prompt_without_llm(url: str, http: httpx.Client) -> None:
    response = execute(http, url, TOKEN, "say hi", kind="prompt")
    assert response.status_code == 501 and "LLM" in response.json()["error"]


def test_429_when_busy_and_same_task_id_runs_once(url: str, http: httpx.Client) -> None:
    code = "import random, time\ntime.sleep(1.5)\nprint(random.random())"
    body = {"task_id": f"once-{uuid.uuid4().hex}", "task": code}
    before = http.get(f"{url}/status").json()["completed"]
    results: list[httpx.Response] = []
    first = threading.Thread(target=lambda: results.append(_post(url, body)))
    first.start()
    _wait_running(url, http)
    busy = execute(http, url, TOKEN, "print(1)")
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
    again = _post(url, body)  # the same task while it runs: waits for the same result
    first.join(timeout=30)
    later = _post(url, body)  # and after it finished: the remembered result
    assert again.json() == results[0].json() == later.json()
    assert http.get(f"{url}/status").json()["completed"] == before + 1


def _post(url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}/execute", json=body, headers=headers(TOKEN), timeout=30)


def _wait_running(url: str, http: httpx.Client) -> None:
    for _ in range(200):
        if http.get(f"{url}/status").json()["running"] == 1:
            return
        threading.Event().wait(0.02)
    raise AssertionError("the task never started")


def test_no_token_refuses_a_public_address(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "nadg", "worker", "--host", "0.0.0.0", "--port", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--insecure" in done.stderr


def test_open_worker_on_loopback(tmp_path: Path, http: httpx.Client) -> None:
    with running_worker(tmp_path, None) as cluster:
        result = execute(http, cluster.urls[0], None, "print(7)").json()
    assert result["stdout"] == "7\n"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NADG_")}
