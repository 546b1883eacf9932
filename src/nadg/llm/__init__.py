"""LLM clients (Gemini, OpenAI-compatible) behind one small async interface."""

from __future__ import annotations

from typing import Any

from nadg.config import Settings


def build_client(settings: Settings) -> Any | None:
    """The configured LLM client, or None when no LLM is configured. (Stub: the planner issue.)"""
    return None
