"""WorkerClient: the master's side of the worker protocol, over one pooled httpx client.

httpx errors never leave this module: they become WorkerUnreachable, WorkerServerError,
WorkerBusy or TaskRejected, and `is_worker_fault` / `is_retryable` say what each means.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from pydantic import ValidationError

from nadg.errors import (
    NadgError,
    TaskRejected,
    WorkerBusy,
    WorkerError,
    WorkerServerError,
    WorkerUnreachable,
)
from nadg.protocol import (
    AUTH_HEADER,
    Health,
    TaskRequest,
    TaskResult,
    WorkerStatus,
    parse_retry_after,
)

T = TypeVar("T", Health, WorkerStatus, TaskResult)


def is_worker_fault(exc: BaseException) -> bool:
    """Did the worker itself fail (so it should be marked offline)? Not for 429 or 4xx."""
    return isinstance(exc, WorkerUnreachable | WorkerServerError)


def is_retryable(exc: BaseException) -> bool:
    """May the same request go to another worker? Transport errors, 5xx and 429 only."""
    return isinstance(exc, WorkerUnreachable | WorkerServerError | WorkerBusy)


@dataclass(frozen=True)
class Probe:
    """One health probe: ok or not, how long it took, and why it failed."""

    ok: bool
    latency_ms: float
    error: str | None = None
    health: Health | None = None


class WorkerClient:
    """Talks to workers. Create one per entry point and pass it down; close it at the end."""

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        token: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=connect_timeout),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )
        self._token = token

    async def __aenter__(self) -> WorkerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        return {AUTH_HEADER: self._token} if self._token else {}

    async def _request(
        self, method: str, url: str, *, timeout: float, json: object | None = None
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method, url, json=json, headers=self._headers(), timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise WorkerUnreachable(f"{url}: no answer within {timeout:g} s", url=url) from exc
        except httpx.TransportError as exc:
            raise WorkerUnreachable(f"{url}: {type(exc).__name__}: {exc}", url=url) from exc
        _raise_for_status(response, url)
        return response

    async def health(self, base_url: str, *, timeout: float = 10.0) -> Health:
        response = await self._request("GET", _join(base_url, "/health"), timeout=timeout)
        return _parse(Health, response, base_url)

    async def status(self, base_url: str, *, timeout: float = 10.0) -> WorkerStatus:
        response = await self._request("GET", _join(base_url, "/status"), timeout=timeout)
        return _parse(WorkerStatus, response, base_url)

    async def probe(self, base_url: str, *, timeout: float = 10.0) -> Probe:
        """GET /health and never raise: the heartbeat records failures, it does not stop."""
        started = time.perf_counter()
        try:
            health = await self.health(base_url, timeout=timeout)
        except NadgError as exc:
            return Probe(False, _elapsed_ms(started), exc.message)
        return Probe(True, _elapsed_ms(started), None, health)

    async def execute(
        self, base_url: str, request: TaskRequest, *, slack: float = 10.0
    ) -> TaskResult:
        """POST /execute; waits the task's own timeout plus `slack` for the answer."""
        response = await self._request(
            "POST",
            _join(base_url, "/execute"),
            timeout=request.timeout + slack,
            json=request.model_dump(mode="json"),
        )
        return _parse(TaskResult, response, base_url)


def _join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return str(body)[:200]


def _raise_for_status(response: httpx.Response, url: str) -> None:
    code = response.status_code
    if code < 400:
        return
    text = f"{url}: HTTP {code}: {_error_text(response)}"
    if code == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        retry_after = 1.0 if retry_after is None else retry_after
        raise WorkerBusy(text, url=url, retry_after=retry_after)
    if code >= 500:
        raise WorkerServerError(text, url=url)
    raise TaskRejected(text, url=url, status_code=code)


def _parse(model: type[T], response: httpx.Response, url: str) -> T:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        # A body that is not ours: a proxy's error page or another service on that port.
        raise WorkerServerError(
            f"{url}: unexpected answer: {exc.errors()[0]['msg']}", url=url
        ) from exc


__all__ = [
    "Probe",
    "WorkerClient",
    "WorkerError",
    "is_retryable",
    "is_worker_fault",
]
