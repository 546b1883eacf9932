"""The real google-genai and openai SDKs against the loopback stand-in: calls, retries, errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fixtures.llm import GEMINI_KEY, OPENAI_KEY, PROVIDERS, LLMStandIn, Reply
from nadg.config import Settings
from nadg.errors import LLMBadOutput, LLMError, LLMNotConfigured, LLMRateLimited, LLMUnavailable
from nadg.llm import BaseLLMClient, LLMClient, build_client, resolve_provider

pytestmark = pytest.mark.parametrize("provider", PROVIDERS)


def client_for(standin: LLMStandIn, provider: str, tmp_path: Path, **kw: object) -> BaseLLMClient:
    client = build_client(standin.settings(provider, tmp_path / "home", **kw))
    assert client is not None
    return client


async def test_complete_returns_text_usage_and_sends_what_was_asked(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text='{"ok": true}', input_tokens=120, output_tokens=30))
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    async with client_for(llm_standin, provider, tmp_path) as client:
        assert isinstance(client, LLMClient)
        completion = await client.complete(
            "Say ok", system="Be brief.", schema=schema, temperature=0.0, max_tokens=50
        )
    assert completion.text == '{"ok": true}'
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (120, 30)
    assert completion.latency_ms > 0
    assert completion.model == client.model
    sent = llm_standin.requests[-1]
    assert sent.model == client.model
    assert sent.prompt == "Say ok"
    assert "Be brief." in sent.system
    assert sent.schema == schema
    assert client.tracker.totals.total_tokens == 150


async def test_no_schema_means_no_json_mode(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text="plain words"))
    async with client_for(llm_standin, provider, tmp_path) as client:
        assert (await client.complete("Hello")).text == "plain words"
    assert llm_standin.requests[-1].schema is None


async def test_429_then_success_honours_retry_after(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(status=429, headers={"Retry-After": "0.3"}), Reply(text="done"))
    started = time.monotonic()
    async with client_for(llm_standin, provider, tmp_path, llm_backoff_max=1.0) as client:
        assert (await client.complete("x")).text == "done"
    assert time.monotonic() - started >= 0.3  # waited as told, not the 0.01 s backoff
    assert len(llm_standin.requests) == 2


async def test_a_retry_after_beyond_the_cap_is_not_waited_for(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(status=429, headers={"Retry-After": "3600"}), Reply(text="unused"))
    async with client_for(llm_standin, provider, tmp_path) as client:
        with pytest.raises(LLMRateLimited, match="asked to wait 3600 s"):
            await client.complete("x")
    assert len(llm_standin.requests) == 1


async def test_500_until_the_retries_run_out(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(*[Reply(status=503)] * 5)
    async with client_for(llm_standin, provider, tmp_path, llm_max_retries=2) as client:
        with pytest.raises(LLMUnavailable, match=r"HTTP 503.*gave up after 3 attempts"):
            await client.complete("x")
    assert len(llm_standin.requests) == 3


async def test_429_until_the_retries_run_out(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(*[Reply(status=429)] * 3)
    async with client_for(llm_standin, provider, tmp_path, llm_max_retries=1) as client:
        with pytest.raises(LLMRateLimited, match="HTTP 429"):
            await client.complete("x")
    assert len(llm_standin.requests) == 2


async def test_a_reply_slower_than_the_timeout(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text="late", delay=3), Reply(text="late", delay=3))
    started = time.monotonic()
    async with client_for(llm_standin, provider, tmp_path, llm_max_retries=1) as client:
        with pytest.raises(LLMUnavailable, match=r"no answer within 0.3 s"):
            await client.complete("x", timeout=0.3)
    assert time.monotonic() - started < 2.5
    assert len(llm_standin.requests) == 2


async def test_a_client_error_is_not_retried_and_keys_never_leak(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(status=401), Reply(text="unused"))
    client = client_for(llm_standin, provider, tmp_path)
    async with client:
        with pytest.raises(LLMError, match="HTTP 401") as info:
            await client.complete("x")
    assert len(llm_standin.requests) == 1
    for key in (GEMINI_KEY, OPENAI_KEY):
        assert key not in str(info.value)
        assert key not in repr(client)
        assert key not in repr(client.__dict__.get("_settings"))


async def test_an_answer_without_text_is_bad_output(
    llm_standin: LLMStandIn, provider: str, tmp_path: Path
) -> None:
    llm_standin.script(Reply(text=""))
    async with client_for(llm_standin, provider, tmp_path) as client:
        with pytest.raises(LLMBadOutput, match="no text"):
            await client.complete("x")


async def test_a_connection_refused_is_unavailable(provider: str, tmp_path: Path) -> None:
    dead = LLMStandIn()  # bound, never started: nobody accepts
    settings = dead.settings(provider, tmp_path, llm_max_retries=1)
    dead.stop_unstarted()
    async with build_client(settings) as client:  # type: ignore[union-attr]
        with pytest.raises(LLMUnavailable):
            await client.complete("x")


def test_provider_choice(provider: str, tmp_path: Path) -> None:
    assert resolve_provider(Settings(home=tmp_path)) is None
    assert build_client(Settings(home=tmp_path)) is None
    keyed = {"gemini": {"gemini_api_key": "k"}, "openai": {"openai_base_url": "http://x/v1"}}
    assert resolve_provider(Settings(home=tmp_path, **keyed[provider])) == provider
    both = Settings(home=tmp_path, gemini_api_key="k", openai_api_key="k", llm_provider=provider)
    assert resolve_provider(both) == provider
    with pytest.raises(LLMNotConfigured):
        build_client(Settings(home=tmp_path, llm_provider=provider))
