"""Schema-based fuzz of a real worker's API (schemathesis over its own OpenAPI): no 5xx, ever
(501, "no LLM here", is a refusal the protocol defines).

Valid and invalid requests are generated for every operation, with and without the token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from fixtures.worker import running_worker
from nadg.cluster import LocalCluster
from nadg.protocol import AUTH_HEADER

TOKEN = "fuzz-token-" + uuid.uuid4().hex
EXAMPLES = 25


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    # Short task timeouts so generated code cannot hold the fuzz up for long.
    env = {"NADG_MAX_TASK_TIMEOUT": "2", "NADG_MAX_BODY_BYTES": "65536"}
    args = ("--max-concurrency", "4")
    with running_worker(
        tmp_path_factory.mktemp("logs"), TOKEN, env=env, extra_args=args
    ) as cluster:
        yield cluster


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("authenticated", [True, False])
def test_no_server_errors(worker: LocalCluster, mode: GenerationMode, authenticated: bool) -> None:
    schema = schemathesis.openapi.from_url(f"{worker.urls[0]}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/execute", "/execute-python", "/status"}
    for operation in operations:
        if mode == GenerationMode.POSITIVE or operation.method.upper() == "POST":
            _fuzz(operation, mode, authenticated)  # a GET without parameters has no bad input


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, authenticated: bool) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        if authenticated:
            case.headers = {**(case.headers or {}), AUTH_HEADER: TOKEN}
        response = case.call(timeout=30)
        # 501 is the documented refusal of a prompt task on a worker without an LLM.
        assert response.status_code < 500 or response.status_code == 501, response.text
        if response.status_code >= 400 and response.status_code != 404:
            assert response.json()["error"], response.text

    check()
