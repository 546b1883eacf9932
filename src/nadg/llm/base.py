"""The one small async interface every LLM client offers, and the shared call loop."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from nadg.config import Settings
from nadg.errors import LLMBadOutput, LLMError, LLMRateLimited, LLMUnavailable
from nadg.llm.retry import CallFailure, FailureKind, RetryPolicy, call_with_retries
from nadg.llm.usage import UsageTracker
from nadg.protocol import TokenUsage

logger = logging.getLogger(__name__)

JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class Completion:
    """One model answer: its text, the tokens it used, how long it took, and which model."""

    text: str
    usage: TokenUsage
    latency_ms: float
    model: str


@dataclass(frozen=True)
class CompletionRequest:
    """What a client sends on one attempt, with every default already applied."""

    prompt: str
    system: str | None
    schema: JsonSchema | None
    temperature: float
    max_tokens: int
    timeout: float


@runtime_checkable
class LLMClient(Protocol):
    """Complete a prompt; close when done (also an async context manager)."""

    provider: str
    model: str

    async def complete(
        self,
        prompt: str,
        *,
        system: str | None = None,
        schema: JsonSchema | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> Completion: ...

    async def aclose(self) -> None: ...


_ERRORS: dict[FailureKind, type[LLMError]] = {
    FailureKind.RATE_LIMITED: LLMRateLimited,
    FailureKind.UNAVAILABLE: LLMUnavailable,
    FailureKind.BAD_OUTPUT: LLMBadOutput,
    FailureKind.FATAL: LLMError,
}


def redact(text: str, secret: str | None) -> str:
    """One line, at most 300 characters, with the key (if it ever shows up) masked."""
    if secret:
        text = text.replace(secret, "***")
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


class BaseLLMClient(ABC):
    """Defaults, budget checks, timeouts, retries and usage accounting; subclasses do one call."""

    provider: str = "llm"

    def __init__(self, settings: Settings, model: str, tracker: UsageTracker | None) -> None:
        self.model = model
        self._settings = settings
        self._policy = RetryPolicy.from_settings(settings)
        self.tracker = tracker if tracker is not None else UsageTracker(settings)

    async def complete(
        self,
        prompt: str,
        *,
        system: str | None = None,
        schema: JsonSchema | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> Completion:
        request = CompletionRequest(
            prompt=prompt,
            system=system,
            schema=schema,
            temperature=self._settings.llm_temperature if temperature is None else temperature,
            max_tokens=max_tokens or self._settings.llm_max_tokens,
            timeout=timeout or self._settings.llm_timeout,
        )
        self.tracker.check(request.prompt, request.system)
        started = time.monotonic()
        try:
            text, usage = await call_with_retries(
                lambda: self._attempt(request), self._policy, label=self.provider
            )
        except CallFailure as failure:
            error = _ERRORS[failure.kind]
            raise error(f"{self.provider} ({self.model}): {failure.message}") from failure
        latency_ms = (time.monotonic() - started) * 1000
        self.tracker.record(self.model, usage)
        return Completion(text=text, usage=usage, latency_ms=latency_ms, model=self.model)

    async def _attempt(self, request: CompletionRequest) -> tuple[str, TokenUsage]:
        """One call under the request's timeout; a timeout is an outage (retried)."""
        try:
            async with asyncio.timeout(request.timeout):
                return await self._call(request)
        except TimeoutError as exc:
            raise CallFailure(
                FailureKind.UNAVAILABLE, f"no answer within {request.timeout:g} s"
            ) from exc

    @abstractmethod
    async def _call(self, request: CompletionRequest) -> tuple[str, TokenUsage]:
        """One HTTP call; SDK errors are raised as CallFailure."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the SDK client and its connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider} model={self.model}>"
