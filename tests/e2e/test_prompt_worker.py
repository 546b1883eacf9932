"""A real `nadg worker` process with an LLM configured (the stand-in) answering prompt subtasks."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fixtures.llm import GEMINI_KEY, OPENAI_KEY, PROVIDERS, LLMStandIn, Reply
from nadg.cluster import LocalCluster
from nadg.protocol import AUTH_HEADER


def llm_env(standin: LLMStandIn, provider: str) -> dict[str, str]:
    env = {"NADG_LLM_BACKOFF_BASE": "0.01", "NADG_LLM_BACKOFF_MAX": "0.05"}
    if provider == "gemini":
        return env | {"GEMINI_API_KEY": GEMINI_KEY, "NADG_GEMINI_BASE_URL": standin.url}
    return env | {"OPENAI_API_KEY": OPENAI_KEY, "NADG_OPENAI_BASE_URL": f"{standin.url}/v1"}


def execute(url: str, token: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}/execute", json=body, headers={AUTH_HEADER: token}, timeout=30)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_prompt_subtask_with_context_from_its_dependencies(
    cluster_factory: Callable[..., LocalCluster],
    llm_standin: LLMStandIn,
    token: str,
    provider: str,
) -> None:
    worker = cluster_factory(1, env=llm_env(llm_standin, provider)).workers[0]
    status = httpx.get(f"{worker.url}/status", timeout=10).json()
    assert "llm" in status["capabilities"]

    llm_standin.script(Reply(text="The sum is 45.", input_tokens=42, output_tokens=6))
    response = execute(
        worker.url,
        token,
        {
            "task_id": "run1:explain",
            "kind": "prompt",
            "task": "Explain the result in one sentence.",
            "timeout": 20,
            "context": {"sum": "45\n", "count": "10"},
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "completed"
    assert result["kind"] == "prompt"
    assert result["stdout"] == "The sum is 45."
    assert result["usage"] == {"input_tokens": 42, "output_tokens": 6}
    assert result["worker_id"] == worker.worker_id
    [sent] = llm_standin.requests
    assert sent.prompt.startswith("Explain the result in one sentence.")
    assert "### sum\n45" in sent.prompt
    assert "### count\n10" in sent.prompt


def test_an_llm_outage_is_a_failed_subtask_with_one_line_and_no_key(
    cluster_factory: Callable[..., LocalCluster], llm_standin: LLMStandIn, token: str
) -> None:
    env = llm_env(llm_standin, "gemini") | {"NADG_LLM_MAX_RETRIES": "1"}
    worker = cluster_factory(1, env=env).workers[0]
    llm_standin.script(Reply(status=503), Reply(status=503))
    response = execute(worker.url, token, {"task_id": "t1", "kind": "prompt", "task": "Hi"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "failed"
    assert "HTTP 503" in result["stderr"]
    assert "\n" not in result["stderr"]
    assert GEMINI_KEY not in response.text
    log = worker.log_path.read_text() if worker.log_path else ""
    assert GEMINI_KEY not in log


def test_a_worker_without_llm_settings_refuses_prompt_tasks(
    cluster_factory: Callable[..., LocalCluster], token: str
) -> None:
    worker = cluster_factory(1).workers[0]
    assert "llm" not in httpx.get(f"{worker.url}/status", timeout=10).json()["capabilities"]
    response = execute(worker.url, token, {"task_id": "t1", "kind": "prompt", "task": "Hi"})
    assert response.status_code == 501
