"""Gemini through the official google-genai SDK (its async API), with the SDK's retries off."""

from __future__ import annotations

import contextlib
import importlib
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from nadg.config import Settings
from nadg.errors import LLMNotConfigured
from nadg.llm.base import BaseLLMClient, CompletionRequest, redact
from nadg.llm.retry import CallFailure, FailureKind, classify_status, parse_retry_after
from nadg.llm.usage import UsageTracker
from nadg.protocol import TokenUsage

logger = logging.getLogger(__name__)


def transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level errors of the HTTP libraries the SDKs may use (httpx, httpx2)."""
    found: list[type[BaseException]] = [httpx.TransportError, OSError]
    with contextlib.suppress(ImportError, AttributeError):
        found.append(importlib.import_module("httpx2").TransportError)
    return tuple(found)


def _headers_of(exc: genai_errors.APIError) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None) or {}


def translate_api_error(exc: genai_errors.APIError, secret: str | None) -> CallFailure:
    """A google-genai APIError as a CallFailure: status class, one-line message, Retry-After."""
    code = int(exc.code or 0)
    retry_after = parse_retry_after(_headers_of(exc).get("retry-after"), datetime.now(UTC))
    detail = redact(exc.message or exc.status or "error", secret)
    return CallFailure(classify_status(code), f"HTTP {code}: {detail}", retry_after=retry_after)


def usage_of(response: types.GenerateContentResponse) -> TokenUsage:
    """Prompt tokens in; answer and thinking tokens out (both are billed as output)."""
    meta = response.usage_metadata
    if meta is None:
        return TokenUsage()
    output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    return TokenUsage(input_tokens=meta.prompt_token_count or 0, output_tokens=output)


def text_of(response: types.GenerateContentResponse) -> str:
    """The answer's text, or a BAD_OUTPUT failure saying why there is none (blocked, empty)."""
    text = response.text
    if text:
        return text
    reason = "no text in the answer"
    if response.prompt_feedback and response.prompt_feedback.block_reason:
        reason = f"the prompt was blocked ({response.prompt_feedback.block_reason})"
    elif response.candidates and response.candidates[0].finish_reason not in (None, "STOP"):
        finish = response.candidates[0].finish_reason
        reason = f"no text in the answer (finish reason {getattr(finish, 'value', finish)})"
    raise CallFailure(FailureKind.BAD_OUTPUT, reason)


class GeminiClient(BaseLLMClient):
    """`complete()` on Gemini's generateContent; structured output via `response_json_schema`."""

    provider = "gemini"

    def __init__(self, settings: Settings, tracker: UsageTracker | None = None) -> None:
        if settings.gemini_api_key is None:
            raise LLMNotConfigured("Gemini is not configured: set GEMINI_API_KEY")
        super().__init__(settings, settings.gemini_model, tracker)
        self._secret = settings.gemini_api_key.get_secret_value()
        # The SDK's own timeout is a backstop a little beyond ours (asyncio.timeout per call).
        options = types.HttpOptions(
            base_url=settings.gemini_base_url,
            timeout=int((settings.llm_timeout + 5) * 1000),
            retry_options=None,  # no SDK retries: ours honour Retry-After, the same for all
        )
        self._client = genai.Client(api_key=self._secret, http_options=options)
        self._transport_errors = transport_errors()

    def _config(self, request: CompletionRequest) -> types.GenerateContentConfig:
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
            http_options=types.HttpOptions(timeout=int((request.timeout + 5) * 1000)),
        )
        if request.schema is not None:
            config.response_mime_type = "application/json"
            config.response_json_schema = request.schema
        return config

    async def _call(self, request: CompletionRequest) -> tuple[str, TokenUsage]:
        try:
            response = await self._client.aio.models.generate_content(
                model=self.model, contents=request.prompt, config=self._config(request)
            )
        except genai_errors.APIError as exc:
            raise translate_api_error(exc, self._secret) from exc
        except self._transport_errors as exc:
            message = redact(f"{type(exc).__name__}: {exc}", self._secret)
            raise CallFailure(FailureKind.UNAVAILABLE, message) from exc
        return text_of(response), usage_of(response)

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
