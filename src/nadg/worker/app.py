"""The worker's HTTP API: `create_app(settings)` builds a FastAPI app whose lifespan detects the
sandbox, builds the LLM client, registers the worker when asked, and tears it all down."""

from __future__ import annotations

import hmac
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from nadg import __version__, llm
from nadg.config import Settings
from nadg.errors import NadgError, TaskRejected
from nadg.llm.base import LLMClient
from nadg.protocol import (
    AUTH_HEADER,
    ErrorBody,
    Health,
    PythonTaskRequest,
    Root,
    TaskKind,
    TaskRequest,
    TaskResult,
    WorkerStatus,
)
from nadg.worker.executors import Executor
from nadg.worker.http import BodyLimit, install_error_handlers
from nadg.worker.idempotency import IdempotencyCache
from nadg.worker.metrics import WorkerMetrics
from nadg.worker.sandbox import Sandbox, detect_gpu, detect_sandbox
from nadg.worker.service import WorkerService

logger = logging.getLogger(__name__)

REFUSALS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 413, 422, 429, 501)
}


@dataclass
class WorkerState:
    """Everything the routes need, built in the lifespan."""

    settings: Settings
    worker_id: str
    service: WorkerService
    sandbox: Sandbox
    capabilities: list[str]
    started: float
    llm: LLMClient | None = None


def default_worker_id(settings: Settings) -> str:
    return settings.worker_id or f"{socket.gethostname()}-{settings.port}"


def public_url(settings: Settings) -> str:
    """Where the master reaches this worker: the configured URL, the Space's, or host:port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if settings.space_host:
        return f"https://{settings.space_host}"
    return f"http://{settings.host}:{settings.port}"


MAX_DEFAULT_WARM = 16  # idle sandboxes cost memory and processes; more rarely buys latency


def warm_size(settings: Settings) -> int:
    """How many sandboxes to keep started ahead of demand: by default one per slot (at most 16)."""
    if settings.sandbox_warm >= 0:
        return settings.sandbox_warm
    return min(settings.max_concurrency, MAX_DEFAULT_WARM)


def capabilities(settings: Settings, gpu: bool, has_llm: bool) -> list[str]:
    found = ["python"] + (["gpu"] if gpu else []) + (["llm"] if has_llm else [])
    return found + [tag for tag in settings.tags if tag not in found]


async def build_state(settings: Settings) -> WorkerState:
    worker_id = default_worker_id(settings)
    sandbox = await detect_sandbox(settings)
    client = llm.build_client(settings)
    service = WorkerService(
        Executor(sandbox, client, worker_id),
        max_concurrency=settings.max_concurrency,
        cache=IdempotencyCache(settings.idempotency_entries, settings.idempotency_ttl),
        metrics=WorkerMetrics.create(),
    )
    caps = capabilities(settings, await detect_gpu(), client is not None)
    sandbox.warm_up(warm_size(settings))  # last: nothing may fail after it starts processes
    return WorkerState(settings, worker_id, service, sandbox, caps, time.monotonic(), client)


def status_of(state: WorkerState) -> WorkerStatus:
    counters = state.service.counters
    return WorkerStatus(
        worker_id=state.worker_id,
        version=__version__,
        capabilities=state.capabilities,
        running=state.service.running,
        max_concurrency=state.service.max_concurrency,
        completed=counters.completed,
        failed=counters.failed,
        isolation=state.sandbox.isolation,
        isolation_layers=list(state.sandbox.plan.layers),
        network=state.settings.allow_network,
    )


async def _register(state: WorkerState) -> None:
    from nadg.worker import registration  # the registry is heavy: only for --register

    url = public_url(state.settings)
    try:
        await registration.register_worker(state.settings, url, status_of(state))
    except NadgError as exc:
        logger.error("could not register at %s: %s", url, exc.message)


async def _shutdown(state: WorkerState) -> None:
    await state.service.close()
    await state.sandbox.close()
    if state.settings.register_self:
        from nadg.worker import registration

        try:
            await registration.unregister_worker(state.settings, public_url(state.settings))
        except NadgError as exc:
            logger.error("could not unregister: %s", exc.message)
    close = getattr(state.llm, "aclose", None)
    if close is not None:
        await close()


def create_app(settings: Settings) -> FastAPI:
    """The worker app; nothing is built until its lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await build_state(settings)
        app.state.worker = state
        logger.info(
            "worker %s ready: isolation %s, capabilities %s",
            state.worker_id, state.sandbox.isolation, ",".join(state.capabilities),
        )  # fmt: skip
        if settings.register_self:
            await _register(state)
        try:
            yield
        finally:
            await _shutdown(state)

    app = FastAPI(title="NADG Worker Node", version=__version__, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    _add_routes(app, settings)
    return app


def _state(request: Request) -> WorkerState:
    state: WorkerState = request.app.state.worker
    return state


State = Annotated[WorkerState, Depends(_state)]


def _presented_token(request: Request) -> str | None:
    if value := request.headers.get(AUTH_HEADER):
        return value
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials else None


def _authenticator(settings: Settings) -> Any:
    expected = settings.token()

    def authenticate(request: Request) -> None:
        if expected is None:
            return  # no token: the CLI keeps such a worker on loopback unless --insecure
        given = _presented_token(request)
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            raise TaskRejected("missing or wrong token", status_code=401)

    return authenticate


def _check_timeout(settings: Settings, timeout: float) -> None:
    if timeout > settings.max_task_timeout:
        raise TaskRejected(
            f"timeout {timeout:g} s is over this worker's limit of {settings.max_task_timeout:g} s",
            status_code=422,
        )


def _add_routes(app: FastAPI, settings: Settings) -> None:
    auth = [Depends(_authenticator(settings))]

    @app.get("/", response_model=Root)
    async def root() -> Root:
        return Root(timestamp=datetime.now(UTC))

    @app.get("/health", response_model=Health)
    async def health(state: State) -> Health:
        uptime = round(time.monotonic() - state.started, 3)
        return Health(worker_id=state.worker_id, uptime_s=uptime, timestamp=datetime.now(UTC))

    @app.get("/status", response_model=WorkerStatus)
    async def status(state: State) -> WorkerStatus:
        return status_of(state)

    @app.get("/metrics", response_class=Response)
    async def metrics(state: State) -> Response:
        body = state.service.metrics.render()
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/execute", response_model=TaskResult, dependencies=auth, responses=REFUSALS)
    async def execute(body: TaskRequest, state: State) -> TaskResult:
        _check_timeout(settings, body.timeout)
        return await state.service.execute(body)

    @app.post("/execute-python", response_model=TaskResult, dependencies=auth, responses=REFUSALS)
    async def execute_python(body: PythonTaskRequest, state: State) -> TaskResult:
        _check_timeout(settings, body.timeout)
        request = TaskRequest(kind=TaskKind.PYTHON, **body.model_dump())
        return await state.service.execute(request)
