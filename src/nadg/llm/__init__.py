"""LLM clients (Gemini, OpenAI-compatible) behind one small async interface."""

from __future__ import annotations

from typing import Literal

from nadg.config import Settings
from nadg.errors import LLMNotConfigured
from nadg.llm.base import BaseLLMClient, Completion, LLMClient
from nadg.llm.usage import UsageTotals, UsageTracker, estimate_cost

Provider = Literal["gemini", "openai"]


def resolve_provider(settings: Settings) -> Provider | None:
    """NADG_LLM_PROVIDER if set; else Gemini with a key; else OpenAI-compatible; else None."""
    if settings.llm_provider is not None:
        return settings.llm_provider
    if settings.gemini_api_key is not None:
        return "gemini"
    if settings.openai_base_url or settings.openai_api_key is not None:
        return "openai"
    return None


def make_client(
    settings: Settings, provider: Provider, *, tracker: UsageTracker | None = None
) -> BaseLLMClient:
    """A client for `provider`; LLMNotConfigured when its settings are missing."""
    # Imported here so `import nadg.llm` stays cheap for commands that never call a model.
    if provider == "gemini":
        from nadg.llm.gemini import GeminiClient

        return GeminiClient(settings, tracker)
    if provider == "openai":
        from nadg.llm.openai_compat import OpenAICompatClient

        return OpenAICompatClient(settings, tracker)
    raise LLMNotConfigured(f"unknown LLM provider {provider!r}: use gemini or openai")


def build_client(
    settings: Settings, *, tracker: UsageTracker | None = None
) -> BaseLLMClient | None:
    """The configured LLM client, or None when no LLM is configured. Close it with `aclose()`."""
    provider = resolve_provider(settings)
    if provider is None:
        return None
    return make_client(settings, provider, tracker=tracker)


__all__ = [
    "BaseLLMClient",
    "Completion",
    "LLMClient",
    "Provider",
    "UsageTotals",
    "UsageTracker",
    "build_client",
    "estimate_cost",
    "make_client",
    "resolve_provider",
]
