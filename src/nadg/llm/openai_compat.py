"""OpenAI-compatible servers (OpenAI, Ollama, vLLM, llama.cpp, LM Studio) via the openai SDK."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from nadg.config import Settings
from nadg.errors import LLMNotConfigured
from nadg.llm.base import BaseLLMClient, CompletionRequest, JsonSchema, redact
from nadg.llm.retry import CallFailure, FailureKind, classify_status, parse_retry_after
from nadg.llm.usage import UsageTracker
from nadg.protocol import TokenUsage

logger = logging.getLogger(__name__)

# Local servers (Ollama, llama.cpp) accept any key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"


def translate_status_error(exc: openai.APIStatusError, secret: str | None) -> CallFailure:
    """An openai APIStatusError as a CallFailure: status class, one-line message, Retry-After."""
    retry_after = parse_retry_after(exc.response.headers.get("retry-after"), datetime.now(UTC))
    detail = redact(str(exc.message), secret)
    kind = classify_status(exc.status_code)
    return CallFailure(kind, f"HTTP {exc.status_code}: {detail}", retry_after=retry_after)


def response_format(schema: JsonSchema | None, structured: bool) -> dict[str, Any] | None:
    """Structured outputs (json_schema) where the server has them, else plain JSON mode."""
    if schema is None:
        return None
    if structured:
        return {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema, "strict": True},
        }
    return {"type": "json_object"}


def messages_for(request: CompletionRequest, structured: bool) -> list[ChatCompletionMessageParam]:
    """System and user messages; without structured outputs the schema goes in the system text."""
    system = request.system
    if request.schema is not None and not structured:
        rule = "Answer with one JSON object matching this JSON Schema, and nothing else:\n"
        system = f"{system or ''}\n\n{rule}{json.dumps(request.schema)}".strip()
    messages: list[ChatCompletionMessageParam] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": request.prompt})
    return messages


def parse_completion(response: ChatCompletion) -> tuple[str, TokenUsage]:
    """The first choice's text and the call's usage; BAD_OUTPUT when there is no text."""
    usage = TokenUsage()
    if response.usage is not None:
        usage = TokenUsage(
            input_tokens=response.usage.prompt_tokens or 0,
            output_tokens=response.usage.completion_tokens or 0,
        )
    if not response.choices or not response.choices[0].message.content:
        raise CallFailure(FailureKind.BAD_OUTPUT, "no text in the answer")
    return response.choices[0].message.content, usage


class OpenAICompatClient(BaseLLMClient):
    """`complete()` on POST {base_url}/chat/completions."""

    provider = "openai"

    def __init__(self, settings: Settings, tracker: UsageTracker | None = None) -> None:
        if settings.openai_api_key is None and not settings.openai_base_url:
            raise LLMNotConfigured(
                "OpenAI-compatible LLM is not configured: set OPENAI_API_KEY or "
                "NADG_OPENAI_BASE_URL"
            )
        super().__init__(settings, settings.openai_model, tracker)
        key = settings.openai_api_key
        self._secret = key.get_secret_value() if key else None
        self._client = openai.AsyncOpenAI(
            api_key=self._secret or PLACEHOLDER_KEY,
            base_url=settings.openai_base_url,
            max_retries=0,  # ours honour Retry-After and behave as for Gemini
            timeout=settings.llm_timeout + 5,
        )
        self._structured = True  # until the server refuses json_schema once

    async def _call(self, request: CompletionRequest) -> tuple[str, TokenUsage]:
        try:
            return await self._create(request)
        except openai.BadRequestError as exc:
            if request.schema is None or not self._structured or "response_format" not in str(exc):
                raise translate_status_error(exc, self._secret) from exc
            logger.info("%s refused json_schema; using JSON mode", self.model)
            self._structured = False
        try:
            return await self._create(request)
        except openai.APIStatusError as exc:
            raise translate_status_error(exc, self._secret) from exc

    async def _create(self, request: CompletionRequest) -> tuple[str, TokenUsage]:
        fmt = response_format(request.schema, self._structured)
        extra: dict[str, Any] = {"response_format": fmt} if fmt else {}
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=messages_for(request, self._structured),
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                timeout=request.timeout + 5,
                **extra,
            )
        except openai.BadRequestError:
            raise
        except openai.APIStatusError as exc:
            raise translate_status_error(exc, self._secret) from exc
        except openai.APIConnectionError as exc:  # includes APITimeoutError
            message = redact(f"{type(exc).__name__}: {exc}", self._secret)
            raise CallFailure(FailureKind.UNAVAILABLE, message) from exc
        return parse_completion(response)

    async def aclose(self) -> None:
        await self._client.close()
